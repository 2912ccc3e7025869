// Package httpsig signs and verifies HTTP messages with HTTP Message
// Signatures (RFC 9421) and computes and checks Content-Digest (RFC 9530).
//
// It implements the part of RFC 9421 agentcert needs: the derived
// components (@method, @target-uri, @authority, @scheme, @request-target,
// @path, @query, @query-param, @status), HTTP fields with the key and req
// parameters, the signature parameters created, expires, nonce, alg, keyid
// and tag, and the algorithms ed25519 and ecdsa-p256-sha256. Structured
// field values (RFC 8941/9651) are parsed and serialized with
// github.com/dunglas/httpsfv; the signatures themselves are made and
// checked by lestrrat-go/jwx (RFC 9421's ed25519 and ecdsa-p256-sha256
// produce the same bytes as JWS EdDSA and ES256).
//
// Signing a request:
//
//	in, sig, err := httpsig.Sign(httpsig.Outgoing(req), "sig1",
//		httpsig.Components("@method", "@authority", "@path", "@query"),
//		httpsig.Params{Created: now, Expires: now.Add(time.Minute), KeyID: kid, Alg: httpsig.AlgEd25519},
//		key)
//	req.Header.Set("Signature-Input", in)
//	req.Header.Set("Signature", sig)
//
// Verifying one: parse the headers with Parse, choose the signature by its
// label or tag, look up the key its keyid names, then call Verify, which
// rebuilds the signature base and checks the signature. Time windows,
// nonces and which components must be covered are the caller's policy;
// Signature carries what is needed to decide them.
//
// Failures are *errcode.Error values with stable codes (sig_malformed,
// sig_invalid, ...), so that an HTTP layer can answer with them directly.
package httpsig
