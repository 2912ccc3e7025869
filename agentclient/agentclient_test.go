package agentclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestNewRefuses(t *testing.T) {
	k, _ := keyutil.Generate(jwa.EdDSA)
	pub, _ := keyutil.Public(k)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k384, _ := jwk.FromRaw(p384)
	for name, o := range map[string]Options{
		"no credential": {Key: k},
		"no key":        {Credential: "x~"},
		"public key":    {Credential: "x~", Key: pub},
		"P-384 key":     {Credential: "x~", Key: k384},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestAsksOnce: a counterparty that keeps answering credential_required
// gets one presentation attempt per request, not a loop; an unsigned
// header the caller set is replaced, and the body is signed by digest.
func TestAsksOnce(t *testing.T) {
	var sent, presented atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		if r.Header.Get(verifier.HeaderAgentCredential) != "" {
			presented.Add(1)
		}
		b, _ := io.ReadAll(r.Body)
		if err := httpsig.CheckContentDigest(r.Header.Values("Content-Digest"), b); err != nil || string(b) != "{}" {
			t.Errorf("body %q, digest: %v", b, err)
		}
		if strings.Contains(r.Header.Get("Signature"), "forged") {
			t.Error("the caller's Signature header was sent")
		}
		w.Header().Set(verifier.HeaderCredentialNonce, "n")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	k, _ := keyutil.Generate(jwa.EdDSA)
	tr, err := New(Options{Credential: credentialFor(t, k), Key: k, Base: srv.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/x", strings.NewReader("{}"))
	req.Header.Set("Signature", "sig1=:forged:")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || sent.Load() != 2 || presented.Load() != 1 {
		t.Fatalf("status %d, sent %d, presented %d", resp.StatusCode, sent.Load(), presented.Load())
	}
	kid, _ := httpsig.Thumbprint(k)
	if tr.KeyID() != kid {
		t.Fatal("KeyID is not the thumbprint")
	}
}

func TestBodyLimit(t *testing.T) {
	k, _ := keyutil.Generate(jwa.ES256)
	tr, err := New(Options{Credential: "x~", Key: k, MaxBody: 4, Base: http.DefaultTransport})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", strings.NewReader("12345"))
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "larger than 4") {
		t.Fatalf("got %v", err)
	}
}

// credentialFor issues a minimal SD-JWT naming k as cnf, signed by a
// throwaway issuer (the stub server does not verify it).
func credentialFor(t *testing.T, k jwk.Key) string {
	t.Helper()
	iss, _ := keyutil.Generate(jwa.ES256)
	pub, _ := keyutil.Public(k)
	cred, err := sdjwtIssue(iss, pub)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func sdjwtIssue(iss, holder jwk.Key) (string, error) {
	raw, err := keyutil.Marshal(holder)
	if err != nil {
		return "", err
	}
	var cnf map[string]any
	if err := json.Unmarshal(raw, &cnf); err != nil {
		return "", err
	}
	return sdjwt.Issue(map[string]any{"iss": "did:example:x", "vct": "urn:x", "cnf": map[string]any{"jwk": cnf}}, nil, iss, nil)
}
