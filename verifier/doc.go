// Package verifier checks agentcert presentations for counterparties: a
// service that an AI agent calls imports it to learn whether the agent's
// credential is genuine, bound to the agent, current, unrevoked and from an
// issuer it trusts, and whether the action the agent asks for is allowed.
//
// # Verifying
//
// A Policy says what is accepted. DefaultPolicy is the safe start: key
// binding required, ES256 and EdDSA only, status lists checked (a list that
// cannot be fetched fails the verification), claims whose withholding would
// widen authority required in clear. It trusts nobody: name each issuer and
// the credential types (vct) it is trusted for.
//
//	p := verifier.DefaultPolicy()
//	p.Trusted["did:web:issuer.example"] = []string{schemas.AgentCertificationV1}
//	v, err := verifier.New(p)
//
// New's defaults are the guarded fetcher (HTTPS only, no loopback, private
// or link-local addresses) and a caching DID resolver; options replace
// them (WithFetcher, WithResolver, WithCache, WithClock, WithNonces). A
// Verifier is stateless apart from its caches and safe for concurrent use,
// so any number of replicas can run side by side.
//
// Verify always returns a Result. Verified is true only when every step
// passed; otherwise Error carries the stable code of the first failing
// step (bad_signature, kb_wrong_nonce, revoked, untrusted_issuer, ...; see
// docs/errors.md). When the request names an action ("invoices:read"),
// Decision says whether a disclosed permission allows it; Allowed combines
// both.
//
// # Delegation chains
//
// A presentation may be a Delegate SD-JWT chain built on an agent
// certification (sdjwt.Delegate; docs/delegation.md). Verify takes it where
// it takes a presentation: the certification is checked as always, then
// each hop must only narrow its parent (CheckHop: permissions covered,
// constraints at least as strict, prohibitions carried, expiry within the
// parent's, lifetime and depth within Policy.MaxDelegationLifetime and
// Policy.MaxDelegationDepth), and the action is decided against the last
// hop's authority. Result.Chain lists the hops.
//
// # Serving
//
// Middleware guards a net/http handler: the agent sends its presentation in
// the Agent-Credential header, with a KB-JWT whose aud is the service's
// audience and whose nonce came from the service's Nonces (serve
// Nonces.Handler so that agents can get one). A nonce is spent only when
// everything else verified. Middleware checks its options when it is built.
//
// # Signed requests and per-agent terms
//
// With MiddlewareOptions.Channel (NewChannel) an agent presents once and then
// signs each request with HTTP Message Signatures (RFC 9421) under its cnf
// key, keyid = the key's RFC 7638 thumbprint; the channel keeps the verified
// presentation as a session and checks, per request, that the signed
// @authority is this service's (ChannelOptions.Authorities, by default the
// host of an https:// or http:// Audience), then one signature,
// Content-Digest, the time window and the nonce before authorizing the
// action.
// Policy.RateLimits (or MiddlewareOptions.Limits, NewRateLimiter) put token
// buckets per principal and per agent on classes of actions. The agent's
// side is package agentclient; docs/agent-channel.md has the details.
//
// # Offline inspection
//
// WithPinnedIssuerKey and WithAnyIssuer let the agentcert CLI inspect a
// credential without a trust list. A verifier built with either reports
// Inspecting, and Middleware and the agentcert service refuse it.
//
// # Examples
//
// example_test.go holds runnable examples of New, Verifier.Verify,
// Middleware and Nonces (go doc -http shows them with the API).
//
// # Wire format
//
// Request and Result are also the JSON body and answer of the service's
// POST /v1/verify (server/openapi.yaml), so a remote verification reads the same as
// an in-process one.
package verifier
