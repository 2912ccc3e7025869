package did

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestWebURLSpecExamples(t *testing.T) {
	var spec struct {
		DIDToURL []struct{ DID, URL string } `json:"did_to_url"`
	}
	testkit.LoadVector(t, "did-web/spec-examples.json", &spec)
	if len(spec.DIDToURL) != 4 {
		t.Fatalf("%d examples", len(spec.DIDToURL))
	}
	for _, ex := range spec.DIDToURL {
		got, err := WebURL(ex.DID, nil)
		if err != nil || got != ex.URL {
			t.Errorf("WebURL(%s) = %q, %v; want %q", ex.DID, got, err, ex.URL)
		}
	}
}

func TestWebURL(t *testing.T) {
	allow := NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1", "dev.example:8080"}}).Allowed
	tests := []struct {
		did, want string
		wantCode  errcode.Code
	}{
		{did: "did:web:Example.COM", want: "https://example.com/.well-known/did.json"},
		{did: "did:web:example.com%3a8443:a:b%20c", want: "https://example.com:8443/a/b%20c/did.json"},
		{did: "did:web:127.0.0.1%3A8080", want: "http://127.0.0.1:8080/.well-known/did.json"},
		{did: "did:web:127.0.0.1", want: "http://127.0.0.1/.well-known/did.json"},
		{did: "did:web:dev.example%3A8080:issuer", want: "http://dev.example:8080/issuer/did.json"},
		{did: "did:web:dev.example%3A8081:issuer", want: "https://dev.example:8081/issuer/did.json"},
		{did: "did:web:%5B%3A%3A1%5D%3A8443", want: "https://[::1]:8443/.well-known/did.json"},
		{did: "did:web:%5B2001%3Adb8%3A%3A1%5D", want: "https://[2001:db8::1]/.well-known/did.json"},
		{did: "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com#frag", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com%3A", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com%3A0", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com%3A08080", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com%3A65536", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com%3Ahttp", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com%3A1%3A2", wantCode: errcode.DIDInvalid},
		{did: "did:web:exa_mple.com", wantCode: errcode.DIDInvalid},
		{did: "did:web:-example.com", wantCode: errcode.DIDInvalid},
		{did: "did:web:example..com", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com.", wantCode: errcode.DIDInvalid},
		{did: "did:web:" + strings.Repeat("a", 64) + ".com", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com%2Fevil.com", wantCode: errcode.DIDInvalid},
		{did: "did:web:user%40example.com", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com::x", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com:..", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com:%2E%2E:x", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com:a%2Fb", wantCode: errcode.DIDInvalid},
		{did: "did:web:example.com:a%3Fb", wantCode: errcode.DIDInvalid},
		{did: "did:web:%5B%3A%3A1", wantCode: errcode.DIDInvalid},
		{did: "did:web:%5B127.0.0.1%5D", wantCode: errcode.DIDInvalid},
		{did: "did:web:%5Bfe80%3A%3A1%25lo%5D", wantCode: errcode.DIDInvalid},
		{did: "did:web:%5B%3A%3A1%5Dx", wantCode: errcode.DIDInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.did, func(t *testing.T) {
			got, err := WebURL(tt.did, allow)
			testkit.WantCode(t, err, tt.wantCode)
			if got != tt.want {
				t.Fatalf("WebURL = %q, want %q", got, tt.want)
			}
		})
	}
}

// webFixture is an http server on 127.0.0.1 serving DID documents; its DIDs
// are did:web:127.0.0.1%3A<port>[:path].
type webFixture struct {
	srv     *httptest.Server
	accepts *countingListener
	host    string // "127.0.0.1%3A<port>"
	docs    map[string]func(did string) string
	release chan struct{}
}

func newWebFixture(t *testing.T) *webFixture {
	fx := &webFixture{docs: map[string]func(string) string{}, release: make(chan struct{})}
	fx.srv, fx.accepts = countingServer(t, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow/did.json" {
			select {
			case <-r.Context().Done():
			case <-fx.release:
			}
			return
		}
		body, ok := fx.docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		did := "did:web:" + fx.host + strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/.well-known"), "/did.json"), "/", ":")
		w.Header().Set("Content-Type", "application/did+json")
		io.WriteString(w, body(did))
	}))
	t.Cleanup(func() { close(fx.release) })
	fx.host = "127.0.0.1%3A" + portOf(t, fx.srv)
	return fx
}

func (fx *webFixture) did(path ...string) string {
	return strings.Join(append([]string{"did:web:" + fx.host}, path...), ":")
}

func minimalDoc(did string) string {
	return fmt.Sprintf(`{"@context":["https://www.w3.org/ns/did/v1"],"id":%q}`, did)
}

func TestResolveWeb(t *testing.T) {
	fx := newWebFixture(t)
	fx.docs["/.well-known/did.json"] = minimalDoc
	fx.docs["/issuers/acme/did.json"] = minimalDoc
	fx.docs["/mismatch/did.json"] = func(string) string { return minimalDoc("did:web:evil.example") }
	fx.docs["/no-id/did.json"] = func(string) string { return `{}` }
	fx.docs["/big/did.json"] = func(did string) string {
		return fmt.Sprintf(`{"id":%q,"alsoKnownAs":[%q]}`, did, strings.Repeat("a", DefaultMaxDocumentBytes))
	}
	fx.docs["/not-json/did.json"] = func(string) string { return "<html>hello</html>" }
	fx.docs["/array/did.json"] = func(did string) string { return "[" + minimalDoc(did) + "]" }
	fx.docs["/trailing/did.json"] = func(did string) string { return minimalDoc(did) + "{}" }
	fx.docs["/bad-relationship/did.json"] = func(did string) string { return fmt.Sprintf(`{"id":%q,"assertionMethod":[42]}`, did) }

	f := NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1"}, Timeout: 200 * time.Millisecond})
	r := NewResolver(f)
	tests := []struct {
		name      string
		did       string
		wantCode  errcode.Code
		wantCause errcode.Code
	}{
		{"root", fx.did(), "", ""},
		{"path", fx.did("issuers", "acme"), "", ""},
		{"id mismatch", fx.did("mismatch"), errcode.DIDResolutionFailed, ""},
		{"no id", fx.did("no-id"), errcode.DIDResolutionFailed, ""},
		{"over 256 KiB", fx.did("big"), errcode.DIDResolutionFailed, errcode.FetchFailed},
		{"not JSON", fx.did("not-json"), errcode.DIDResolutionFailed, ""},
		{"JSON array", fx.did("array"), errcode.DIDResolutionFailed, ""},
		{"trailing data", fx.did("trailing"), errcode.DIDResolutionFailed, ""},
		{"bad relationship", fx.did("bad-relationship"), errcode.DIDResolutionFailed, ""},
		{"404", fx.did("missing"), errcode.DIDResolutionFailed, errcode.FetchFailed},
		{"timeout", fx.did("slow"), errcode.DIDResolutionFailed, errcode.FetchFailed},
		{"bad did:web", "did:web:exa_mple.com", errcode.DIDInvalid, ""},
		{"not a DID", "https://example.com", errcode.DIDInvalid, ""},
		{"other method", "did:example:123", errcode.DIDMethodUnsupported, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := r.Resolve(context.Background(), tt.did)
			testkit.WantCode(t, err, tt.wantCode)
			if tt.wantCause != "" && !errors.Is(err, errcode.New(tt.wantCause, "")) {
				t.Fatalf("cause of %v is not %s", err, tt.wantCause)
			}
			if err == nil && doc.ID != tt.did {
				t.Fatalf("doc id %q", doc.ID)
			}
		})
	}
	// Offline methods do not touch the network.
	doc, err := r.Resolve(context.Background(), "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
	if err != nil || len(doc.AssertionMethod) != 1 {
		t.Fatalf("did:key: %v", err)
	}
}

// TestResolveWebRefused: did:web DIDs naming refused addresses fail with
// fetch_refused and no connection; so does the fixture's own loopback server
// when the host is not allowed.
func TestResolveWebRefused(t *testing.T) {
	fx := newWebFixture(t)
	fx.docs["/.well-known/did.json"] = minimalDoc
	f, p := probed(FetcherConfig{}, map[string]string{"issuer.example": "10.0.0.1"})
	r := NewResolver(f)
	for _, did := range []string{
		fx.did(),
		"did:web:127.0.0.1",
		"did:web:%5B%3A%3A1%5D",
		"did:web:%5B%3A%3A1%5D%3A8443:issuer",
		"did:web:169.254.169.254",
		"did:web:10.0.0.1%3A443:x",
		"did:web:0.0.0.0",
		"did:web:100.64.0.1",
		"did:web:localhost%3A8080",
		"did:web:issuer.example",
	} {
		t.Run(did, func(t *testing.T) {
			_, err := r.Resolve(context.Background(), did)
			testkit.WantCode(t, err, errcode.FetchRefused)
		})
	}
	if d := p.dials(); len(d) != 0 {
		t.Fatalf("dialed %v", d)
	}
	if n := fx.accepts.n.Load(); n != 0 {
		t.Fatalf("fixture accepted %d connections", n)
	}
}

func TestNewWebDocumentServedAndResolved(t *testing.T) {
	fx := newWebFixture(t)
	did := fx.did()
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec, _ := jwk.FromRaw(ecPriv)
	_ = ec.Set(jwk.KeyIDKey, "key-1")
	_ = ec.Set(jwk.AlgorithmKey, jwa.ES256)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ed, _ := jwk.FromRaw(edPriv)
	_ = ed.Set(jwk.KeyIDKey, did+"#ed")
	doc, err := NewWebDocument(did, []jwk.Key{ec, ed})
	testkit.WantCode(t, err, "")
	body := string(testkit.JSON(t, doc))
	if strings.Contains(body, `"d":`) {
		t.Fatalf("document leaks a private key: %s", body)
	}
	fx.docs["/.well-known/did.json"] = func(string) string { return body }
	r := NewResolver(NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1"}}))
	for kid, want := range map[string]jwk.Key{did + "#key-1": ec, did + "#ed": ed} {
		k, err := AssertionKey(context.Background(), r, kid)
		testkit.WantCode(t, err, "")
		if !jwk.Equal(k, want) || k.KeyID() != kid {
			t.Fatalf("%s: got kid %q", kid, k.KeyID())
		}
		if priv, _ := jwk.IsPrivateKey(k); priv {
			t.Fatal("private key returned")
		}
	}
	if doc.AssertionMethod[0].Ref != did+"#key-1" || doc.Authentication[1].Ref != did+"#ed" {
		t.Fatalf("relationships %+v %+v", doc.AssertionMethod, doc.Authentication)
	}
	var vm map[string]any
	if err := json.Unmarshal(doc.VerificationMethod[0].PublicKeyJwk, &vm); err != nil || vm["kid"] != did+"#key-1" || vm["alg"] != "ES256" {
		t.Fatalf("publicKeyJwk %v", vm)
	}
}

func TestNewWebDocumentErrors(t *testing.T) {
	mk := func(kid string) jwk.Key {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		k, _ := jwk.FromRaw(priv)
		if kid != "" {
			_ = k.Set(jwk.KeyIDKey, kid)
		}
		return k
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k384, _ := jwk.FromRaw(p384)
	_ = k384.Set(jwk.KeyIDKey, "k384")
	const did = "did:web:issuer.example"
	tests := []struct {
		name     string
		did      string
		keys     []jwk.Key
		wantCode errcode.Code
	}{
		{"ok relative kid", did, []jwk.Key{mk("#a"), mk("b")}, ""},
		{"not did:web", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", []jwk.Key{mk("a")}, errcode.DIDInvalid},
		{"bad did:web", "did:web:exa_mple", []jwk.Key{mk("a")}, errcode.DIDInvalid},
		{"no keys", did, nil, errcode.InvalidInput},
		{"nil key", did, []jwk.Key{nil}, errcode.InvalidInput},
		{"no kid", did, []jwk.Key{mk("")}, errcode.InvalidInput},
		{"kid of another DID", did, []jwk.Key{mk("did:web:other.example#a")}, errcode.InvalidInput},
		{"kid not a fragment", did, []jwk.Key{mk("a b")}, errcode.InvalidInput},
		{"empty fragment", did, []jwk.Key{mk(did + "#")}, errcode.InvalidInput},
		{"duplicate kid", did, []jwk.Key{mk("a"), mk(did + "#a")}, errcode.InvalidInput},
		{"P-384", did, []jwk.Key{k384}, errcode.DIDMethodUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWebDocument(tt.did, tt.keys)
			testkit.WantCode(t, err, tt.wantCode)
		})
	}
}
