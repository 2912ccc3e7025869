package revocation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
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

// UsableUntil is when a copy of t fetched at fetchedAt stops being usable:
// its exp, or fetchedAt plus its ttl, whichever comes first; zero when t
// has neither.
func (t *Token) UsableUntil(fetchedAt time.Time) time.Time {
	end := t.Expires
	if t.TTL > 0 {
		if byTTL := fetchedAt.Add(t.TTL); end.IsZero() || byTTL.Before(end) {
			end = byTTL
		}
	}
	return end
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
	return verifyToken(ctx, []byte(token), o)
}

// verifyToken is VerifyToken on the token's bytes as fetched, so that a
// fetched body is not copied into a string and back.
func verifyToken(ctx context.Context, token []byte, o VerifyTokenOptions) (*Token, error) {
	maxBytes := bound(o.MaxBytes, DefaultMaxBytes)
	if len(token) > maxBytes {
		return nil, errcode.New(errcode.TooLarge, "status list token of %d bytes exceeds %d", len(token), maxBytes)
	}
	if o.Key == nil {
		return nil, errcode.New(errcode.InvalidInput, "VerifyTokenOptions.Key is required")
	}
	if bytes.Count(token, []byte{'.'}) != 2 {
		return nil, errcode.New(errcode.StatusInvalid, "status list token is not a compact JWS")
	}
	msg, err := jws.Parse(token, jws.WithCompact())
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
	// The payload is decoded once, here, in one strict pass: a member
	// given twice (two status_list claims, one for each parser that might
	// read the token) or two that differ only in case are refused, not
	// resolved last-wins. Nothing in it is used before the signature
	// verifies but the iss handed to Key, and a decoding failure is
	// reported only after the signature check.
	claims, claimsErr := decodeClaims(msg.Payload())
	keyIss := o.ExpectedIssuer
	if keyIss == "" {
		keyIss, _ = claims["iss"].(string)
	}
	key, err := jose.LookupKey(ctx, o.Key, keyIss, hdr, "status list")
	if err != nil {
		return nil, err
	}
	if ka := jose.KeyAlg(key); ka != "" && ka != alg.String() {
		return nil, errcode.New(errcode.BadSignature, "token alg %q differs from the key's alg %q", alg, ka)
	}
	if err := jose.Verify(alg, key, token[:bytes.LastIndexByte(token, '.')], sigs[0].Signature()); err != nil {
		return nil, errcode.Wrap(errcode.BadSignature, err, "status list token signature does not verify")
	}
	if claimsErr != nil {
		return nil, errcode.Wrap(errcode.StatusInvalid, claimsErr, "status list token payload: %s", claimsErr)
	}
	return checkClaims(claims, o, maxBytes)
}

// decodeClaims decodes a token payload, which must be a JSON object, with
// jsonstrict's checks.
func decodeClaims(payload []byte) (map[string]any, error) {
	v, err := jsonstrict.DecodeValue(payload)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// checkClaims applies steps 6 and 7 of VerifyToken to the decoded payload.
func checkClaims(p map[string]any, o VerifyTokenOptions, maxBytes int) (*Token, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if err := jose.CheckTimes(p, now(), o.Leeway, errcode.StatusInvalid); err != nil {
		return nil, errcode.Wrap(errcode.CodeOf(err), err, "status list token")
	}
	required := []string{"sub", "iat", "status_list"}
	if o.ExpectedIssuer != "" {
		required = append(required, "iss")
	}
	for _, name := range required {
		if p[name] == nil {
			return nil, errcode.New(errcode.MissingClaim, "status list token lacks the %s claim", name)
		}
	}
	iss, issOK := stringClaim(p, "iss")
	sub, subOK := stringClaim(p, "sub")
	if !issOK || !subOK {
		return nil, errcode.New(errcode.StatusInvalid, "status list token iss and sub must be strings")
	}
	iat, _, _ := jose.DateClaim(p, "iat", errcode.StatusInvalid) // a NumericDate: CheckTimes read it
	exp, hasExp, _ := jose.DateClaim(p, "exp", errcode.StatusInvalid)
	if hasExp && !exp.After(iat) {
		return nil, errcode.New(errcode.StatusInvalid, "status list token exp is not after its iat")
	}
	if o.ExpectedIssuer != "" && iss != o.ExpectedIssuer {
		return nil, errcode.New(errcode.StatusInvalid, "status list token iss %q is not the credential issuer %q", iss, o.ExpectedIssuer)
	}
	if o.ExpectedSubject != "" && sub != o.ExpectedSubject {
		return nil, errcode.New(errcode.StatusInvalid, "status list token sub %q is not the referenced uri %q", sub, o.ExpectedSubject)
	}
	var ttl time.Duration
	if v, ok := p["ttl"]; ok {
		n, isNum := v.(json.Number)
		f, err := n.Float64()
		if !isNum || err != nil || !(f > 0) {
			return nil, errcode.New(errcode.StatusInvalid, "ttl must be a positive number of seconds")
		}
		if f >= maxTTL.Seconds() {
			ttl = maxTTL
		} else {
			ttl = time.Duration(math.Ceil(f * float64(time.Second)))
		}
	}
	sl, err := listClaim(p["status_list"])
	if err != nil {
		return nil, err
	}
	l, err := DecodeIETF(sl.Lst, sl.Bits, maxBytes)
	if err != nil {
		return nil, err
	}
	return &Token{Subject: sub, Issuer: iss, IssuedAt: iat, Expires: exp, TTL: ttl, List: l}, nil
}

// stringClaim returns claim name of p; ok is false when it is present and
// not a string.
func stringClaim(p map[string]any, name string) (s string, ok bool) {
	v, present := p[name]
	if !present {
		return "", true
	}
	s, ok = v.(string)
	return s, ok
}

// listClaim reads the status_list claim: an object whose bits is an
// integer and whose lst is a string (DecodeIETF checks their values).
func listClaim(v any) (statusListClaim, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return statusListClaim{}, errcode.New(errcode.StatusInvalid, "status_list is not an object")
	}
	var c statusListClaim
	if b, present := m["bits"]; present {
		n, isNum := b.(json.Number)
		bits, err := n.Int64()
		if !isNum || err != nil || bits < 0 || bits > math.MaxInt32 {
			return statusListClaim{}, errcode.New(errcode.StatusInvalid, "status_list bits is not an integer")
		}
		c.Bits = int(bits)
	}
	if l, present := m["lst"]; present {
		if c.Lst, ok = l.(string); !ok {
			return statusListClaim{}, errcode.New(errcode.StatusInvalid, "status_list lst is not a string")
		}
	}
	return c, nil
}
