// Package interop holds agentcert's interoperability tests against
// independent implementations. It has no code of its own: its tests build
// the agentcert binary, run it (serve, present, verify) and drive the pinned
// sd-jwt-js packages in testdata/interop through testdata/interop/sdjwt-tool.mjs.
//
// Both directions are checked:
//
//   - agentcert issues (POST /v1/credentials) and presents (agentcert
//     present); sd-jwt-js verifies the signature, the digests, the KB-JWT
//     and its sd_hash, fetches and verifies agentcert's Status List Token,
//     and yields the claims agentcert's own verifier yields;
//   - sd-jwt-js issues with cnf key binding (nested objects, array
//     elements, decoys) and presents; agentcert verify --issuer-jwk and
//     POST /v1/verify (issuer trusted through config) accept it with the
//     same claims;
//   - status lists: each side's lst decodes on the other side to the same
//     statuses, for 1 and 2 bits per entry;
//   - tampered presentations (an altered disclosure, a KB-JWT for another
//     audience, sd_hash without the trailing "~", a repeated disclosure, an
//     old KB-JWT) fail on both sides. Where sd-jwt-js itself accepts (it does
//     not check the KB-JWT aud or iat age, nor repeated disclosures) the tests
//     pin that, the Node harness adds the check, and agentcert refuses on its
//     own.
//
// Setup: node (20 or later) on PATH and `npm ci` in testdata/interop
// (.ci/run does it). Without node the tests skip with a message; without
// node_modules they fail, saying what to run. The aries-framework-go checks
// live in the separate module testdata/interop/aries. docs/interop.md states
// what is and is not compatible with each implementation.
package interop
