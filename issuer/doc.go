// Package issuer certifies agents: it validates an issuance request against
// the credential type's JSON Schema and type metadata, draws a status list
// index, signs the SD-JWT VC with the active key, and records the credential
// (never its disclosures or salts) durably with an audit entry before
// answering.
//
// KeyRing holds the signing keys, encrypted at rest with AES-256-GCM under a
// key-encryption key, and rotates them; Statuses applies revocations,
// suspensions and reinstatements (revoked is final) and publishes the signed
// status lists. The package talks to storage through small interfaces (Store,
// KeyStore, StatusStore) and knows nothing of HTTP.
package issuer
