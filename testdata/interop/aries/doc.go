// Package aries checks agentcert against an independent Go implementation,
// hyperledger/aries-framework-go v0.3.2, from a module of its own so that
// the archived framework never enters agentcert's go.mod or binary.
//
// Run it from this directory (make test does):
//
//	go test -count=1 ./...
//
// What is checked, and what v0.3.2 cannot check (it implements the early
// SD-JWT drafts, not RFC 9901), is written down in docs/interop.md:
//
//   - its did:key resolver yields the same Ed25519 and P-256 public keys as
//     agentcert's did package, under the same verification method ids;
//   - its SD-JWT verifier accepts an SD-JWT signed by agentcert's sdjwt
//     package with object-property disclosures and no key binding, and
//     returns the claims agentcert's own verifier returns, once the header
//     typ is "JWT";
//   - it refuses the header typ dc+sd-jwt, array-element and recursive
//     disclosures, and the RFC 9901 KB-JWT (typ kb+jwt); the tests pin these
//     refusals so that the documentation stays true.
package aries
