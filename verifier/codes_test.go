package verifier

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// codesFixture is an issuer, an agent, a status list and a verifier that
// trusts the issuer and demands single-use nonces: everything the table of
// TestVerifyFailureCodes changes one thing of.
type codesFixture struct {
	t              *testing.T
	iss, agent     jwk.Key
	issDID         string
	nonces         *Nonces
	v              *Verifier
	now            time.Time
	statusURI      string
	unreachableURI string
}

const codesAudience = "https://counterparty.example"

func newCodesFixture(t *testing.T) *codesFixture {
	t.Helper()
	f := &codesFixture{t: t, now: time.Now(), statusURI: "https://status.example/lists/1", unreachableURI: "https://status.example/down"}
	f.iss, f.issDID = testkeys.DIDKey(t, jwa.ES256)
	f.agent, _ = testkeys.DIDKey(t, jwa.EdDSA)
	l, err := revocation.NewList(16, 2)
	if err != nil {
		t.Fatal(err)
	}
	for idx, v := range map[int]uint8{2: revocation.StatusRevoked, 3: revocation.StatusSuspended, 4: 3} {
		if err := l.Set(idx, v); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := revocation.SignToken(l, revocation.TokenClaims{Subject: f.statusURI, Issuer: f.issDID, IssuedAt: f.now, Expires: f.now.Add(time.Hour)}, f.iss)
	if err != nil {
		t.Fatal(err)
	}
	if f.nonces, err = NewNonces(nil, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	p := DefaultPolicy()
	p.Trusted[f.issDID] = []string{schemas.AgentCertificationV1}
	p.RequireNonce = true
	p.MaxStatusAge = 0
	f.v, err = New(p, WithNonces(f.nonces), WithFetch(func(_ context.Context, url, _ string, _ int64) ([]byte, error) {
		if url == f.statusURI {
			return []byte(tok), nil
		}
		return nil, errcode.New(errcode.FetchFailed, "%s is unreachable", url)
	}))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// claims is an agent certification that passes every check, with status
// index idx.
func (f *codesFixture) claims(idx int) map[string]any {
	apub, err := f.agent.PublicKey()
	if err != nil {
		f.t.Fatal(err)
	}
	return map[string]any{
		"iss": f.issDID, "vct": schemas.AgentCertificationV1, "sub": "did:example:agent",
		"iat": f.now.Unix(), "nbf": f.now.Unix(), "exp": f.now.Add(time.Hour).Unix(),
		"cnf":          map[string]any{"jwk": apub},
		"status":       map[string]any{"status_list": map[string]any{"idx": idx, "uri": f.statusURI}},
		"permissions":  []any{map[string]any{"action": "invoices:read"}},
		"prohibitions": []any{"payments:initiate"},
	}
}

func (f *codesFixture) issue(claims map[string]any, sd []string, key jwk.Key, opts *sdjwt.IssueOptions) string {
	f.t.Helper()
	cred, err := sdjwt.Issue(claims, sd, key, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return cred
}

// present adds a KB-JWT by holder for the audience with a fresh nonce.
func (f *codesFixture) present(cred string, holder jwk.Key, iat time.Time) (string, string) {
	f.t.Helper()
	n, _, err := f.nonces.Issue()
	if err != nil {
		f.t.Fatal(err)
	}
	pres, err := sdjwt.Present(cred, []string{""}, &sdjwt.KBOptions{Key: holder, Audience: codesAudience, Nonce: n, IssuedAt: iat})
	if err != nil {
		f.t.Fatal(err)
	}
	return pres, n
}

// TestVerifyFailureCodes drives Verify, in process, into each failure it
// reports, and pins the code (and the cause, where there is one).
func TestVerifyFailureCodes(t *testing.T) {
	f := newCodesFixture(t)
	good := f.issue(f.claims(1), []string{"/permissions/0"}, f.iss, nil)
	b64 := base64.RawURLEncoding
	otherAgent, _ := testkeys.DIDKey(t, jwa.EdDSA)
	stranger, strangerDID := testkeys.DIDKey(t, jwa.ES256)
	wrongKid, _ := testkeys.DIDKey(t, jwa.ES256)
	_ = wrongKid.Set(jwk.KeyIDKey, f.issDID+"#not-the-key")
	with := func(edit func(map[string]any)) map[string]any {
		c := f.claims(1)
		edit(c)
		return c
	}
	kb := func(cred string) Request {
		pres, n := f.present(cred, f.agent, time.Now())
		return Request{Presentation: pres, Audience: codesAudience, Nonce: n}
	}
	spent := kb(good)
	if r := f.v.Verify(context.Background(), spent); !r.Verified {
		t.Fatalf("the good presentation does not verify: %+v", r.Error)
	}

	for _, tc := range []struct {
		name  string
		req   func() Request
		code  errcode.Code
		cause errcode.Code
	}{
		{"no audience", func() Request { r := kb(good); r.Audience = ""; return r }, errcode.InvalidInput, ""},
		{"not an SD-JWT", func() Request { return Request{Presentation: "not-a-jwt", Audience: codesAudience} }, errcode.Malformed, ""},
		{"too large", func() Request {
			return Request{Presentation: strings.Repeat("a", sdjwt.DefaultMaxPresentationBytes+1), Audience: codesAudience}
		}, errcode.TooLarge, ""},
		{"disclosure not base64url", func() Request { return Request{Presentation: good + "!!~", Audience: codesAudience} }, errcode.DisclosureMalformed, ""},
		{"alg none", func() Request {
			parts := strings.SplitN(good, ".", 3)
			return Request{Presentation: b64.EncodeToString([]byte(`{"alg":"none","typ":"dc+sd-jwt"}`)) + "." + parts[1] + ".~", Audience: codesAudience}
		}, errcode.UnsupportedAlg, ""},
		{"typ JWT", func() Request { return kb(f.issue(f.claims(1), nil, f.iss, &sdjwt.IssueOptions{Typ: "JWT"})) }, errcode.WrongTyp, ""},
		{"crit header", func() Request {
			body, _ := json.Marshal(f.claims(1))
			h := jws.NewHeaders()
			for k, v := range map[string]any{"typ": sdjwt.TypVC, "kid": f.iss.KeyID(), "crit": []string{"x-ext"}, "x-ext": 1} {
				_ = h.Set(k, v)
			}
			jwt, err := jws.Sign(body, jws.WithKey(jwa.ES256, f.iss, jws.WithProtectedHeaders(h)))
			if err != nil {
				t.Fatal(err)
			}
			return kb(string(jwt) + "~")
		}, errcode.UnknownCrit, ""},
		{"tampered payload", func() Request {
			plain := f.issue(f.claims(1), nil, f.iss, nil)
			other := f.issue(with(func(c map[string]any) { c["sub"] = "did:example:someone-else" }), nil, f.iss, nil)
			a, b := strings.SplitN(plain, ".", 3), strings.SplitN(other, ".", 3)
			return kb(a[0] + "." + b[1] + "." + a[2])
		}, errcode.BadSignature, ""},
		{"issuer outside the policy", func() Request {
			return kb(f.issue(with(func(c map[string]any) { c["iss"] = strangerDID }), nil, stranger, nil))
		}, errcode.UntrustedIssuer, ""},
		{"issuer trusted for another vct", func() Request {
			return kb(f.issue(with(func(c map[string]any) { c["vct"] = "urn:example:other" }), nil, f.iss, nil))
		}, errcode.UntrustedIssuer, ""},
		{"kid not in the issuer's DID", func() Request { return kb(f.issue(f.claims(1), nil, wrongKid, nil)) }, errcode.KeyNotFound, ""},
		{"expired", func() Request {
			return kb(f.issue(with(func(c map[string]any) { c["exp"] = f.now.Add(-time.Hour).Unix() }), nil, f.iss, nil))
		}, errcode.Expired, ""},
		{"not yet valid", func() Request {
			return kb(f.issue(with(func(c map[string]any) { c["nbf"] = f.now.Add(time.Hour).Unix() }), nil, f.iss, nil))
		}, errcode.NotYetValid, ""},
		{"disclosure presented twice", func() Request {
			i := strings.IndexByte(good, '~')
			d := good[i+1 : strings.IndexByte(good[i+1:], '~')+i+1]
			return Request{Presentation: good + d + "~", Audience: codesAudience}
		}, errcode.DuplicateDisclosure, ""},
		{"no KB-JWT", func() Request { return Request{Presentation: good, Audience: codesAudience} }, errcode.KBMissing, ""},
		{"KB-JWT by another key", func() Request {
			pres, n := f.present(good, otherAgent, time.Now())
			return Request{Presentation: pres, Audience: codesAudience, Nonce: n}
		}, errcode.KBBadSignature, ""},
		{"KB-JWT too old", func() Request {
			pres, n := f.present(good, f.agent, time.Now().Add(-time.Hour))
			return Request{Presentation: pres, Audience: codesAudience, Nonce: n}
		}, errcode.KBStale, ""},
		{"KB-JWT for another audience", func() Request { r := kb(good); r.Audience = "https://elsewhere.example"; return r }, errcode.KBWrongAudience, ""},
		{"KB-JWT with another nonce than expected", func() Request { r := kb(good); r.Nonce = "expected-other"; return r }, errcode.KBWrongNonce, ""},
		{"nonce not issued here", func() Request {
			pres, err := sdjwt.Present(good, []string{""}, &sdjwt.KBOptions{Key: f.agent, Audience: codesAudience, Nonce: "forged"})
			if err != nil {
				t.Fatal(err)
			}
			return Request{Presentation: pres, Audience: codesAudience}
		}, errcode.NonceInvalid, ""},
		{"nonce already spent", func() Request { return spent }, errcode.NonceReplayed, ""},
		{"prohibitions selectively disclosable", func() Request { return kb(f.issue(f.claims(1), []string{"/prohibitions"}, f.iss, nil)) }, errcode.MissingClaim, ""},
		{"permission constraints hidden", func() Request {
			c := with(func(c map[string]any) {
				c["permissions"] = []any{map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": 10}}}
			})
			return kb(f.issue(c, []string{"/permissions/0", "/permissions/0/constraints"}, f.iss, nil))
		}, errcode.MissingClaim, ""},
		{"no status reference", func() Request {
			return kb(f.issue(with(func(c map[string]any) { delete(c, "status") }), nil, f.iss, nil))
		}, errcode.StatusInvalid, ""},
		{"status reference without idx", func() Request {
			return kb(f.issue(with(func(c map[string]any) {
				c["status"] = map[string]any{"status_list": map[string]any{"uri": f.statusURI}}
			}), nil, f.iss, nil))
		}, errcode.StatusInvalid, ""},
		{"revoked", func() Request { return kb(f.issue(f.claims(2), nil, f.iss, nil)) }, errcode.Revoked, ""},
		{"suspended", func() Request { return kb(f.issue(f.claims(3), nil, f.iss, nil)) }, errcode.Suspended, ""},
		{"unknown status value", func() Request { return kb(f.issue(f.claims(4), nil, f.iss, nil)) }, errcode.StatusInvalid, ""},
		{"status list unreachable", func() Request {
			return kb(f.issue(with(func(c map[string]any) {
				c["status"] = map[string]any{"status_list": map[string]any{"idx": 1, "uri": f.unreachableURI}}
			}), nil, f.iss, nil))
		}, errcode.StatusUnavailable, errcode.FetchFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.v.Verify(context.Background(), tc.req())
			if r.Verified || r.Code() != tc.code || r.Error.Cause != tc.cause {
				t.Fatalf("verified=%v error %+v, want %s (cause %q)", r.Verified, r.Error, tc.code, tc.cause)
			}
		})
	}

	// A required claim that was not disclosed, with a policy that names it.
	p := f.v.p
	p.RequiredClaims = []string{"/principal/id"}
	strict, err := New(p, WithNonces(f.nonces), WithFetch(f.v.s.fetch))
	if err != nil {
		t.Fatal(err)
	}
	if r := strict.Verify(context.Background(), kb(good)); r.Verified || r.Code() != errcode.ClaimNotDisclosed {
		t.Fatalf("required claim not disclosed: %+v", r.Error)
	}
}

// TestMiddlewareOutageIsNotARefusal: the middleware answers a presentation
// it could not decide on because a dependency failed (the issuer's status
// list unreachable) with the API's status for that code, 502
// status_unavailable, so that the agent sends the same request again later
// rather than another credential; a revoked credential stays 401.
func TestMiddlewareOutageIsNotARefusal(t *testing.T) {
	f := newCodesFixture(t)
	mw, err := Middleware(f.v, MiddlewareOptions{Audience: codesAudience, Nonces: f.nonces, Action: func(*http.Request) (string, map[string]any) {
		return "invoices:read", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	send := func(claims map[string]any) (int, string) {
		pres, _ := f.present(f.issue(claims, nil, f.iss, nil), f.agent, time.Now())
		req := httptest.NewRequest(http.MethodGet, "/invoices", nil)
		req.Header.Set(HeaderAgentCredential, pres)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body struct{ Code string }
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body.Code
	}
	down := f.claims(1)
	down["status"] = map[string]any{"status_list": map[string]any{"idx": 1, "uri": f.unreachableURI}}
	if status, code := send(down); status != http.StatusBadGateway || code != string(errcode.StatusUnavailable) {
		t.Fatalf("status list unreachable: %d %s, want 502 status_unavailable", status, code)
	}
	if status, code := send(f.claims(2)); status != http.StatusUnauthorized || code != string(errcode.Revoked) {
		t.Fatalf("revoked: %d %s, want 401 revoked", status, code)
	}
}
