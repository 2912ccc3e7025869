// Package console is the auditor console: the web pages, served at /console
// with the issuer, through which people search credentials, suspend, revoke
// and reinstate them, run the kill switch (bulk revocation with a preview),
// read the audit log and its hash-chain check, resolve incidents and watch
// the dashboard.
//
// It is HTTP glue only. Every change goes through the services the JSON API
// uses (issuer.Statuses for status changes, incident.Service for
// resolutions), so a change made here is the same change, with the same
// checks and audit entries, as one made with curl.
//
// Sign-in exchanges an auditor or admin API token for a server-side session
// (a random id in an HttpOnly, SameSite=Strict cookie, Secure when the
// public URL is https) with an idle and an absolute expiry. The token's
// hash stays with the session and is looked up again on every request, so
// revoking the token ends the session. Issuer and reporter tokens cannot
// sign in; an admin token signs in read-only, since changing a status
// needs the auditor role, as in the API. Every change is a POST carrying
// the session's CSRF token.
//
// Pages are html/template, assets are embedded, no script runs, and the
// Content-Security-Policy allows nothing from anywhere but this origin.
package console
