package sdjwt

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// KeyFunc returns the issuer public key to verify the issuer-signed JWT
// with; iss is the unverified payload iss ("" when absent) and hdr the
// protected header. An error that carries an errcode code (for example
// did_resolution_failed or untrusted_issuer) is returned by Verify as is;
// any other error becomes key_not_found.
type KeyFunc = jose.KeyFunc

// VerifyOptions configures Verify and its steps.
type VerifyOptions struct {
	IssuerKey  KeyFunc                  // required
	Algorithms []jwa.SignatureAlgorithm // allow-list for the issuer JWT and the KB-JWT; default ES256, EdDSA. none and HS* are refused even if listed.
	AcceptTyp  []string                 // default {TypVC, TypVCLegacy}
	Now        func() time.Time         // default time.Now
	Leeway     time.Duration            // for exp/nbf/iat and a KB-JWT iat in the future
	RequireKB  bool
	Audience   string                   // expected KB aud (required whenever a KB-JWT is verified)
	Nonce      string                   // expected KB nonce; ignored when NonceCheck is set
	NonceCheck func(nonce string) error // optional custom nonce validation; its error is returned as is
	MaxKBAge   time.Duration            // how old a KB-JWT iat may be; default 5 minutes
	Verified   VerifiedCache            // optional: issuer-signed JWTs already verified (see VerifiedCache)
	Limits     Limits                   // zero value = DefaultLimits()
}

func (o *VerifyOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Result is a verified presentation.
type Result struct {
	Header      map[string]any // issuer JWT protected header
	Claims      map[string]any // processed payload: disclosed claims merged in, _sd/_sd_alg/undisclosed "..." removed (numbers as json.Number)
	Disclosures []*Disclosure  // every disclosure presented, in order
	KeyBinding  map[string]any // KB-JWT payload when a KB-JWT was verified, else nil
	// IssuerPayload is the issuer-signed payload before disclosures were
	// applied (digests in place). Read it to check which claims the issuer
	// made selectively disclosable; do not modify it.
	IssuerPayload map[string]any

	byDigest map[string]int // index in Disclosures by digest
	kbKey    jwk.Key        // the holder key the KB-JWT verified with
}

// KBKey returns the holder key (cnf.jwk, parsed) that the KB-JWT's
// signature verified with; nil when no KB-JWT was verified. Callers that
// compare the holder key with something else use it instead of parsing
// cnf.jwk again.
func (r *Result) KBKey() jwk.Key { return r.kbKey }

// Disclosure returns the presented disclosure whose digest is digest.
func (r *Result) Disclosure(digest string) (*Disclosure, bool) {
	i, ok := r.byDigest[digest]
	if !ok {
		return nil, false
	}
	return r.Disclosures[i], true
}

// Verify runs every step on a compact SD-JWT or SD-JWT+KB and returns the
// processed claims. The steps, in order, are Parse (malformed, too_large,
// disclosure_malformed), VerifyIssuer (unsupported_alg, wrong_typ,
// unknown_crit, bad_signature, expired, not_yet_valid), ProcessDisclosures
// and VerifyKeyBinding. A KB-JWT that is present is always verified, even
// when RequireKB is false.
func Verify(ctx context.Context, presentation string, opts VerifyOptions) (*Result, error) {
	t, err := Parse(presentation, opts.Limits)
	if err != nil {
		return nil, err
	}
	hdr, payload, err := t.VerifyIssuer(ctx, opts)
	if err != nil {
		return nil, err
	}
	claims, byDigest, err := processDisclosures(payload, t.Disclosures, t.limits)
	if err != nil {
		return nil, err
	}
	kb, err := t.VerifyKeyBinding(claims, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{Header: hdr, Claims: claims, Disclosures: t.Disclosures, KeyBinding: kb, IssuerPayload: payload, byDigest: byDigest}
	if kb != nil {
		res.kbKey = t.kbKey
	}
	return res, nil
}

// VerifyIssuer checks the issuer-signed JWT: alg on the allow-list (before
// any key lookup), typ accepted, no crit header, the signature with the key
// opts.IssuerKey returns, then exp, nbf and iat against opts.Now with
// opts.Leeway. It returns the protected header and the payload before
// disclosures are applied (do not modify them).
func (t *Token) VerifyIssuer(ctx context.Context, opts VerifyOptions) (header, payload map[string]any, err error) {
	alg, _ := t.header["alg"].(string)
	if !jose.Allowed(alg, opts.Algorithms) {
		return nil, nil, errcode.New(errcode.UnsupportedAlg, "issuer-signed JWT alg %q is not allowed", alg)
	}
	typ, _ := t.header["typ"].(string)
	accept := opts.AcceptTyp
	if len(accept) == 0 {
		accept = []string{TypVC, TypVCLegacy}
	}
	if !jose.TypIs(typ, accept...) {
		return nil, nil, errcode.New(errcode.WrongTyp, "issuer-signed JWT typ %q is not accepted", typ)
	}
	if _, ok := t.header["crit"]; ok {
		return nil, nil, errcode.New(errcode.UnknownCrit, "issuer-signed JWT has a crit header")
	}
	if opts.IssuerKey == nil {
		return nil, nil, errcode.New(errcode.Internal, "no issuer key function configured")
	}
	hdr, err := jose.HeadersOf(t.header, t.hdrJSON)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.Malformed, err, "issuer-signed JWT header has invalid members")
	}
	iss, ok := t.payload["iss"].(string)
	if _, present := t.payload["iss"]; present && !ok {
		return nil, nil, errcode.New(errcode.Malformed, "iss is not a string")
	}
	key, err := jose.LookupKey(ctx, opts.IssuerKey, iss, hdr, "credential")
	if err != nil {
		return nil, nil, err
	}
	var cacheKey string
	if opts.Verified != nil {
		cacheKey = VerifiedKey(t.IssuerJWT)
		if e, ok := opts.Verified.Get(cacheKey, key); ok && (e.IssuerKey == key || keyutil.SameKey(e.IssuerKey, key)) {
			if err := jose.CheckTimes(t.payload, opts.now(), opts.Leeway, errcode.Malformed); err != nil {
				return nil, nil, err
			}
			t.holder = e.Holder
			return t.header, t.payload, nil
		}
	}
	if err := jose.Verify(jwa.SignatureAlgorithm(alg), key, []byte(t.signingInput), t.signature); err != nil {
		return nil, nil, errcode.Wrap(errcode.BadSignature, err, "issuer signature does not verify")
	}
	if err := jose.CheckTimes(t.payload, opts.now(), opts.Leeway, errcode.Malformed); err != nil {
		return nil, nil, err
	}
	if opts.Verified != nil {
		t.holder = clearHolder(t.payload)
		opts.Verified.Put(cacheKey, VerifiedIssuerJWT{IssuerKey: key, Holder: t.holder})
	}
	return t.header, t.payload, nil
}

// VerifyKeyBinding checks the KB-JWT (RFC 9901 section 7.3) against the
// processed claims (for cnf.jwk). With no KB-JWT it returns kb_missing when
// opts.RequireKB is set and (nil, nil) otherwise. Checks, in order:
// kb_malformed, kb_wrong_typ, unsupported_alg, unknown_crit,
// kb_no_holder_key, kb_bad_signature, kb_stale (iat older than MaxKBAge or
// in the future beyond Leeway), kb_wrong_audience, kb_wrong_nonce,
// kb_sd_hash_mismatch. An empty opts.Audience, or an empty opts.Nonce
// without opts.NonceCheck, fails closed. It returns the KB-JWT payload.
func (t *Token) VerifyKeyBinding(claims map[string]any, opts VerifyOptions) (map[string]any, error) {
	return t.verifyKeyBinding(func() (jwk.Key, error) {
		if t.holder != nil { // the clear cnf.jwk, parsed or cached by VerifyIssuer
			t.kbKey = t.holder
			return t.holder, nil
		}
		k, err := HolderKey(claims)
		t.kbKey = k
		return k, err
	}, opts)
}

// verifyKeyBinding is VerifyKeyBinding with the holder key found by
// holderKey, called only once the KB-JWT's header has passed.
func (t *Token) verifyKeyBinding(holderKey func() (jwk.Key, error), opts VerifyOptions) (map[string]any, error) {
	if t.KBJWT == "" {
		if opts.RequireKB {
			return nil, errcode.New(errcode.KBMissing, "key binding is required and no KB-JWT was presented")
		}
		return nil, nil
	}
	lim := t.limits.withDefaults()
	h, p, s, ok := splitJWS(t.KBJWT)
	if !ok {
		return nil, errcode.New(errcode.KBMalformed, "KB-JWT is not a compact JWS")
	}
	hdr, err := decodeObject(h, lim.MaxDepth, errcode.KBMalformed, "KB-JWT header")
	if err != nil {
		return nil, err
	}
	payload, err := decodeObject(p, lim.MaxDepth, errcode.KBMalformed, "KB-JWT payload")
	if err != nil {
		return nil, err
	}
	sig, ok := decodeB64(s)
	if !ok && s != "" { // an empty signature ("none") is refused by the alg check
		return nil, errcode.New(errcode.KBMalformed, "KB-JWT signature is not base64url")
	}
	if typ, _ := hdr["typ"].(string); !jose.TypIs(typ, TypKB) {
		return nil, errcode.New(errcode.KBWrongTyp, "KB-JWT typ %q is not %s", typ, TypKB)
	}
	alg, _ := hdr["alg"].(string)
	if !jose.Allowed(alg, opts.Algorithms) {
		return nil, errcode.New(errcode.UnsupportedAlg, "KB-JWT alg %q is not allowed", alg)
	}
	if _, ok := hdr["crit"]; ok {
		return nil, errcode.New(errcode.UnknownCrit, "KB-JWT has a crit header")
	}
	holder, err := holderKey()
	if err != nil {
		return nil, err
	}
	if err := jose.Verify(jwa.SignatureAlgorithm(alg), holder, []byte(t.KBJWT[:len(h)+1+len(p)]), sig); err != nil {
		return nil, errcode.Wrap(errcode.KBBadSignature, err, "KB-JWT signature does not verify with cnf.jwk")
	}
	iat, ok := jose.NumericDate(payload["iat"])
	if !ok {
		return nil, errcode.New(errcode.KBMalformed, "KB-JWT iat is missing or not a NumericDate")
	}
	now := opts.now()
	maxAge := opts.MaxKBAge
	if maxAge <= 0 {
		maxAge = DefaultMaxKBAge
	}
	if now.Add(opts.Leeway).Before(iat) {
		return nil, errcode.New(errcode.KBStale, "KB-JWT issued in the future")
	}
	if iat.Before(now.Add(-maxAge - opts.Leeway)) {
		return nil, errcode.New(errcode.KBStale, "KB-JWT is older than %s", maxAge)
	}
	if opts.Audience == "" || !audienceMatches(payload["aud"], opts.Audience) {
		return nil, errcode.New(errcode.KBWrongAudience, "KB-JWT aud is not this verifier")
	}
	// sd_hash before the nonce: a NonceCheck may spend a single-use nonce,
	// and an altered copy of a presentation must not be able to.
	got, _ := payload["sd_hash"].(string)
	want := SDHash(t.sdHashInput)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return nil, errcode.New(errcode.KBSDHashMismatch, "KB-JWT sd_hash does not cover this presentation")
	}
	nonce, _ := payload["nonce"].(string)
	if opts.NonceCheck != nil {
		if err := opts.NonceCheck(nonce); err != nil {
			return nil, err
		}
	} else if opts.Nonce == "" || nonce != opts.Nonce {
		return nil, errcode.New(errcode.KBWrongNonce, "KB-JWT nonce is not the expected one")
	}
	return payload, nil
}

func audienceMatches(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		// RFC 7519 allows an array; accept it only when it names this
		// verifier alone, so a KB-JWT meant for several parties is refused.
		if len(a) == 1 {
			s, _ := a[0].(string)
			return s == want
		}
	}
	return false
}

// HolderKey returns the holder's public key from cnf.jwk of processed
// claims; kb_no_holder_key when it is absent, unparseable, symmetric or
// private.
func HolderKey(claims map[string]any) (jwk.Key, error) {
	cnf, _ := claims["cnf"].(map[string]any)
	raw, ok := cnf["jwk"].(map[string]any)
	if !ok {
		return nil, errcode.New(errcode.KBNoHolderKey, "the credential has no cnf.jwk")
	}
	if k, ok := simplePublicKey(raw); ok {
		return k, nil
	}
	b, err := marshalJSON(raw)
	if err != nil {
		return nil, errcode.Wrap(errcode.KBNoHolderKey, err, "cnf.jwk cannot be encoded")
	}
	key, err := jwk.ParseKey(b)
	if err != nil {
		return nil, errcode.Wrap(errcode.KBNoHolderKey, err, "cnf.jwk is not a valid JWK")
	}
	priv, err := jwk.IsPrivateKey(key)
	if err != nil {
		return nil, errcode.New(errcode.KBNoHolderKey, "cnf.jwk is not an asymmetric key")
	}
	if priv {
		return nil, errcode.New(errcode.KBNoHolderKey, "cnf.jwk carries private key material")
	}
	return key, nil
}
