// Package jose holds the JOSE rules that sdjwt and revocation share, so
// that credentials and their status lists are checked alike: the key
// lookup signature and the header it is given (HeadersOf), the algorithm
// allow-list, typ comparison, the agreement of a key with an algorithm and
// the exp/nbf/iat rule (CheckTimes). Signing and verifying go through
// jwx.
//
// Only ES256 (P-256) and EdDSA (Ed25519) are supported: an allow-list that
// names anything else enables nothing, and "none" and HMAC are refused
// whatever a caller lists.
package jose

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// KeyFunc returns the public key that must have signed a JWT whose
// (unverified) iss is iss and whose protected header is hdr. An error that
// carries an errcode code is passed on as is; any other error becomes
// key_not_found. The key should carry alg; when it does, it must equal the
// header's alg.
type KeyFunc func(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error)

// DefaultAlgorithms returns the allow-list used when a caller gives none:
// ES256 and EdDSA.
func DefaultAlgorithms() []jwa.SignatureAlgorithm {
	return []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA}
}

// supported reports whether alg is one this project implements.
func supported(alg jwa.SignatureAlgorithm) bool {
	return alg == jwa.ES256 || alg == jwa.EdDSA
}

// Allowed reports whether the header alg is supported and on list (the
// default list when list is empty).
func Allowed(alg string, list []jwa.SignatureAlgorithm) bool {
	a := jwa.SignatureAlgorithm(alg)
	if !supported(a) {
		return false
	}
	if len(list) == 0 {
		list = DefaultAlgorithms()
	}
	return slices.Contains(list, a)
}

// TypIs reports whether a typ header names one of want, ignoring case and
// an "application/" prefix on either side (RFC 7515 section 4.1.9). An
// empty typ matches nothing.
func TypIs(typ string, want ...string) bool {
	if typ == "" {
		return false
	}
	n := normTyp(typ)
	for _, w := range want {
		if normTyp(w) == n {
			return true
		}
	}
	return false
}

func normTyp(t string) string {
	return strings.TrimPrefix(strings.ToLower(t), "application/")
}

// KeyAlg returns the alg member of key, or "" when it has none.
func KeyAlg(key jwk.Key) string {
	if key == nil || key.Algorithm() == nil {
		return ""
	}
	return key.Algorithm().String()
}

// PublicKeyFor returns the raw public key to verify alg with, or an error
// when key does not fit alg: the key's own alg (when set) must equal alg,
// and its type and curve must be the ones alg needs, so that a token header
// alone never decides how a key is used.
func PublicKeyFor(alg jwa.SignatureAlgorithm, key jwk.Key) (any, error) {
	if key == nil {
		return nil, errors.New("no key")
	}
	if ka := KeyAlg(key); ka != "" && ka != string(alg) {
		return nil, fmt.Errorf("key is for %s, token uses %s", ka, alg)
	}
	var raw any
	if err := key.Raw(&raw); err != nil {
		return nil, fmt.Errorf("unusable key: %w", err)
	}
	switch k := raw.(type) {
	case *ecdsa.PrivateKey:
		raw = &k.PublicKey
	case ed25519.PrivateKey:
		raw = k.Public()
	}
	switch alg {
	case jwa.ES256:
		if k, ok := raw.(*ecdsa.PublicKey); ok && k.Curve == elliptic.P256() {
			return k, nil
		}
	case jwa.EdDSA:
		if k, ok := raw.(ed25519.PublicKey); ok {
			return k, nil
		}
	}
	return nil, fmt.Errorf("a %T key does not fit %s", raw, alg)
}

// Verify checks sig over the JWS signing input with alg and key through
// jwx. The failure is returned without a code; callers classify it.
func Verify(alg jwa.SignatureAlgorithm, key jwk.Key, input, sig []byte) error {
	pub, err := PublicKeyFor(alg, key)
	if err != nil {
		return err
	}
	v, err := jws.NewVerifier(alg)
	if err != nil {
		return err
	}
	return v.Verify(input, sig, pub)
}

// SigningAlg returns the algorithm to sign with: the key's alg when set,
// otherwise ES256 for a P-256 key and EdDSA for an Ed25519 key. An
// unsupported alg is unsupported_alg; no key, a key that is not an
// asymmetric private key, or one that does not fit its alg is
// invalid_input.
func SigningAlg(key jwk.Key) (jwa.SignatureAlgorithm, error) {
	if key == nil {
		return "", errcode.New(errcode.InvalidInput, "no signing key")
	}
	alg := jwa.SignatureAlgorithm(KeyAlg(key))
	if alg == "" {
		alg = jwa.ES256
		if key.KeyType() == jwa.OKP {
			alg = jwa.EdDSA
		}
	}
	if !supported(alg) {
		return "", errcode.New(errcode.UnsupportedAlg, "signing algorithm %q is not supported (ES256 or EdDSA)", alg)
	}
	if priv, err := jwk.IsPrivateKey(key); err != nil || !priv {
		return "", errcode.New(errcode.InvalidInput, "signing key is not an asymmetric private key")
	}
	if _, err := PublicKeyFor(alg, key); err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "signing key does not fit %s", alg)
	}
	return alg, nil
}

// Sign signs payload as a compact JWS with alg and key; hdr holds the
// members of its protected header besides alg (typ, kid, ...), which the
// signing sets. key is a jwk.Key or what jws.WithKey takes (a crypto.Signer).
func Sign(payload []byte, alg jwa.SignatureAlgorithm, key any, hdr map[string]any) ([]byte, error) {
	h := jws.NewHeaders()
	for k, v := range hdr {
		if err := h.Set(k, v); err != nil {
			return nil, fmt.Errorf("jose: header %s: %w", k, err)
		}
	}
	return jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
}

// LookupKey calls f and classifies its failure: an error with a code is
// returned as is, any other error, or no key, is key_not_found. what names
// the token in messages.
func LookupKey(ctx context.Context, f KeyFunc, iss string, hdr jws.Headers, what string) (jwk.Key, error) {
	key, err := f(ctx, iss, hdr)
	if err != nil {
		var ce *errcode.Error
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, errcode.Wrap(errcode.KeyNotFound, err, "no key for the %s issuer %q", what, iss)
	}
	if key == nil {
		return nil, errcode.New(errcode.KeyNotFound, "no key for the %s issuer %q", what, iss)
	}
	return key, nil
}

// maxNumericDate bounds a NumericDate (about the year 33658), so that a
// time.Time never overflows.
const maxNumericDate = 1e12

// NumericDate reads a JWT NumericDate (RFC 7519 section 2: seconds since
// the epoch, fractions allowed) as decoded from JSON (json.Number or
// float64) or set by Go code (int, int64). It is false for anything else,
// for a negative, non-finite or absurdly large value. The time is in UTC.
func NumericDate(v any) (time.Time, bool) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return time.Time{}, false
		}
	case float64:
		f = n
	case int64:
		f = float64(n)
	case int:
		f = float64(n)
	default:
		return time.Time{}, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// DateClaim reads the NumericDate claim name of p; ok is false when p has
// none, and a value that is not a NumericDate is an error with code bad.
func DateClaim(p map[string]any, name string, bad errcode.Code) (t time.Time, ok bool, err error) {
	v, ok := p[name]
	if !ok {
		return time.Time{}, false, nil
	}
	if t, ok = NumericDate(v); !ok {
		return time.Time{}, false, errcode.New(bad, "%s is not a NumericDate", name)
	}
	return t, true, nil
}

// CheckTimes applies the exp, nbf and iat claims of p to now with leeway,
// the one rule for credentials and status lists: expired when now is not
// before exp + leeway, not_yet_valid when nbf or iat lies after
// now + leeway. A date claim that is not a NumericDate has code bad.
func CheckTimes(p map[string]any, now time.Time, leeway time.Duration, bad errcode.Code) error {
	exp, ok, err := DateClaim(p, "exp", bad)
	if err != nil {
		return err
	}
	if ok && !now.Before(exp.Add(leeway)) {
		return errcode.New(errcode.Expired, "expired at %s", exp.Format(time.RFC3339))
	}
	for _, c := range []struct{ name, msg string }{{"nbf", "not valid before %s"}, {"iat", "issued in the future (%s)"}} {
		t, ok, err := DateClaim(p, c.name, bad)
		if err != nil {
			return err
		}
		if ok && now.Add(leeway).Before(t) {
			return errcode.New(errcode.NotYetValid, c.msg, t.Format(time.RFC3339))
		}
	}
	return nil
}
