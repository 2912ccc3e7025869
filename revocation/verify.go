package revocation

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

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
// protected header hdr. It is the sdjwt package's KeyFunc, so one resolver
// serves credentials and their status lists. The returned key should carry
// alg; when it does, it must equal the header's alg.
type KeyFunc = jose.KeyFunc

// VerifyTokenOptions configure VerifyToken.
type VerifyTokenOptions struct {
	Key             KeyFunc                  // required
	ExpectedIssuer  string                   // iss must equal it; also the issuer passed to Key (when empty, the token's unverified iss is passed and not checked)
	ExpectedSubject string                   // sub must equal it (the uri of the status reference); empty skips the check
	Algorithms      []jwa.SignatureAlgorithm // allow-list; ES256 and EdDSA when empty; none, HMAC and other algorithms are never accepted
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
//  6. claims: status_invalid when the payload does not parse or repeats a
//     member (or has members that differ only in case); missing_claim
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
	if !jose.TypIs(hdr.Type(), TypStatusListJWT) {
		return nil, errcode.New(errcode.WrongTyp, "typ %q is not %s", hdr.Type(), TypStatusListJWT)
	}
	if _, ok := hdr.Get(jws.CriticalKey); ok {
		return nil, errcode.New(errcode.UnknownCrit, "crit header %v names extensions this verifier does not understand", hdr.Critical())
	}
	alg := hdr.Algorithm()
	if !jose.Allowed(alg.String(), o.Algorithms) {
		return nil, errcode.New(errcode.UnsupportedAlg, "alg %q is not allowed", alg)
	}
	// The claims are decoded once, here; nothing in them is used before the
	// signature verifies but the iss handed to Key, and a decoding failure
	// is reported only after the signature check.
	claims, claimsErr := jwt.Parse(msg.Payload(), jwt.WithVerify(false), jwt.WithValidate(false),
		jwt.WithTypedClaim("status_list", statusListClaim{}))
	keyIss := o.ExpectedIssuer
	if keyIss == "" && claimsErr == nil {
		keyIss = claims.Issuer()
	}
	key, err := jose.LookupKey(ctx, o.Key, keyIss, hdr, "status list")
	if err != nil {
		return nil, err
	}
	if ka := jose.KeyAlg(key); ka != "" && ka != alg.String() {
		return nil, errcode.New(errcode.BadSignature, "token alg %q differs from the key's alg %q", alg, ka)
	}
	if err := jose.Verify(alg, key, []byte(token[:strings.LastIndexByte(token, '.')]), sigs[0].Signature()); err != nil {
		return nil, errcode.Wrap(errcode.BadSignature, err, "status list token signature does not verify")
	}
	// A member given twice (two status_list claims, one for each parser
	// that might read the token) is refused, not resolved last-wins.
	if err := jsonstrict.Check(msg.Payload()); err != nil {
		return nil, errcode.Wrap(errcode.StatusInvalid, err, "status list token payload: %s", err)
	}
	if claimsErr != nil {
		return nil, errcode.Wrap(errcode.StatusInvalid, claimsErr, "status list token claims do not parse")
	}
	return checkClaims(claims, o, maxBytes)
}

func checkClaims(tok jwt.Token, o VerifyTokenOptions, maxBytes int) (*Token, error) {
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
