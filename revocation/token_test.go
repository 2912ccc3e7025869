package revocation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// vectorNow is a fixed time inside the vector token's validity.
var vectorNow = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func TestVerifyTokenVector(t *testing.T) {
	v, pub := loadTokenVectors(t)
	tok, err := VerifyToken(context.Background(), v.JWT.Serialized, VerifyTokenOptions{
		Key:             staticKey("https://example.com", pub),
		ExpectedIssuer:  "https://example.com",
		ExpectedSubject: "https://example.com/statuslists/1",
		Now:             func() time.Time { return vectorNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	p := v.JWT.Payload
	switch {
	case tok.Subject != p.Sub || tok.Issuer != p.Iss:
		t.Errorf("sub %q iss %q", tok.Subject, tok.Issuer)
	case !tok.IssuedAt.Equal(time.Unix(p.Iat, 0)) || !tok.Expires.Equal(time.Unix(p.Exp, 0)):
		t.Errorf("iat %v exp %v", tok.IssuedAt, tok.Expires)
	case tok.TTL != time.Duration(p.TTL)*time.Second:
		t.Errorf("ttl %v", tok.TTL)
	case tok.List.Bits() != 1 || tok.List.Len() != 16:
		t.Errorf("list %d bits, %d entries", tok.List.Bits(), tok.List.Len())
	}
	if got, _ := tok.List.Get(0); got != StatusRevoked {
		t.Errorf("entry 0 = %d, want 1", got)
	}
	// The same token after its exp (2042-08-14) is expired.
	_, err = VerifyToken(context.Background(), v.JWT.Serialized, VerifyTokenOptions{
		Key: staticKey("https://example.com", pub), ExpectedIssuer: "https://example.com",
		Now: func() time.Time { return time.Unix(p.Exp+1, 0) },
	})
	testkit.WantCode(t, err, errcode.Expired)
}

// referenceOf extracts status.status_list from the issuer-signed JWT of an
// SD-JWT (the claim is in clear in the vector).
func referenceOf(t *testing.T, sdjwt string) Reference {
	t.Helper()
	jwtPart, _, _ := strings.Cut(sdjwt, "~")
	parts := strings.Split(jwtPart, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Status struct {
			StatusList Reference `json:"status_list"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p.Status.StatusList
}

// TestEndToEndVector: the referenced token's status_list {idx 0, uri} and
// the status list token give status 1 (INVALID).
func TestEndToEndVector(t *testing.T) {
	v, pub := loadTokenVectors(t)
	ref := referenceOf(t, v.ReferencedSDJWT.Serialized)
	if ref.Idx != v.EndToEnd.Idx || ref.URI != "https://example.com/statuslists/1" {
		t.Fatalf("reference %+v", ref)
	}
	// The draft's example pair is signed by one key but names different
	// issuers (https://example.com/issuer vs https://example.com); agentcert
	// requires the list's iss to be the credential's, so the list issuer is
	// the one passed here.
	c := NewClient(ClientOptions{
		Fetch: func(_ context.Context, url, accept string, _ int64) ([]byte, error) {
			if url != ref.URI || accept != "application/statuslist+jwt" {
				return nil, errcode.New(errcode.FetchFailed, "unexpected fetch %s (%s)", url, accept)
			}
			return []byte(v.JWT.Serialized + "\n"), nil
		},
		Key:    staticKey("https://example.com", pub),
		MaxAge: time.Minute,
		Now:    func() time.Time { return vectorNow },
	})
	st, err := c.Status(context.Background(), ref, "https://example.com")
	if err != nil {
		t.Fatal(err)
	}
	if st.Value != v.EndToEnd.ExpectedValue || !st.AsOf.Equal(time.Unix(v.JWT.Payload.Iat, 0)) || !st.FetchedAt.Equal(vectorNow) {
		t.Fatalf("status %+v", st)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		t.Run(alg.String(), func(t *testing.T) {
			key := testkeys.New(t, alg, "did:web:issuer.example#k1")
			l := mustList(t, 1<<16, 2, map[int]uint8{7: StatusRevoked, 8: StatusSuspended, 65535: 3})
			iat := time.Unix(1760000000, 0)
			c := TokenClaims{Subject: "https://issuer.example/statuslists/7", Issuer: "did:web:issuer.example",
				IssuedAt: iat, Expires: iat.Add(time.Hour), TTL: 90*time.Second + time.Millisecond}
			s, err := SignToken(l, c, key)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := jws.Parse([]byte(s))
			h := msg.Signatures()[0].ProtectedHeaders()
			if h.Type() != "statuslist+jwt" || h.KeyID() != "did:web:issuer.example#k1" || h.Algorithm() != alg {
				t.Fatalf("header typ %q kid %q alg %q", h.Type(), h.KeyID(), h.Algorithm())
			}
			tok, err := VerifyToken(context.Background(), s, VerifyTokenOptions{
				Key: staticKey(c.Issuer, publicOf(t, key)), ExpectedIssuer: c.Issuer, ExpectedSubject: c.Subject,
				Now: func() time.Time { return iat.Add(time.Minute) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if tok.TTL != 91*time.Second || !tok.Expires.Equal(c.Expires) || !tok.IssuedAt.Equal(iat) || tok.Subject != c.Subject || tok.Issuer != c.Issuer {
				t.Fatalf("token %+v", tok)
			}
			for i, want := range map[int]uint8{0: 0, 7: 1, 8: 2, 65535: 3} {
				if got, _ := tok.List.Get(i); got != want {
					t.Errorf("entry %d = %d, want %d", i, got, want)
				}
			}
		})
	}
}

func TestSignTokenErrors(t *testing.T) {
	key := testkeys.New(t, jwa.ES256, "k")
	l := mustList(t, 8, 2, nil)
	iat := time.Unix(1760000000, 0)
	good := TokenClaims{Subject: "https://x/1", Issuer: "https://x", IssuedAt: iat, Expires: iat.Add(time.Hour)}
	noKid := testkeys.New(t, jwa.ES256, "k")
	_ = noKid.Remove(jwk.KeyIDKey)
	noAlg := testkeys.New(t, jwa.ES256, "k")
	_ = noAlg.Remove(jwk.AlgorithmKey)
	for _, tc := range []struct {
		name string
		l    *List
		c    TokenClaims
		key  jwk.Key
		code errcode.Code
	}{
		{"nil list", nil, good, key, errcode.InvalidInput},
		{"no subject", l, TokenClaims{Issuer: "i", IssuedAt: iat}, key, errcode.InvalidInput},
		{"no issuer", l, TokenClaims{Subject: "s", IssuedAt: iat}, key, errcode.InvalidInput},
		{"no iat", l, TokenClaims{Subject: "s", Issuer: "i"}, key, errcode.InvalidInput},
		{"exp before iat", l, TokenClaims{Subject: "s", Issuer: "i", IssuedAt: iat, Expires: iat}, key, errcode.InvalidInput},
		{"negative ttl", l, TokenClaims{Subject: "s", Issuer: "i", IssuedAt: iat, TTL: -1}, key, errcode.InvalidInput},
		{"nil key", l, good, nil, errcode.InvalidInput},
		{"key without kid", l, good, noKid, errcode.InvalidInput},
		{"key without alg", l, good, noAlg, errcode.UnsupportedAlg},
		{"HMAC key", l, good, testkeys.New(t, jwa.HS256, "k"), errcode.UnsupportedAlg},
		{"public key", l, good, publicOf(t, key), errcode.InvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SignToken(tc.l, tc.c, tc.key)
			testkit.WantCode(t, err, tc.code)
		})
	}
}

// signRaw signs payload with key under the given protected headers (alg is
// taken from the key unless hdr names one).
func signRaw(t *testing.T, key jwk.Key, hdr map[string]any, payload any) string {
	t.Helper()
	return testkeys.SignJWS(t, key, jwa.SignatureAlgorithm(jose.KeyAlg(key)), hdr, payload)
}

func TestVerifyTokenErrors(t *testing.T) {
	const iss, sub = "did:web:issuer.example", "https://issuer.example/statuslists/1"
	now := time.Unix(1760000000, 0)
	key := testkeys.New(t, jwa.ES256, "k1")
	pub := publicOf(t, key)
	other := testkeys.New(t, jwa.ES256, "k1")
	lst, _ := mustList(t, 16, 2, nil).EncodeIETF()
	typ := map[string]any{"typ": "statuslist+jwt", "kid": "k1"}
	claims := func(edit func(map[string]any)) map[string]any {
		m := map[string]any{
			"iss": iss, "sub": sub, "iat": now.Unix() - 60, "exp": now.Unix() + 3600, "ttl": 300,
			"status_list": map[string]any{"bits": 2, "lst": lst},
		}
		if edit != nil {
			edit(m)
		}
		return m
	}
	good := signRaw(t, key, typ, claims(nil))
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+iss+`"}`)) + "." + parts[2]
	noneTok := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"statuslist+jwt"}`)) + "." + parts[1] + "."
	bomb := zlibB64(t, make([]byte, 4096), nil)
	hsKey := testkeys.New(t, jwa.HS256, "k1")
	es384 := testkeys.New(t, jwa.ES384, "k1")
	keyOtherAlg := publicOf(t, testkeys.New(t, jwa.ES256, "k1"))
	_ = keyOtherAlg.Set(jwk.AlgorithmKey, jwa.ES384)

	for _, tc := range []struct {
		name  string
		token string
		edit  func(*VerifyTokenOptions)
		code  errcode.Code
	}{
		{"too large", good, func(o *VerifyTokenOptions) { o.MaxBytes = len(good) - 1 }, errcode.TooLarge},
		{"no KeyFunc", good, func(o *VerifyTokenOptions) { o.Key = nil }, errcode.InvalidInput},
		{"two parts", parts[0] + "." + parts[1], nil, errcode.StatusInvalid},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, nil, errcode.StatusInvalid},
		{"garbage header", "!!." + parts[1] + "." + parts[2], nil, errcode.StatusInvalid},
		{"typ JWT", signRaw(t, key, map[string]any{"typ": "JWT"}, claims(nil)), nil, errcode.WrongTyp},
		{"typ missing", signRaw(t, key, map[string]any{}, claims(nil)), nil, errcode.WrongTyp},
		{"typ vc+jwt", signRaw(t, key, map[string]any{"typ": "vc+jwt"}, claims(nil)), nil, errcode.WrongTyp},
		{"crit", signRaw(t, key, map[string]any{"typ": "statuslist+jwt", "crit": []string{"exp"}, "exp": 1}, claims(nil)), nil, errcode.UnknownCrit},
		{"alg none", noneTok, nil, errcode.UnsupportedAlg},
		{"HS256 even when listed", signRaw(t, hsKey, typ, claims(nil)), func(o *VerifyTokenOptions) {
			o.Algorithms = []jwa.SignatureAlgorithm{jwa.HS256, jwa.ES256}
			o.Key = staticKey(iss, hsKey)
		}, errcode.UnsupportedAlg},
		{"ES384 not on the default list", signRaw(t, es384, typ, claims(nil)), nil, errcode.UnsupportedAlg},
		{"ES256 not on a custom list", good, func(o *VerifyTokenOptions) { o.Algorithms = []jwa.SignatureAlgorithm{jwa.EdDSA} }, errcode.UnsupportedAlg},
		{"KeyFunc error with code", good, func(o *VerifyTokenOptions) {
			o.Key = func(context.Context, string, jws.Headers) (jwk.Key, error) {
				return nil, errcode.New(errcode.DIDResolutionFailed, "down")
			}
		}, errcode.DIDResolutionFailed},
		{"KeyFunc plain error", good, func(o *VerifyTokenOptions) {
			o.Key = func(context.Context, string, jws.Headers) (jwk.Key, error) { return nil, errors.New("boom") }
		}, errcode.KeyNotFound},
		{"KeyFunc nil key", good, func(o *VerifyTokenOptions) {
			o.Key = func(context.Context, string, jws.Headers) (jwk.Key, error) { return nil, nil }
		}, errcode.KeyNotFound},
		{"key asked for the expected issuer", signRaw(t, key, typ, claims(func(m map[string]any) { m["iss"] = "did:web:evil" })), func(o *VerifyTokenOptions) {
			o.Key = staticKey("did:web:evil", pub)
		}, errcode.KeyNotFound},
		{"signed by another key", signRaw(t, other, typ, claims(nil)), nil, errcode.BadSignature},
		{"tampered payload", tampered, nil, errcode.BadSignature},
		{"key alg differs from header alg", good, func(o *VerifyTokenOptions) { o.Key = staticKey(iss, keyOtherAlg) }, errcode.BadSignature},
		{"payload not JSON", signRaw(t, key, typ, []byte("not json")), nil, errcode.StatusInvalid},
		{"expired", signRaw(t, key, typ, claims(func(m map[string]any) { m["exp"] = now.Unix() - 10 })), nil, errcode.Expired},
		{"iat in the future", signRaw(t, key, typ, claims(func(m map[string]any) { m["iat"] = now.Unix() + 600 })), nil, errcode.NotYetValid},
		{"nbf in the future", signRaw(t, key, typ, claims(func(m map[string]any) { m["nbf"] = now.Unix() + 600 })), nil, errcode.NotYetValid},
		{"no sub", signRaw(t, key, typ, claims(func(m map[string]any) { delete(m, "sub") })), nil, errcode.MissingClaim},
		{"no iat", signRaw(t, key, typ, claims(func(m map[string]any) { delete(m, "iat") })), nil, errcode.MissingClaim},
		{"no iss", signRaw(t, key, typ, claims(func(m map[string]any) { delete(m, "iss") })), nil, errcode.MissingClaim},
		{"no status_list", signRaw(t, key, typ, claims(func(m map[string]any) { delete(m, "status_list") })), nil, errcode.MissingClaim},
		{"wrong iss", signRaw(t, key, typ, claims(func(m map[string]any) { m["iss"] = "did:web:other" })), nil, errcode.StatusInvalid},
		{"wrong sub", signRaw(t, key, typ, claims(func(m map[string]any) { m["sub"] = sub + "0" })), nil, errcode.StatusInvalid},
		{"exp not after iat", signRaw(t, key, typ, claims(func(m map[string]any) { m["iat"] = now.Unix() - 5; m["exp"] = now.Unix() - 5 })), func(o *VerifyTokenOptions) { o.Leeway = time.Minute }, errcode.StatusInvalid},
		{"ttl zero", signRaw(t, key, typ, claims(func(m map[string]any) { m["ttl"] = 0 })), nil, errcode.StatusInvalid},
		{"ttl negative", signRaw(t, key, typ, claims(func(m map[string]any) { m["ttl"] = -5 })), nil, errcode.StatusInvalid},
		{"ttl string", signRaw(t, key, typ, claims(func(m map[string]any) { m["ttl"] = "300" })), nil, errcode.StatusInvalid},
		{"status_list a string", signRaw(t, key, typ, claims(func(m map[string]any) { m["status_list"] = lst })), nil, errcode.StatusInvalid},
		{"bits 3", signRaw(t, key, typ, claims(func(m map[string]any) { m["status_list"] = map[string]any{"bits": 3, "lst": lst} })), nil, errcode.StatusInvalid},
		{"payload an array", signRaw(t, key, typ, []byte(`["iss"]`)), nil, errcode.StatusInvalid},
		{"iss a number", signRaw(t, key, typ, claims(func(m map[string]any) { m["iss"] = 7 })), nil, errcode.StatusInvalid},
		{"sub an object", signRaw(t, key, typ, claims(func(m map[string]any) { m["sub"] = map[string]any{"uri": sub} })), nil, errcode.StatusInvalid},
		{"sub null", signRaw(t, key, typ, claims(func(m map[string]any) { m["sub"] = nil })), nil, errcode.MissingClaim},
		{"iat a date string", signRaw(t, key, typ, claims(func(m map[string]any) { m["iat"] = "2025-10-09T08:53:20Z" })), nil, errcode.StatusInvalid},
		{"exp negative", signRaw(t, key, typ, claims(func(m map[string]any) { m["exp"] = -1 })), nil, errcode.StatusInvalid},
		{"bits 2.5", signRaw(t, key, typ, claims(func(m map[string]any) { m["status_list"] = map[string]any{"bits": 2.5, "lst": lst} })), nil, errcode.StatusInvalid},
		{"bits a string", signRaw(t, key, typ, claims(func(m map[string]any) { m["status_list"] = map[string]any{"bits": "2", "lst": lst} })), nil, errcode.StatusInvalid},
		{"lst a number", signRaw(t, key, typ, claims(func(m map[string]any) { m["status_list"] = map[string]any{"bits": 2, "lst": 5} })), nil, errcode.StatusInvalid},
		{"no lst", signRaw(t, key, typ, claims(func(m map[string]any) { m["status_list"] = map[string]any{"bits": 2} })), nil, errcode.StatusInvalid},
		{"lst not zlib", signRaw(t, key, typ, claims(func(m map[string]any) { m["status_list"] = map[string]any{"bits": 2, "lst": "aGVsbG8"} })), nil, errcode.StatusInvalid},
		{"lst over the cap", signRaw(t, key, typ, claims(func(m map[string]any) { m["status_list"] = map[string]any{"bits": 2, "lst": bomb} })), func(o *VerifyTokenOptions) { o.MaxBytes = 2048 }, errcode.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := VerifyTokenOptions{
				Key: staticKey(iss, pub), ExpectedIssuer: iss, ExpectedSubject: sub,
				Now: func() time.Time { return now },
			}
			if tc.edit != nil {
				tc.edit(&o)
			}
			_, err := VerifyToken(context.Background(), tc.token, o)
			testkit.WantCode(t, err, tc.code)
		})
	}

	// The good token passes, with either typ spelling, and within leeway.
	for name, tok := range map[string]string{
		"good":                  good,
		"application/ typ":      signRaw(t, key, map[string]any{"typ": "application/statuslist+jwt"}, claims(nil)),
		"expired within leeway": signRaw(t, key, typ, claims(func(m map[string]any) { m["exp"] = now.Unix() - 10 })),
		"no exp, no ttl":        signRaw(t, key, typ, claims(func(m map[string]any) { delete(m, "exp"); delete(m, "ttl") })),
	} {
		t.Run("ok "+name, func(t *testing.T) {
			_, err := VerifyToken(context.Background(), tok, VerifyTokenOptions{
				Key: staticKey(iss, pub), ExpectedIssuer: iss, ExpectedSubject: sub,
				Now: func() time.Time { return now }, Leeway: 30 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}

	// Without an expected issuer, Key is asked for the token's own iss.
	var asked string
	_, err := VerifyToken(context.Background(), good, VerifyTokenOptions{
		Key: func(_ context.Context, i string, _ jws.Headers) (jwk.Key, error) { asked = i; return pub, nil },
		Now: func() time.Time { return now },
	})
	if err != nil || asked != iss {
		t.Fatalf("asked %q, err %v", asked, err)
	}
}

// TestSec08DuplicateStatusListMember: a signed Status List Token whose
// payload carries status_list twice (one list for each parser that keeps
// the first or the last) is status_invalid, as are members that differ
// only in case; the same token with one member verifies.
func TestSec08DuplicateStatusListMember(t *testing.T) {
	const iss, sub = "did:web:issuer.example", "https://issuer.example/statuslists/1"
	now := time.Unix(1760000000, 0)
	key := testkeys.New(t, jwa.ES256, "k1")
	pub := publicOf(t, key)
	valid, _ := mustList(t, 16, 2, nil).EncodeIETF()
	revoked, _ := mustList(t, 16, 2, map[int]uint8{3: 1}).EncodeIETF()
	typ := map[string]any{"typ": "statuslist+jwt", "kid": "k1"}
	head := fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d,"exp":%d,"ttl":300,`, iss, sub, now.Unix()-60, now.Unix()+3600)
	one := fmt.Sprintf(`"status_list":{"bits":2,"lst":%q}`, revoked)
	opts := VerifyTokenOptions{Key: staticKey(iss, pub), ExpectedIssuer: iss, ExpectedSubject: sub, Now: func() time.Time { return now }}
	if _, err := VerifyToken(context.Background(), signRaw(t, key, typ, []byte(head+one+"}")), opts); err != nil {
		t.Fatalf("one status_list: %v", err)
	}
	for name, body := range map[string]string{
		"duplicate status_list": head + one + fmt.Sprintf(`,"status_list":{"bits":2,"lst":%q}}`, valid),
		"duplicate inside":      head + fmt.Sprintf(`"status_list":{"bits":2,"lst":%q,"lst":%q}}`, revoked, valid),
		"case variant":          head + one + fmt.Sprintf(`,"Status_List":{"bits":2,"lst":%q}}`, valid),
	} {
		_, err := VerifyToken(context.Background(), signRaw(t, key, typ, []byte(body)), opts)
		if errcode.CodeOf(err) != errcode.StatusInvalid {
			t.Errorf("%s: %v, want status_invalid", name, err)
		}
	}
}
