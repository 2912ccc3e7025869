// Package sdjwt implements Selective Disclosure for JWTs (RFC 9901) in the
// compact serialization, with the SD-JWT VC header type, and nothing else:
// no network, no storage, no policy. Three verbs cover the life of a
// credential.
//
// # Issue
//
// The issuer names the claims that become selectively disclosable with
// JSON Pointers (RFC 6901) into the claims:
//
//	sdJWT, err := sdjwt.Issue(claims, []string{
//		"/permissions/*",      // every element of the array
//		"/principal",          // an object property...
//		"/principal/name",     // ...and a claim inside it (recursive)
//	}, issuerKey, &sdjwt.IssueOptions{Decoys: 4})
//
// Each disclosure gets a 128-bit salt; digests go into sorted _sd arrays
// or {"...": digest} array elements, the payload carries _sd_alg sha-256
// and the header typ dc+sd-jwt and the key's kid. The key is a private
// jwk.Key for ES256 (the default) or EdDSA. The result is
// "<JWT>~<D1>~...~<Dn>~".
//
// # Present
//
// The holder keeps the disclosures for the claims it chooses, addressed by
// JSON Pointers into the payload as it reads with everything disclosed, and
// may bind the presentation to a verifier's audience and nonce with a
// KB-JWT signed by the key named in cnf.jwk:
//
//	pres, err := sdjwt.Present(sdJWT, []string{"/permissions/0"},
//		&sdjwt.KBOptions{Key: holderKey, Audience: aud, Nonce: nonce})
//
// Disclosing a nested claim brings its parents' disclosures along.
//
// # Verify
//
// Verify runs every check and returns the processed claims:
//
//	res, err := sdjwt.Verify(ctx, pres, sdjwt.VerifyOptions{
//		IssuerKey: lookup,        // resolves the issuer key from iss and the header
//		RequireKB: true,
//		Audience:  aud,
//		Nonce:     nonce,         // or NonceCheck for single-use nonces
//		Now:       clock.Now,
//		Leeway:    30 * time.Second,
//	})
//
// The steps are exported and can be composed: Parse (size, count and depth
// limits, structure), (*Token).VerifyIssuer (alg allow-list before any key
// lookup, typ, crit, signature, exp/nbf/iat), ProcessDisclosures (RFC 9901
// section 7.1) and (*Token).VerifyKeyBinding (section 7.3). Only ES256 and
// EdDSA are accepted by default; "none" and HMAC are refused even when
// listed. A KB-JWT that is present is always checked, and it fails closed
// when no audience or nonce is configured.
//
// # Delegate
//
// Delegate SD-JWT (draft-gco-oauth-delegate-sd-jwt-00) chains a credential
// to delegates: the holder signs a KB-SD-JWT whose one delegate_payload
// element (a disclosure) names the next holder's cnf, linked to the
// credential by sd_hash (or issuer_jwt_hash); the delegate may delegate
// again, and presents with a final KB-JWT:
//
//	chain, err := sdjwt.Delegate(cred, hopClaims, sdjwt.DelegateOptions{Key: agentKey})
//	pres, err := sdjwt.PresentChain(chain, nil, &sdjwt.KBOptions{Key: delegateKey, Audience: aud, Nonce: nonce})
//	res, err := sdjwt.VerifyChain(ctx, pres, sdjwt.ChainOptions{VerifyOptions: opts})
//
// The compact form is <SD-JWT>~<KB-SD-JWT>~...~[<KB-JWT>] with "~~" between
// components; IsChain tells it from a plain SD-JWT. VerifyChain runs the
// draft's verification steps (ParseChain, the root as in Verify, VerifyHop
// for each KB-SD-JWT, the final KB-JWT); what a hop may grant is the
// verifier package's business. The draft's JSON serialization is not
// supported.
//
// # Errors
//
// Every failure is an *errcode.Error with a stable code, for example
// bad_signature, expired, disclosure_not_referenced, duplicate_digest,
// kb_sd_hash_mismatch or too_large; see package errcode. Tests pin the
// code of each rejection, and the order of checks is fixed: malformed
// input and limits first, then alg, typ, crit, signature, time,
// disclosures and key binding.
//
// # Conformance
//
// Digests are computed over each disclosure string exactly as received.
// Tests verify every RFC 9901 and SD-JWT VC example presentation to its
// published processed payload, check every published digest, and rebuild
// the published issuer payloads from the published disclosures. The JWS
// JSON serialization (RFC 9901 section 8) is not supported.
//
// JSON is decoded with a small strict decoder (numbers stay json.Number):
// duplicate member names, invalid UTF-8 and nesting beyond Limits.MaxDepth
// are rejected. All JOSE work (signing, verification, JWK parsing) goes
// through github.com/lestrrat-go/jwx/v2.
package sdjwt
