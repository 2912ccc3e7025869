package verifier

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// TestResultWireShape pins the documented JSON of a result: the error is
// the one element of "errors", an empty array when the presentation
// verified, and a result read back equals the one written.
func TestResultWireShape(t *testing.T) {
	ok := &Result{Verified: true, Issuer: "did:example:i", Status: StatusInfo{Checked: true, Value: "valid"}}
	b, err := json.Marshal(ok)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"verified":true,"issuer":"did:example:i","status":{"checked":true,"value":"valid"},"errors":[]}`; string(b) != want {
		t.Fatalf("verified result: %s\nwant %s", b, want)
	}
	failed := (&Result{}).fail(errcode.Wrap(errcode.StatusUnavailable, errcode.New(errcode.FetchRefused, "private address"), "status list unreachable"))
	b, err = json.Marshal(failed)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"verified":false,"status":{"checked":false},"errors":[{"code":"status_unavailable","message":"status list unreachable","cause":"fetch_refused"}]}`; string(b) != want {
		t.Fatalf("failed result: %s\nwant %s", b, want)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Verified || back.Error == nil || *back.Error != *failed.Error || back.Code() != errcode.StatusUnavailable {
		t.Fatalf("read back %+v, want %+v", back, failed)
	}
	two := strings.Replace(string(b), `"errors":[`, `"errors":[{"code":"revoked","message":"x"},`, 1)
	if err := json.Unmarshal([]byte(two), &back); err == nil {
		t.Fatal("a result with two errors was read")
	}
	// A member twice, or in another case, is refused, not read as the last.
	for _, s := range []string{`{"verified":false,"verified":true,"errors":[]}`, `{"verified":false,"VERIFIED":true,"errors":[]}`} {
		var r Result
		if err := json.Unmarshal([]byte(s), &r); err == nil {
			t.Fatalf("%s read as verified=%v", s, r.Verified)
		}
	}
}

// TestRequestWireShape pins the body of POST /v1/verify: the in-process
// fields never travel.
func TestRequestWireShape(t *testing.T) {
	nonces, err := NewNonces(nil, 60e9, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(Request{Presentation: "p", Audience: "a", Action: "x:y", Attributes: map[string]any{"amount": 1}, Nonces: nonces, RequireKB: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"presentation":"p","audience":"a","action":"x:y","request":{"amount":1}}`; string(b) != want {
		t.Fatalf("request: %s\nwant %s", b, want)
	}
}

func TestMiddlewareRefusesOptionsThatCannotWork(t *testing.T) {
	nonces, err := NewNonces(nil, 60e9, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, issDID := testkeys.DIDKey(t, jwa.ES256)
	p := DefaultPolicy()
	p.Trusted[issDID] = []string{AnyVCT}
	v, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	good := MiddlewareOptions{Audience: "https://api.example", Nonces: nonces}
	if _, err := Middleware(v, good); err != nil {
		t.Fatalf("good options: %v", err)
	}
	inspector, err := New(p, WithAnyIssuer())
	if err != nil {
		t.Fatal(err)
	}
	pinned, _ := testkeys.DIDKey(t, jwa.ES256)
	pinnedV, err := New(p, WithPinnedIssuerKey(pinned))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		v    *Verifier
		opts MiddlewareOptions
		want string
	}{
		"no verifier": {nil, good, "needs a verifier"},
		"any issuer":  {inspector, good, "offline inspection"},
		"pinned key":  {pinnedV, good, "offline inspection"},
		"no audience": {v, MiddlewareOptions{Nonces: nonces}, "Audience is required"},
		"no nonces":   {v, MiddlewareOptions{Audience: "https://api.example"}, "Nonces is required"},
	} {
		mw, err := Middleware(tc.v, tc.opts)
		if err == nil || mw != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
	if v.Inspecting() || !inspector.Inspecting() || !pinnedV.Inspecting() {
		t.Fatal("Inspecting does not tell the trust modes of inspection")
	}
}

// TestInspectionTrustsAnyIssuer shows what the inspection modes change:
// an issuer outside the policy is accepted.
func TestInspectionTrustsAnyIssuer(t *testing.T) {
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	pres := presentFrom(t, iss, issDID)
	p := DefaultPolicy()
	p.CheckStatus = false
	strict, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Presentation: pres, Audience: "aud", Nonce: "n"}
	if r := strict.Verify(context.Background(), req); r.Verified || r.Code() != errcode.UntrustedIssuer {
		t.Fatalf("policy trusting nobody: %+v", r.Error)
	}
	loose, err := New(p, WithAnyIssuer())
	if err != nil {
		t.Fatal(err)
	}
	if r := loose.Verify(context.Background(), req); !r.Verified {
		t.Fatalf("WithAnyIssuer: %+v", r.Error)
	}
	pub, err := iss.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := New(p, WithPinnedIssuerKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	if r := pinned.Verify(context.Background(), req); !r.Verified {
		t.Fatalf("WithPinnedIssuerKey: %+v", r.Error)
	}
	other, _ := testkeys.DIDKey(t, jwa.ES256)
	otherPub, _ := other.PublicKey()
	wrong, err := New(p, WithPinnedIssuerKey(otherPub))
	if err != nil {
		t.Fatal(err)
	}
	if r := wrong.Verify(context.Background(), req); r.Verified || r.Code() != errcode.BadSignature {
		t.Fatalf("another pinned key: %+v", r.Error)
	}
}

// presentFrom issues a credential of vct urn:x from iss to a fresh agent
// key and presents it with a KB-JWT for audience "aud" and nonce "n".
func presentFrom(t *testing.T, iss jwk.Key, issDID string) string {
	t.Helper()
	agent, _ := testkeys.DIDKey(t, jwa.EdDSA)
	apub, err := agent.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cred, err := sdjwt.Issue(map[string]any{"iss": issDID, "vct": "urn:x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": apub}}, nil, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	pres, err := sdjwt.Present(cred, nil, &sdjwt.KBOptions{Key: agent, Audience: "aud", Nonce: "n"})
	if err != nil {
		t.Fatal(err)
	}
	return pres
}
