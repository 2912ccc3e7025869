package revocation

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// DefaultAlgorithms is the signature allow-list VerifyToken uses when
// VerifyTokenOptions.Algorithms is empty. "none" and HMAC algorithms are never
// accepted, whatever the options say.
var DefaultAlgorithms = []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA}

// signingAlgorithms are the algorithms SignToken and SignW3C sign with.
var signingAlgorithms = []jwa.SignatureAlgorithm{jwa.ES256, jwa.ES384, jwa.ES512, jwa.EdDSA}

// maxTTL bounds the ttl a token may state (one year); larger values are
// clamped, so that a Duration never overflows.
const maxTTL = 365 * 24 * time.Hour

// TokenClaims are the claims of a Status List Token other than the list.
type TokenClaims struct {
	Subject  string        // sub: the URI the list is served at (required)
	Issuer   string        // iss: the credential issuer (required)
	IssuedAt time.Time     // iat (required)
	Expires  time.Time     // exp (optional; zero omits it)
	TTL      time.Duration // ttl: how long a consumer may cache the token (optional; whole seconds, rounded up)
}

func (c TokenClaims) check() error {
	switch {
	case c.Subject == "":
		return errcode.New(errcode.InvalidInput, "status list token needs a subject (its URI)")
	case c.Issuer == "":
		return errcode.New(errcode.InvalidInput, "status list token needs an issuer")
	case c.IssuedAt.IsZero():
		return errcode.New(errcode.InvalidInput, "status list token needs an issued-at time")
	case !c.Expires.IsZero() && !c.Expires.After(c.IssuedAt):
		return errcode.New(errcode.InvalidInput, "status list token expires before it is issued")
	case c.TTL < 0:
		return errcode.New(errcode.InvalidInput, "negative ttl")
	}
	return nil
}

// ttlUnits returns d in whole units of unit, rounded up.
func ttlUnits(d, unit time.Duration) int64 {
	return int64((d + unit - 1) / unit)
}

type statusListClaim struct {
	Bits int    `json:"bits"`
	Lst  string `json:"lst"`
}

type tokenPayload struct {
	Exp        int64           `json:"exp,omitempty"`
	Iat        int64           `json:"iat"`
	Iss        string          `json:"iss"`
	StatusList statusListClaim `json:"status_list"`
	Sub        string          `json:"sub"`
	TTL        int64           `json:"ttl,omitempty"`
}

// SignToken returns the Status List Token for l as a compact JWT with header
// typ "statuslist+jwt" (draft-ietf-oauth-status-list section 5.1). key is a
// private jwk.Key carrying kid and alg (ES256, ES384, ES512 or EdDSA).
func SignToken(l *List, c TokenClaims, key jwk.Key) (string, error) {
	if l == nil {
		return "", errcode.New(errcode.InvalidInput, "nil status list")
	}
	if err := c.check(); err != nil {
		return "", err
	}
	lst, err := l.EncodeIETF()
	if err != nil {
		return "", err
	}
	p := tokenPayload{
		Iat:        c.IssuedAt.Unix(),
		Iss:        c.Issuer,
		StatusList: statusListClaim{Bits: l.bits, Lst: lst},
		Sub:        c.Subject,
		TTL:        ttlUnits(c.TTL, time.Second),
	}
	if !c.Expires.IsZero() {
		p.Exp = c.Expires.Unix()
	}
	return sign(p, TypStatusListJWT, key)
}

// SignW3C returns the W3C view of l for one status purpose: a
// BitstringStatusListCredential (VCDM 2.0, BSL v1.0 section 2.2) secured as
// a compact JWS with header typ "vc+jwt" and cty "vc" (VC-JOSE-COSE).
//
// purpose "revocation" sets the bits of entries whose status is 1,
// "suspension" those whose status is 2 (statusSize 1). The bitstring is
// padded with zero bits to MinW3CEntries when l is shorter. The credential:
//
//	id                 W3CCredentialID(c.Subject, purpose)
//	issuer, validFrom  c.Issuer, c.IssuedAt; validUntil c.Expires when set
//	credentialSubject  {id: <id>#list, type: BitstringStatusList,
//	                    statusPurpose, encodedList, ttl (milliseconds, when set)}
//
// The JWT claims iss, iat and exp repeat issuer, validFrom and validUntil.
func SignW3C(l *List, purpose string, c TokenClaims, key jwk.Key) (string, error) {
	if l == nil {
		return "", errcode.New(errcode.InvalidInput, "nil status list")
	}
	if err := c.check(); err != nil {
		return "", err
	}
	view, err := w3cView(l, purpose)
	if err != nil {
		return "", err
	}
	enc, err := view.EncodeW3C()
	if err != nil {
		return "", err
	}
	id := W3CCredentialID(c.Subject, purpose)
	subject := map[string]any{
		"id":            id + "#list",
		"type":          "BitstringStatusList",
		"statusPurpose": purpose,
		"encodedList":   enc,
	}
	if c.TTL > 0 {
		subject["ttl"] = ttlUnits(c.TTL, time.Millisecond)
	}
	vc := map[string]any{
		"@context":          []string{"https://www.w3.org/ns/credentials/v2"},
		"id":                id,
		"type":              []string{"VerifiableCredential", "BitstringStatusListCredential"},
		"issuer":            c.Issuer,
		"validFrom":         c.IssuedAt.UTC().Format(time.RFC3339),
		"credentialSubject": subject,
		"iss":               c.Issuer,
		"iat":               c.IssuedAt.Unix(),
	}
	if !c.Expires.IsZero() {
		vc["validUntil"] = c.Expires.UTC().Format(time.RFC3339)
		vc["exp"] = c.Expires.Unix()
	}
	return sign(vc, TypVCJWT, key)
}

func sign(payload any, typ string, key jwk.Key) (string, error) {
	if key == nil {
		return "", errcode.New(errcode.InvalidInput, "no signing key")
	}
	if key.KeyID() == "" {
		return "", errcode.New(errcode.InvalidInput, "signing key has no kid")
	}
	alg, ok := signatureAlg(key)
	if !ok || !algIn(alg, signingAlgorithms) {
		return "", errcode.New(errcode.UnsupportedAlg, "signing key alg %q is not one of ES256, ES384, ES512, EdDSA", algName(key))
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "encode payload")
	}
	h := jws.NewHeaders()
	for k, v := range map[string]any{jws.TypeKey: typ, jws.KeyIDKey: key.KeyID()} {
		if err := h.Set(k, v); err != nil {
			return "", errcode.Wrap(errcode.Internal, err, "set header %s", k)
		}
	}
	if typ == TypVCJWT {
		if err := h.Set(jws.ContentTypeKey, "vc"); err != nil {
			return "", errcode.Wrap(errcode.Internal, err, "set header cty")
		}
	}
	out, err := jws.Sign(body, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "sign status list (is the key private?)")
	}
	return string(out), nil
}

func signatureAlg(key jwk.Key) (jwa.SignatureAlgorithm, bool) {
	if key.Algorithm() == nil {
		return "", false
	}
	var a jwa.SignatureAlgorithm
	if err := a.Accept(key.Algorithm().String()); err != nil {
		return "", false
	}
	return a, true
}

func algName(key jwk.Key) string {
	if key.Algorithm() == nil {
		return ""
	}
	return key.Algorithm().String()
}

func algIn(a jwa.SignatureAlgorithm, list []jwa.SignatureAlgorithm) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

// Token is a verified Status List Token.
type Token struct {
	Subject  string        // sub: the URI of the list
	Issuer   string        // iss
	IssuedAt time.Time     // iat: the time the list's content is "as of"
	Expires  time.Time     // exp; zero when the token has none
	TTL      time.Duration // ttl; zero when the token has none
	List     *List
}

// KeyFunc resolves the key that must have signed a token of issuer iss with
// protected header hdr. It has the same shape as the sdjwt package's KeyFunc,
// so one resolver serves credentials and their status lists. The returned
// key should carry alg; when it does, it must equal the header's alg.
type KeyFunc func(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error)

// VerifyTokenOptions configure VerifyToken.
type VerifyTokenOptions struct {
	Key             KeyFunc                  // required
	ExpectedIssuer  string                   // iss must equal it; also the issuer passed to Key (when empty, the token's unverified iss is passed and not checked)
	ExpectedSubject string                   // sub must equal it (the uri of the status reference); empty skips the check
	Algorithms      []jwa.SignatureAlgorithm // allow-list; DefaultAlgorithms when empty
	Now             func() time.Time         // clock; time.Now when nil
	Leeway          time.Duration            // clock skew accepted on exp and iat
	MaxBytes        int                      // cap on the token size and on the decompressed list; DefaultMaxBytes when 0
}

// VerifyToken verifies a Status List Token in compact JWT form and returns
// its claims and decoded list. Steps, in order, with the code of each
// failure:
//
//  1. size: too_large past MaxBytes
//  2. form: status_invalid unless a compact JWS with one signature
//  3. header: wrong_typ unless typ is statuslist+jwt (or
//     application/statuslist+jwt); unknown_crit if crit is present;
//     unsupported_alg unless alg is on the allow-list
//  4. key: Key's error as returned (wrapped as key_not_found when it carries no code)
//  5. signature: bad_signature (also when the key's alg differs from the header's)
//  6. claims: status_invalid when the payload does not parse; missing_claim
//     without iss (when an issuer is expected), sub, iat or status_list;
//     expired past exp + Leeway; not_yet_valid for iat or nbf after now + Leeway;
//     status_invalid when exp is not after iat, iss or sub differ from the
//     expected values, or ttl is not a positive number
//  7. list: DecodeIETF's errors (status_invalid, too_large)
func VerifyToken(ctx context.Context, token string, o VerifyTokenOptions) (*Token, error) {
	maxBytes := bound(o.MaxBytes, DefaultMaxBytes)
	if len(token) > maxBytes {
		return nil, errcode.New(errcode.TooLarge, "status list token of %d bytes exceeds %d", len(token), maxBytes)
	}
	if o.Key == nil {
		return nil, errcode.New(errcode.InvalidInput, "VerifyTokenOptions.Key is required")
	}
	if strings.Count(token, ".") != 2 {
		return nil, errcode.New(errcode.StatusInvalid, "status list token is not a compact JWS")
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil {
		return nil, errcode.Wrap(errcode.StatusInvalid, err, "status list token does not parse")
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 || sigs[0].ProtectedHeaders() == nil {
		return nil, errcode.New(errcode.StatusInvalid, "status list token must carry exactly one signature")
	}
	hdr := sigs[0].ProtectedHeaders()
	if !typIs(hdr.Type(), TypStatusListJWT) {
		return nil, errcode.New(errcode.WrongTyp, "typ %q is not %s", hdr.Type(), TypStatusListJWT)
	}
	if _, ok := hdr.Get(jws.CriticalKey); ok {
		return nil, errcode.New(errcode.UnknownCrit, "crit header %v names extensions this verifier does not understand", hdr.Critical())
	}
	alg := hdr.Algorithm()
	allowed := o.Algorithms
	if len(allowed) == 0 {
		allowed = DefaultAlgorithms
	}
	if !algIn(alg, allowed) || alg == jwa.NoSignature || strings.HasPrefix(alg.String(), "HS") {
		return nil, errcode.New(errcode.UnsupportedAlg, "alg %q is not allowed", alg)
	}

	keyIss := o.ExpectedIssuer
	if keyIss == "" {
		var p struct {
			Iss string `json:"iss"`
		}
		_ = json.Unmarshal(msg.Payload(), &p)
		keyIss = p.Iss
	}
	key, err := o.Key(ctx, keyIss, hdr)
	if err != nil {
		var ce *errcode.Error
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, errcode.Wrap(errcode.KeyNotFound, err, "no key for status list issuer %q", keyIss)
	}
	if key == nil {
		return nil, errcode.New(errcode.KeyNotFound, "no key for status list issuer %q", keyIss)
	}
	if ka := algName(key); ka != "" && ka != alg.String() {
		return nil, errcode.New(errcode.BadSignature, "token alg %q differs from the key's alg %q", alg, ka)
	}
	payload, err := jws.Verify([]byte(token), jws.WithKey(alg, key), jws.WithCompact())
	if err != nil {
		return nil, errcode.Wrap(errcode.BadSignature, err, "status list token signature does not verify")
	}
	return checkClaims(payload, o, maxBytes)
}

// typIs compares a typ header with want, ignoring case and an optional
// "application/" prefix (RFC 7515 section 4.1.9).
func typIs(got, want string) bool {
	got = strings.ToLower(got)
	got = strings.TrimPrefix(got, "application/")
	return got == want
}

func checkClaims(payload []byte, o VerifyTokenOptions, maxBytes int) (*Token, error) {
	tok, err := jwt.Parse(payload, jwt.WithVerify(false), jwt.WithValidate(false),
		jwt.WithTypedClaim("status_list", statusListClaim{}))
	if err != nil {
		return nil, errcode.Wrap(errcode.StatusInvalid, err, "status list token claims do not parse")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	vopts := []jwt.ValidateOption{
		jwt.WithClock(jwt.ClockFunc(now)),
		jwt.WithAcceptableSkew(o.Leeway),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim("status_list"),
	}
	if o.ExpectedIssuer != "" {
		vopts = append(vopts, jwt.WithRequiredClaim(jwt.IssuerKey))
	}
	if err := jwt.Validate(tok, vopts...); err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired()):
			return nil, errcode.Wrap(errcode.Expired, err, "status list token expired")
		case errors.Is(err, jwt.ErrInvalidIssuedAt()), errors.Is(err, jwt.ErrTokenNotYetValid()):
			return nil, errcode.Wrap(errcode.NotYetValid, err, "status list token is not yet valid")
		case errors.Is(err, jwt.ErrRequiredClaim()):
			return nil, errcode.Wrap(errcode.MissingClaim, err, "status list token lacks a required claim")
		default:
			return nil, errcode.Wrap(errcode.StatusInvalid, err, "status list token claims are invalid")
		}
	}
	if _, ok := tok.Get(jwt.ExpirationKey); ok && !tok.Expiration().After(tok.IssuedAt()) {
		return nil, errcode.New(errcode.StatusInvalid, "status list token exp is not after its iat")
	}
	if o.ExpectedIssuer != "" && tok.Issuer() != o.ExpectedIssuer {
		return nil, errcode.New(errcode.StatusInvalid, "status list token iss %q is not the credential issuer %q", tok.Issuer(), o.ExpectedIssuer)
	}
	if o.ExpectedSubject != "" && tok.Subject() != o.ExpectedSubject {
		return nil, errcode.New(errcode.StatusInvalid, "status list token sub %q is not the referenced uri %q", tok.Subject(), o.ExpectedSubject)
	}
	var ttl time.Duration
	if v, ok := tok.Get("ttl"); ok {
		f, isNum := v.(float64)
		if !isNum || !(f > 0) {
			return nil, errcode.New(errcode.StatusInvalid, "ttl must be a positive number of seconds")
		}
		if f >= maxTTL.Seconds() {
			ttl = maxTTL
		} else {
			ttl = time.Duration(math.Ceil(f * float64(time.Second)))
		}
	}
	raw, _ := tok.Get("status_list")
	sl, ok := raw.(statusListClaim)
	if !ok {
		return nil, errcode.New(errcode.StatusInvalid, "status_list is not an object")
	}
	l, err := DecodeIETF(sl.Lst, sl.Bits, maxBytes)
	if err != nil {
		return nil, err
	}
	return &Token{
		Subject:  tok.Subject(),
		Issuer:   tok.Issuer(),
		IssuedAt: tok.IssuedAt(),
		Expires:  tok.Expiration(),
		TTL:      ttl,
		List:     l,
	}, nil
}
