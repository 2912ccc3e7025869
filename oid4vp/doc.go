// Package oid4vp is agentcert's OpenID for Verifiable Presentations 1.0
// core, with DCQL (package dcql): the verifier side, which makes
// authorization requests, serves their signed request objects and checks
// the responses, and the wallet side, which resolves a request, discloses
// the least that satisfies its query and builds the response. It has no
// HTTP router and no SQL: server/ translates HTTP to a Service, and the
// CLI (agentcert wallet present) does the wallet's fetching and posting.
//
// The flow, for a counterparty that wants an agent's certification:
//
//	counterparty  POST /v1/presentation-requests (DCQL, transaction data) -> Service.Create
//	agent         openid4vp:// link -> request_uri (signed request object)  -> Service.RequestObject
//	agent         ResolveRequest (signature, client_id prefix), Resolved.Answer
//	agent         direct_post(.jwt) to response_uri                          -> Service.Respond
//	counterparty  GET /v1/presentation-requests/{id}, once                   -> Service.Result
//
// Client identifiers: decentralized_identifier:<the verifier's DID>, with
// the request object (typ oauth-authz-req+jwt) signed by a key of its DID
// document, or redirect_uri:<response_uri> for an unsigned request passed
// by value. Response modes: direct_post, and direct_post.jwt, encrypted
// with ECDH-ES (A128GCM or A256GCM) to a key made for that one request.
//
// Each presentation is checked by the verifier (signature, key binding
// with aud = client_id and the request's nonce, status, trust, and the
// action when one was named), then the KB-JWT's transaction_data_hashes
// against the request's transaction data, then the whole response against
// the query (dcql.Query.Check): every requested claim disclosed, nothing
// disclosed that the query did not ask for. A person's approval of the
// action travels as agentcert_approval transaction data and comes back in
// the KB-JWT (approval.go; docs/approvals.md). A request expires, is closed
// by its first response with the right state, and its result is fetched
// once; the Store keeps requests (MemoryStore: in memory, never on disk).
package oid4vp
