// Package incident is the issuer's recourse layer: counterparties (reporter
// tokens) report an agent's action with the verification receipts their
// verifier signed as evidence, and auditors list, read and resolve the
// reports. A suspend or revoke decision goes through the issuer's status
// path (issuer.Statuses) with the incident as its reference; every step is
// in the hash-chained audit log.
//
// Report checks every receipt offline (receipt.Verify, with the verifier's
// key resolved through the guarded fetcher) and requires it to name a
// credential of this issuer, found by its status reference: the issuer,
// the status list URI and index, and the subject must all agree with the
// credential's record. A forged receipt is receipt_bad_signature, a
// malformed one receipt_malformed, one about another issuer's (or no)
// credential receipt_foreign.
//
// The lifecycle: open (reported) -> resolved (suspend, revoke or dismiss).
// The store refuses a second resolution, so two nodes cannot both resolve
// an incident. docs/incidents.md walks through an example.
package incident
