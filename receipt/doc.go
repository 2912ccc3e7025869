// Package receipt makes and checks verification receipts: JWTs that a
// verifier signs with its own key after every decision, so that what it
// checked and what it decided can be proven later, offline, by anyone.
//
// A receipt carries the members of an AP2 Mandate Receipt (iss, iat, jti,
// result, reference, error, error_description) and agentcert's own: the
// credential's issuer and identifier, the agent, its principal, the chain of
// subjects, the action, digests of the request object (JCS, RFC 8785) and of
// the policy in force, the decision and the status learned. Its header typ is
// Typ and its kid a DID URL of the verifier. docs/receipts.md lists every claim.
//
// Signing takes any crypto.Signer (NewSigner), so a KMS or HSM key can sign:
//
//	s, _ := receipt.NewSigner("did:web:shop.example", "did:web:shop.example#receipt-1", key)
//	jwt, _ := s.Sign(receipt.Claims{Result: receipt.Success, Reference: receipt.Reference(presentation)})
//
// Verify checks one offline, with a key function that finds the verifier's
// key (DIDKeys resolves the kid in the verifier's DID document; StaticKey
// pins one key). Failures carry the codes receipt_malformed,
// receipt_bad_signature and receipt_key_unavailable.
//
// A Sink receives every receipt a verifier makes (the counterparty's action
// log); FileSink appends them to a JSON-lines file with rotation and Search
// reads them back with filters.
package receipt
