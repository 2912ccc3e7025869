package sdjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Hostile and broken inputs, each built by signing a crafted payload with a
// test key through jwx, and the exact code Verify must answer.

const negNow = 1800000000

type fixture struct {
	issuer, issuerPub, holder, other jwk.Key
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{}
	f.issuer, f.issuerPub = testkeys.Pair(t, jwa.ES256, "issuer-1")
	f.holder, _ = testkeys.Pair(t, jwa.ES256, "holder-1")
	f.other, _ = testkeys.Pair(t, jwa.ES256, "other-1")
	return f
}

func (f *fixture) opts() VerifyOptions {
	return VerifyOptions{
		IssuerKey: staticKey(f.issuerPub),
		Now:       fixedClock(negNow),
		Audience:  "https://verifier.example",
		Nonce:     "n-0S6_WzA2Mj",
	}
}

// payload returns a valid issuer payload with a cnf.jwk for the holder.
func (f *fixture) payload(t testing.TB) map[string]any {
	return map[string]any{
		"iss":     "https://issuer.example",
		"iat":     negNow - 60,
		"exp":     negNow + 3600,
		"_sd_alg": "sha-256",
		"cnf":     map[string]any{"jwk": testkeys.PublicJWK(t, f.holder)},
	}
}

// cred signs payload with the issuer key and appends the disclosures.
func (f *fixture) cred(t testing.TB, payload map[string]any, discs ...string) string {
	return f.credWith(t, f.issuer, jwa.ES256, map[string]any{"typ": TypVC}, payload, discs...)
}

func (f *fixture) credWith(t testing.TB, key jwk.Key, alg jwa.SignatureAlgorithm, hdr, payload map[string]any, discs ...string) string {
	var b strings.Builder
	b.WriteString(testkeys.SignJWS(t, key, alg, hdr, payload))
	b.WriteByte('~')
	for _, d := range discs {
		b.WriteString(d)
		b.WriteByte('~')
	}
	return b.String()
}

// kb appends a KB-JWT; edit may change its header and payload first.
func (f *fixture) kb(t testing.TB, pres string, edit func(hdr, payload map[string]any)) string {
	return pres + f.kbJWT(t, f.holder, pres, edit)
}

func (f *fixture) kbJWT(t testing.TB, key jwk.Key, pres string, edit func(hdr, payload map[string]any)) string {
	hdr := map[string]any{"typ": TypKB}
	payload := map[string]any{
		"iat":     negNow - 5,
		"aud":     "https://verifier.example",
		"nonce":   "n-0S6_WzA2Mj",
		"sd_hash": SDHash(pres),
	}
	if edit != nil {
		edit(hdr, payload)
	}
	return testkeys.SignJWS(t, key, jwa.ES256, hdr, payload)
}

// unsigned builds a compact JWS with the given header and an empty signature.
func unsigned(t testing.TB, hdr, payload any) string {
	h, _ := json.Marshal(hdr)
	p, _ := json.Marshal(payload)
	return b64.EncodeToString(h) + "." + b64.EncodeToString(p) + "."
}

func nested(depth int) any {
	var v any = "leaf"
	for i := 0; i < depth; i++ {
		v = map[string]any{"n": v}
	}
	return v
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	given := disc(t, "c2FsdHNhbHRzYWx0", "given_name", "Erika")
	givenArr := disc(t, "c2FsdHNhbHRzYWx0", "Erika")
	withSD := func(extra map[string]any) map[string]any {
		p := f.payload(t)
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	valid := f.cred(t, withSD(map[string]any{"_sd": []any{SDHash(given)}}), given)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	es384, _ := jwk.FromRaw(p384)
	hmacKey, _ := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
	octCnf := map[string]any{"kty": "oct", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}
	privCnf := map[string]any{}
	{
		b, _ := json.Marshal(f.holder)
		_ = json.Unmarshal(b, &privCnf)
	}

	cases := []struct {
		name string
		pres func() string
		opts func(*VerifyOptions)
		want errcode.Code
	}{
		// Parse: size, structure.
		{"too_large/size", func() string { return valid }, func(o *VerifyOptions) { o.Limits.MaxPresentationBytes = 100 }, errcode.TooLarge},
		{"too_large/count", func() string {
			d2 := disc(t, "c2FsdDI", "family_name", "M")
			return f.cred(t, withSD(map[string]any{"_sd": []any{SDHash(given), SDHash(d2)}}), given, d2)
		}, func(o *VerifyOptions) { o.Limits.MaxDisclosures = 1 }, errcode.TooLarge},
		{"too_large/payload_depth", func() string { return f.cred(t, withSD(map[string]any{"deep": nested(40)})) }, nil, errcode.TooLarge},
		{"too_large/disclosure_depth", func() string {
			d := disc(t, "c2FsdA", "deep", nested(40))
			return f.cred(t, withSD(map[string]any{"_sd": []any{SDHash(d)}}), d)
		}, nil, errcode.TooLarge},
		{"too_large/processed_depth", func() string {
			d := disc(t, "c2FsdA", "b", map[string]any{"c": map[string]any{"d": 1}})
			return f.cred(t, withSD(map[string]any{"a": map[string]any{"_sd": []any{SDHash(d)}}}), d)
		}, func(o *VerifyOptions) { o.Limits.MaxDepth = 3 }, errcode.TooLarge},
		{"malformed/no_tilde", func() string { return strings.TrimSuffix(valid, "~"+given+"~") }, nil, errcode.Malformed},
		{"malformed/json_serialization", func() string { return `{"payload":"e30","protected":"e30","signature":"AA"}` }, nil, errcode.Malformed},
		{"malformed/two_parts", func() string { return "eyJhbGciOiJFUzI1NiJ9.e30~" }, nil, errcode.Malformed},
		{"malformed/four_parts", func() string { return "e30.e30.AA.AA~" }, nil, errcode.Malformed},
		{"malformed/header_not_b64", func() string { return "e3!.e30.AA~" }, nil, errcode.Malformed},
		{"malformed/header_not_json", func() string { return b64.EncodeToString([]byte("alg")) + ".e30.AA~" }, nil, errcode.Malformed},
		{"malformed/header_trailing", func() string { return b64.EncodeToString([]byte(`{"alg":"ES256"} {}`)) + ".e30.AA~" }, nil, errcode.Malformed},
		{"malformed/payload_array", func() string { return "e30." + b64.EncodeToString([]byte("[1]")) + ".AA~" }, nil, errcode.Malformed},
		{"malformed/signature_not_b64", func() string { return "e30.e30.A+A~" }, nil, errcode.Malformed},
		{"malformed/empty_disclosure", func() string { return strings.Replace(valid, "~", "~~", 1) }, nil, errcode.Malformed},
		{"malformed/exp_type", func() string { return f.cred(t, withSD(map[string]any{"exp": "tomorrow"})) }, nil, errcode.Malformed},
		{"malformed/iss_type", func() string { return f.cred(t, withSD(map[string]any{"iss": 7})) }, nil, errcode.Malformed},
		{"malformed/kid_type", func() string {
			return unsigned(t, map[string]any{"alg": "ES256", "typ": TypVC, "kid": 42}, f.payload(t)) + "~"
		}, nil, errcode.Malformed},

		// Disclosure structure.
		{"disclosure_malformed/not_b64", func() string { return valid + "!!!~" }, nil, errcode.DisclosureMalformed},
		{"disclosure_malformed/padding", func() string { return valid + given + "=~" }, nil, errcode.DisclosureMalformed},
		{"disclosure_malformed/not_json", func() string { return valid + b64.EncodeToString([]byte("salt,name")) + "~" }, nil, errcode.DisclosureMalformed},
		{"disclosure_malformed/object", func() string { return valid + b64.EncodeToString([]byte(`{"a":1}`)) + "~" }, nil, errcode.DisclosureMalformed},
		{"disclosure_malformed/one_element", func() string { return valid + disc(t, "salt") + "~" }, nil, errcode.DisclosureMalformed},
		{"disclosure_malformed/four_elements", func() string { return valid + disc(t, "salt", "n", "v", "x") + "~" }, nil, errcode.DisclosureMalformed},
		{"disclosure_malformed/salt_not_string", func() string { return valid + disc(t, 1, "n", "v") + "~" }, nil, errcode.DisclosureMalformed},
		{"disclosure_malformed/name_not_string", func() string { return valid + disc(t, "salt", 1, "v") + "~" }, nil, errcode.DisclosureMalformed},
		{"disclosure_malformed/trailing", func() string { return valid + b64.EncodeToString([]byte(`["s","v"]x`)) + "~" }, nil, errcode.DisclosureMalformed},

		// Issuer JWT header.
		{"unsupported_alg/none", func() string {
			return unsigned(t, map[string]any{"alg": "none", "typ": TypVC}, f.payload(t)) + "~"
		}, nil, errcode.UnsupportedAlg},
		{"unsupported_alg/none_listed", func() string {
			return unsigned(t, map[string]any{"alg": "none", "typ": TypVC}, f.payload(t)) + "~"
		}, func(o *VerifyOptions) { o.Algorithms = []jwa.SignatureAlgorithm{jwa.NoSignature, jwa.ES256} }, errcode.UnsupportedAlg},
		{"unsupported_alg/hs256_listed", func() string {
			return f.credWith(t, hmacKey, jwa.HS256, map[string]any{"typ": TypVC}, f.payload(t))
		}, func(o *VerifyOptions) {
			o.Algorithms = []jwa.SignatureAlgorithm{jwa.HS256, jwa.ES256}
			o.IssuerKey = staticKey(hmacKey)
		}, errcode.UnsupportedAlg},
		{"unsupported_alg/not_listed", func() string {
			return f.credWith(t, es384, jwa.ES384, map[string]any{"typ": TypVC}, f.payload(t))
		}, nil, errcode.UnsupportedAlg},
		{"unsupported_alg/missing", func() string { return unsigned(t, map[string]any{"typ": TypVC}, f.payload(t)) + "~" }, nil, errcode.UnsupportedAlg},
		{"unsupported_alg/before_typ", func() string { return unsigned(t, map[string]any{"alg": "none", "typ": "JWT"}, f.payload(t)) + "~" }, nil, errcode.UnsupportedAlg},
		{"wrong_typ/jwt", func() string { return f.credWith(t, f.issuer, jwa.ES256, map[string]any{"typ": "JWT"}, f.payload(t)) }, nil, errcode.WrongTyp},
		{"wrong_typ/missing", func() string { return f.credWith(t, f.issuer, jwa.ES256, nil, f.payload(t)) }, nil, errcode.WrongTyp},
		{"wrong_typ/example_by_default", func() string {
			return f.credWith(t, f.issuer, jwa.ES256, map[string]any{"typ": "example+sd-jwt"}, f.payload(t))
		}, nil, errcode.WrongTyp},
		{"wrong_typ/kb_typ", func() string { return f.credWith(t, f.issuer, jwa.ES256, map[string]any{"typ": TypKB}, f.payload(t)) }, nil, errcode.WrongTyp},
		{"wrong_typ/not_accepted", func() string { return valid }, func(o *VerifyOptions) { o.AcceptTyp = []string{"example+sd-jwt"} }, errcode.WrongTyp},
		{"unknown_crit", func() string {
			return f.credWith(t, f.issuer, jwa.ES256, map[string]any{"typ": TypVC, "crit": []string{"exp"}}, f.payload(t))
		}, nil, errcode.UnknownCrit},

		// Signature and key.
		{"bad_signature/other_key", func() string { return f.credWith(t, f.other, jwa.ES256, map[string]any{"typ": TypVC}, f.payload(t)) }, nil, errcode.BadSignature},
		{"bad_signature/tampered_payload", func() string {
			parts := strings.SplitN(valid, ".", 3)
			p := f.payload(t)
			p["iss"] = "https://evil.example"
			b, _ := json.Marshal(p)
			return parts[0] + "." + b64.EncodeToString(b) + "." + parts[2]
		}, nil, errcode.BadSignature},
		{"bad_signature/truncated", func() string {
			i := strings.IndexByte(valid, '~')
			return valid[:i-4] + valid[i:]
		}, nil, errcode.BadSignature},
		{"bad_signature/key_alg_mismatch", func() string { return valid }, func(o *VerifyOptions) {
			_, edPub := testkeys.Pair(t, jwa.EdDSA, "ed")
			o.IssuerKey = staticKey(edPub)
		}, errcode.BadSignature},
		{"bad_signature/before_disclosures", func() string {
			r := disc(t, "salt", "_sd", "x")
			return f.credWith(t, f.other, jwa.ES256, map[string]any{"typ": TypVC}, withSD(map[string]any{"_sd": []any{SDHash(r)}}), r)
		}, nil, errcode.BadSignature},
		{"malformed/kid_not_a_string", func() string {
			return unsigned(t, map[string]any{"alg": "ES256", "typ": TypVC, "kid": 7}, f.payload(t)) + "~"
		}, nil, errcode.Malformed},
		{"kid_reaches_key_lookup", func() string {
			return unsigned(t, map[string]any{"alg": "ES256", "typ": TypVC, "kid": "k-7", "x-extra": 1}, f.payload(t)) + "~"
		}, func(o *VerifyOptions) {
			o.IssuerKey = func(_ context.Context, _ string, h jws.Headers) (jwk.Key, error) {
				if v, _ := h.Get("x-extra"); h.KeyID() != "k-7" || v != 1.0 {
					return nil, errcode.New(errcode.UntrustedIssuer, "header kid %q x-extra %v", h.KeyID(), v)
				}
				return nil, errors.New("seen")
			}
		}, errcode.KeyNotFound},
		{"key_not_found/plain_error", func() string { return valid }, func(o *VerifyOptions) {
			o.IssuerKey = func(context.Context, string, jws.Headers) (jwk.Key, error) { return nil, errors.New("boom") }
		}, errcode.KeyNotFound},
		{"key_not_found/nil_key", func() string { return valid }, func(o *VerifyOptions) {
			o.IssuerKey = func(context.Context, string, jws.Headers) (jwk.Key, error) { return nil, nil }
		}, errcode.KeyNotFound},
		{"untrusted_issuer/passed_through", func() string { return valid }, func(o *VerifyOptions) {
			o.IssuerKey = func(context.Context, string, jws.Headers) (jwk.Key, error) {
				return nil, errcode.New(errcode.UntrustedIssuer, "no")
			}
		}, errcode.UntrustedIssuer},

		// Time.
		{"expired", func() string { return f.cred(t, withSD(map[string]any{"exp": negNow - 1})) }, nil, errcode.Expired},
		{"expired/at_exp", func() string { return f.cred(t, withSD(map[string]any{"exp": negNow})) }, nil, errcode.Expired},
		{"expired/beyond_leeway", func() string { return f.cred(t, withSD(map[string]any{"exp": negNow - 61})) }, func(o *VerifyOptions) { o.Leeway = time.Minute }, errcode.Expired},
		{"not_yet_valid/nbf", func() string { return f.cred(t, withSD(map[string]any{"nbf": negNow + 120})) }, func(o *VerifyOptions) { o.Leeway = time.Minute }, errcode.NotYetValid},
		{"not_yet_valid/iat", func() string { return f.cred(t, withSD(map[string]any{"iat": negNow + 120})) }, nil, errcode.NotYetValid},

		// Disclosures (RFC 9901 section 7.1).
		{"disclosure_not_referenced", func() string { return f.cred(t, f.payload(t), given) }, nil, errcode.DisclosureNotReferenced},
		{"duplicate_digest/in_sd", func() string {
			return f.cred(t, withSD(map[string]any{"_sd": []any{SDHash(given), SDHash(given)}}), given)
		}, nil, errcode.DuplicateDigest},
		{"duplicate_digest/undisclosed", func() string { return f.cred(t, withSD(map[string]any{"_sd": []any{"abc", "abc"}})) }, nil, errcode.DuplicateDigest},
		{"duplicate_digest/sd_and_array", func() string {
			return f.cred(t, withSD(map[string]any{"_sd": []any{"abc"}, "list": []any{map[string]any{"...": "abc"}}}))
		}, nil, errcode.DuplicateDigest},
		{"duplicate_digest/inside_disclosure", func() string {
			inner := disc(t, "c2FsdA", "street", "Main St")
			outer := disc(t, "c2FsdDI", "address", map[string]any{"_sd": []any{SDHash(inner)}})
			return f.cred(t, withSD(map[string]any{"_sd": []any{SDHash(outer), SDHash(inner)}}), outer, inner)
		}, nil, errcode.DuplicateDigest},
		{"duplicate_disclosure", func() string { return valid + given + "~" }, nil, errcode.DuplicateDisclosure},
		{"reserved_claim_name/_sd", func() string {
			r := disc(t, "c2FsdA", "_sd", []any{"x"})
			return f.cred(t, withSD(map[string]any{"_sd": []any{SDHash(r)}}), r)
		}, nil, errcode.ReservedClaimName},
		{"reserved_claim_name/ellipsis", func() string {
			r := disc(t, "c2FsdA", "...", "x")
			return f.cred(t, withSD(map[string]any{"_sd": []any{SDHash(r)}}), r)
		}, nil, errcode.ReservedClaimName},
		{"claim_exists/clear", func() string {
			return f.cred(t, withSD(map[string]any{"given_name": "Max", "_sd": []any{SDHash(given)}}), given)
		}, nil, errcode.ClaimExists},
		{"claim_exists/disclosed_twice", func() string {
			other := disc(t, "b3RoZXI", "given_name", "Max")
			return f.cred(t, withSD(map[string]any{"_sd": []any{SDHash(given), SDHash(other)}}), given, other)
		}, nil, errcode.ClaimExists},
		{"disclosure_wrong_position/array_in_sd", func() string { return f.cred(t, withSD(map[string]any{"_sd": []any{SDHash(givenArr)}}), givenArr) }, nil, errcode.DisclosureWrongPosition},
		{"disclosure_wrong_position/claim_in_array", func() string {
			return f.cred(t, withSD(map[string]any{"names": []any{map[string]any{"...": SDHash(given)}}}), given)
		}, nil, errcode.DisclosureWrongPosition},
		{"digest_malformed/sd_entry", func() string { return f.cred(t, withSD(map[string]any{"_sd": []any{1}})) }, nil, errcode.DigestMalformed},
		{"digest_malformed/sd_not_array", func() string { return f.cred(t, withSD(map[string]any{"_sd": SDHash(given)}), given) }, nil, errcode.DigestMalformed},
		{"digest_malformed/array_placeholder", func() string {
			return f.cred(t, withSD(map[string]any{"names": []any{map[string]any{"...": 1}}}))
		}, nil, errcode.DigestMalformed},
		{"unsupported_sd_alg/sha-512", func() string { return f.cred(t, withSD(map[string]any{"_sd_alg": "sha-512"})) }, nil, errcode.UnsupportedSDAlg},
		{"unsupported_sd_alg/not_string", func() string { return f.cred(t, withSD(map[string]any{"_sd_alg": 256})) }, nil, errcode.UnsupportedSDAlg},

		// Key binding (RFC 9901 section 7.3).
		{"kb_missing", func() string { return valid }, func(o *VerifyOptions) { o.RequireKB = true }, errcode.KBMissing},
		{"kb_malformed/not_jwt", func() string { return valid + "abc" }, nil, errcode.KBMalformed},
		{"kb_malformed/header", func() string { return valid + "e3!.e30.AA" }, nil, errcode.KBMalformed},
		{"kb_malformed/payload_not_object", func() string { return valid + "e30." + b64.EncodeToString([]byte(`"x"`)) + ".AA" }, nil, errcode.KBMalformed},
		{"kb_malformed/no_iat", func() string { return f.kb(t, valid, func(_, p map[string]any) { delete(p, "iat") }) }, nil, errcode.KBMalformed},
		{"kb_malformed/iat_string", func() string { return f.kb(t, valid, func(_, p map[string]any) { p["iat"] = "now" }) }, nil, errcode.KBMalformed},
		{"kb_wrong_typ", func() string { return f.kb(t, valid, func(h, _ map[string]any) { h["typ"] = "JWT" }) }, nil, errcode.KBWrongTyp},
		{"kb_wrong_typ/missing", func() string { return f.kb(t, valid, func(h, _ map[string]any) { delete(h, "typ") }) }, nil, errcode.KBWrongTyp},
		{"unsupported_alg/kb_none", func() string {
			return valid + unsigned(t, map[string]any{"alg": "none", "typ": TypKB}, map[string]any{"iat": negNow})
		}, nil, errcode.UnsupportedAlg},
		{"unknown_crit/kb", func() string { return f.kb(t, valid, func(h, _ map[string]any) { h["crit"] = []string{"x"} }) }, nil, errcode.UnknownCrit},
		{"kb_no_holder_key/absent", func() string {
			p := f.payload(t)
			delete(p, "cnf")
			pres := f.cred(t, p)
			return f.kb(t, pres, nil)
		}, func(o *VerifyOptions) { o.RequireKB = true }, errcode.KBNoHolderKey},
		{"kb_no_holder_key/oct", func() string {
			pres := f.cred(t, withSD(map[string]any{"cnf": map[string]any{"jwk": octCnf}}))
			return f.kb(t, pres, nil)
		}, nil, errcode.KBNoHolderKey},
		{"kb_no_holder_key/garbage", func() string {
			pres := f.cred(t, withSD(map[string]any{"cnf": map[string]any{"jwk": map[string]any{"kty": "EC", "crv": "P-256"}}}))
			return f.kb(t, pres, nil)
		}, nil, errcode.KBNoHolderKey},
		{"kb_no_holder_key/private", func() string {
			pres := f.cred(t, withSD(map[string]any{"cnf": map[string]any{"jwk": privCnf}}))
			return f.kb(t, pres, nil)
		}, nil, errcode.KBNoHolderKey},
		{"kb_bad_signature/other_key", func() string { return valid + f.kbJWT(t, f.other, valid, nil) }, nil, errcode.KBBadSignature},
		{"kb_bad_signature/present_but_not_required", func() string { return valid + f.kbJWT(t, f.other, valid, nil) }, func(o *VerifyOptions) { o.RequireKB = false }, errcode.KBBadSignature},
		{"kb_stale/old", func() string { return f.kb(t, valid, func(_, p map[string]any) { p["iat"] = negNow - 301 }) }, nil, errcode.KBStale},
		{"kb_stale/old_custom_window", func() string { return f.kb(t, valid, func(_, p map[string]any) { p["iat"] = negNow - 61 }) }, func(o *VerifyOptions) { o.MaxKBAge = time.Minute }, errcode.KBStale},
		{"kb_stale/future", func() string { return f.kb(t, valid, func(_, p map[string]any) { p["iat"] = negNow + 31 }) }, func(o *VerifyOptions) { o.Leeway = 30 * time.Second }, errcode.KBStale},
		{"kb_wrong_audience", func() string { return f.kb(t, valid, func(_, p map[string]any) { p["aud"] = "https://other.example" }) }, nil, errcode.KBWrongAudience},
		{"kb_wrong_audience/missing", func() string { return f.kb(t, valid, func(_, p map[string]any) { delete(p, "aud") }) }, nil, errcode.KBWrongAudience},
		{"kb_wrong_audience/array_of_two", func() string {
			return f.kb(t, valid, func(_, p map[string]any) { p["aud"] = []any{"https://verifier.example", "https://other.example"} })
		}, nil, errcode.KBWrongAudience},
		{"kb_wrong_audience/none_expected", func() string { return f.kb(t, valid, nil) }, func(o *VerifyOptions) { o.Audience = "" }, errcode.KBWrongAudience},
		{"kb_wrong_nonce", func() string { return f.kb(t, valid, func(_, p map[string]any) { p["nonce"] = "other" }) }, nil, errcode.KBWrongNonce},
		{"kb_wrong_nonce/missing", func() string { return f.kb(t, valid, func(_, p map[string]any) { delete(p, "nonce") }) }, nil, errcode.KBWrongNonce},
		{"kb_wrong_nonce/none_expected", func() string { return f.kb(t, valid, nil) }, func(o *VerifyOptions) { o.Nonce = "" }, errcode.KBWrongNonce},
		{"nonce_replayed/from_nonce_check", func() string { return f.kb(t, valid, nil) }, func(o *VerifyOptions) {
			o.NonceCheck = func(n string) error { return errcode.New(errcode.NonceReplayed, "seen %s", n) }
		}, errcode.NonceReplayed},
		{"kb_sd_hash_mismatch/no_trailing_tilde", func() string {
			return f.kb(t, valid, func(_, p map[string]any) { p["sd_hash"] = SDHash(strings.TrimSuffix(valid, "~")) })
		}, nil, errcode.KBSDHashMismatch},
		{"kb_sd_hash_mismatch/other_disclosures", func() string {
			issuerJWT := valid[:strings.IndexByte(valid, '~')+1]
			return f.kb(t, valid, func(_, p map[string]any) { p["sd_hash"] = SDHash(issuerJWT) })
		}, nil, errcode.KBSDHashMismatch},
		{"kb_sd_hash_mismatch/missing", func() string { return f.kb(t, valid, func(_, p map[string]any) { delete(p, "sd_hash") }) }, nil, errcode.KBSDHashMismatch},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case %s", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			o := f.opts()
			if c.opts != nil {
				c.opts(&o)
			}
			res, err := Verify(ctx, c.pres(), o)
			if err == nil {
				t.Fatalf("verified: %v", res.Claims)
			}
			testkit.WantCode(t, err, c.want)
		})
	}

	// Every verification code of the brief has at least one case.
	for _, code := range []errcode.Code{
		errcode.BadSignature, errcode.UnsupportedAlg, errcode.WrongTyp, errcode.UnknownCrit, errcode.Expired,
		errcode.NotYetValid, errcode.TooLarge, errcode.Malformed, errcode.DisclosureMalformed,
		errcode.DisclosureNotReferenced, errcode.DuplicateDigest, errcode.DuplicateDisclosure,
		errcode.ReservedClaimName, errcode.ClaimExists, errcode.DisclosureWrongPosition, errcode.DigestMalformed,
		errcode.UnsupportedSDAlg, errcode.KBMissing, errcode.KBMalformed, errcode.KBBadSignature,
		errcode.KBNoHolderKey, errcode.KBWrongTyp, errcode.KBWrongAudience, errcode.KBWrongNonce, errcode.KBStale,
		errcode.KBSDHashMismatch,
	} {
		found := false
		for _, c := range cases {
			found = found || c.want == code
		}
		if !found {
			t.Errorf("no negative case for %s", code)
		}
	}
}

// TestVerifyAccepts pins the boundaries the rejections above sit next to.
func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	given := disc(t, "c2FsdA", "given_name", "Erika")
	p := f.payload(t)
	p["_sd"] = []any{SDHash(given), "decoyZGVjb3k"}
	valid := f.cred(t, p, given)

	cases := []struct {
		name string
		pres func() string
		opts func(*VerifyOptions)
	}{
		{"plain", func() string { return valid }, nil},
		{"legacy_typ", func() string { return f.credWith(t, f.issuer, jwa.ES256, map[string]any{"typ": TypVCLegacy}, p, given) }, nil},
		{"media_type_typ", func() string {
			return f.credWith(t, f.issuer, jwa.ES256, map[string]any{"typ": "application/DC+SD-JWT"}, p, given)
		}, nil},
		{"exp_within_leeway", func() string {
			q := f.payload(t)
			q["exp"] = negNow - 30
			return f.cred(t, q)
		}, func(o *VerifyOptions) { o.Leeway = time.Minute }},
		{"no_sd_alg", func() string {
			q := f.payload(t)
			delete(q, "_sd_alg")
			return f.cred(t, q)
		}, nil},
		{"kb", func() string { return f.kb(t, valid, nil) }, func(o *VerifyOptions) { o.RequireKB = true }},
		{"kb_aud_array_of_one", func() string {
			return f.kb(t, valid, func(_, p map[string]any) { p["aud"] = []any{"https://verifier.example"} })
		}, nil},
		{"kb_iat_at_window_edge", func() string { return f.kb(t, valid, func(_, p map[string]any) { p["iat"] = negNow - 300 }) }, nil},
		{"kb_future_within_leeway", func() string { return f.kb(t, valid, func(_, p map[string]any) { p["iat"] = negNow + 30 }) }, func(o *VerifyOptions) { o.Leeway = 30 * time.Second }},
		{"kb_nonce_check", func() string { return f.kb(t, valid, nil) }, func(o *VerifyOptions) {
			o.Nonce = ""
			o.NonceCheck = func(n string) error {
				if n != "n-0S6_WzA2Mj" {
					return errcode.New(errcode.NonceInvalid, "bad")
				}
				return nil
			}
		}},
		{"eddsa_allowed", func() string {
			ed, edPub := testkeys.Pair(t, jwa.EdDSA, "ed-1")
			f2 := *f
			f2.issuerPub = edPub
			return f2.credWith(t, ed, jwa.EdDSA, map[string]any{"typ": TypVC}, p, given) + "|" + mustJSON(t, testkeys.PublicJWK(t, edPub))
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := f.opts()
			if c.opts != nil {
				c.opts(&o)
			}
			pres := c.pres()
			if i := strings.IndexByte(pres, '|'); i >= 0 { // a different issuer key rides along
				var m map[string]any
				_ = json.Unmarshal([]byte(pres[i+1:]), &m)
				o.IssuerKey = staticKey(keyFromMap(t, m))
				pres = pres[:i]
			}
			res, err := Verify(ctx, pres, o)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := res.Claims["_sd"]; ok {
				t.Fatal("_sd left in claims")
			}
			if _, ok := res.Claims["_sd_alg"]; ok {
				t.Fatal("_sd_alg left in claims")
			}
		})
	}
}
