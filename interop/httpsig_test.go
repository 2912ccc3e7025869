package interop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/agentclient"
	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// requireHTTPSigJS skips without node and fails when the pinned
// http-message-signatures package is not installed.
func requireHTTPSigJS(t *testing.T) {
	t.Helper()
	requireNode(t)
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "http-message-signatures")); err != nil {
		t.Fatalf("http-message-signatures is not installed: run `npm ci` in testdata/interop (%v)", err)
	}
}

type jsVerify struct {
	Verified *bool  `json:"verified"`
	KeyID    string `json:"keyid"`
	Error    string `json:"error"`
}

type jsSend struct {
	Status int               `json:"status"`
	Body   string            `json:"body"`
	Header map[string]string `json:"headers"`
}

// capture answers 200 to every request and keeps the last one.
type capture struct{ last *http.Request }

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	c.last = r
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: r}, nil
}

func flatHeaders(h http.Header) map[string]any {
	out := map[string]any{}
	for k, v := range h {
		if len(v) == 1 {
			out[k] = v[0]
		} else {
			out[k] = v
		}
	}
	return out
}

type certified struct {
	key  jwk.Key
	cred string
	kid  string
}

func certifyAgent(t *testing.T, iss jwk.Key, issDID string, alg jwa.SignatureAlgorithm) certified {
	t.Helper()
	k, sub := testkeys.DIDKey(t, alg)
	pub, _ := keyutil.Public(k)
	now := time.Now()
	cred, err := sdjwt.Issue(map[string]any{
		"iss": issDID, "sub": sub, "vct": "urn:x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"cnf": map[string]any{"jwk": testkeys.PublicJWK(t, pub)}, "principal": map[string]any{"id": "p1"},
		"permissions": []any{map[string]any{"action": "invoices:*"}},
	}, []string{"/permissions/*"}, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := httpsig.Thumbprint(k)
	return certified{key: k, cred: cred, kid: kid}
}

// TestHTTPSigGoSignsJSVerifies: requests signed by agentclient verify with
// http-message-signatures under the agent's public key, and stop verifying
// when a covered part changes.
func TestHTTPSigGoSignsJSVerifies(t *testing.T) {
	requireHTTPSigJS(t)
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	for _, alg := range []jwa.SignatureAlgorithm{jwa.EdDSA, jwa.ES256} {
		t.Run(alg.String(), func(t *testing.T) {
			a := certifyAgent(t, iss, issDID, alg)
			sigAlg, _ := httpsig.KeyAlg(a.key)
			cap := &capture{}
			tr, err := agentclient.New(agentclient.Options{Credential: a.cred, Key: a.key, Base: cap, SignatureAgent: "https://issuer.example"})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, "https://api.example:8443/v1/invoices/inv-1/notes?sort=asc&page=2", strings.NewReader(`{"note":"hi"}`))
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			sent := cap.last
			if !strings.Contains(sent.Header.Get("Signature-Input"), `"content-digest"`) {
				t.Fatalf("Signature-Input %q", sent.Header.Get("Signature-Input"))
			}
			in := map[string]any{"method": sent.Method, "url": sent.URL.String(), "headers": flatHeaders(sent.Header),
				"public_jwk": testkeys.PublicJWK(t, a.key), "alg": sigAlg}
			var out jsVerify
			nodeScript(t, "httpsig-tool.mjs", "verify", in, &out)
			if out.Verified == nil || !*out.Verified || out.KeyID != a.kid {
				t.Fatalf("http-message-signatures: %+v", out)
			}
			in["url"] = strings.Replace(sent.URL.String(), "inv-1", "inv-2", 1)
			nodeScript(t, "httpsig-tool.mjs", "verify", in, &out)
			if out.Verified != nil && *out.Verified {
				t.Fatal("http-message-signatures verified a request whose path changed")
			}
		})
	}
}

// TestHTTPSigJSSignsGoVerifies: requests signed by http-message-signatures
// with the agent's key are accepted by verifier.Middleware: with the
// presentation first, then on the session alone; a changed body and
// another agent's keyid are refused with their codes.
func TestHTTPSigJSSignsGoVerifies(t *testing.T) {
	requireHTTPSigJS(t)
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	p := verifier.DefaultPolicy()
	p.Trusted[issDID] = []string{"urn:x"}
	p.CheckStatus = false
	v, err := verifier.New(p, verifier.WithResolver(did.NewResolver(nil)), verifier.WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
		return nil, errcode.New(errcode.FetchFailed, "no fetches here")
	}))
	if err != nil {
		t.Fatal(err)
	}
	nonces, _ := verifier.NewNonces(nil, time.Minute, nil)
	srv := httptest.NewUnstartedServer(nil)
	defer srv.Close()
	ch, _ := verifier.NewChannel(v, verifier.ChannelOptions{Authorities: []string{srv.Listener.Addr().String()}})
	mw, err := verifier.Middleware(v, verifier.MiddlewareOptions{Audience: "aud", Nonces: nonces, Channel: ch,
		Action: func(*http.Request) (string, map[string]any) { return "invoices:read", nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := verifier.ResultFrom(r.Context())
		b, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]string{"agent": res.Subject, "body": string(b)})
	}))
	srv.Start()

	for _, alg := range []jwa.SignatureAlgorithm{jwa.EdDSA, jwa.ES256} {
		t.Run(alg.String(), func(t *testing.T) {
			a := certifyAgent(t, iss, issDID, alg)
			b := certifyAgent(t, iss, issDID, alg)
			sigAlg, _ := httpsig.KeyAlg(a.key)
			send := func(signer certified, keyid, body, signedBody string, pres string) (jsSend, errcode.Code) {
				cd, _ := httpsig.ContentDigest([]byte(signedBody), httpsig.DigestSHA256)
				hdr := map[string]any{"Content-Type": "application/json", "Content-Digest": cd}
				if pres != "" {
					hdr[verifier.HeaderAgentCredential] = pres
				}
				now := time.Now().Unix()
				in := map[string]any{"method": "POST", "url": srv.URL + "/invoices/inv-1?a=1", "headers": hdr, "body": body,
					"private_jwk": testkit.JSONMap(t, signer.key), "alg": sigAlg, "keyid": keyid, "label": "sig1",
					"fields":  []string{"@method", "@authority", "@path", "@query", "content-digest"},
					"created": now, "expires": now + 60, "nonce": signer.kid + time.Now().String(), "tag": verifier.TagWebBotAuth}
				var out jsSend
				nodeScript(t, "httpsig-tool.mjs", "send", in, &out)
				var m map[string]any
				_ = json.Unmarshal([]byte(out.Body), &m)
				code, _ := m["code"].(string)
				return out, errcode.Code(code)
			}
			n, _, _ := nonces.Issue()
			pres, err := sdjwt.Present(a.cred, []string{""}, &sdjwt.KBOptions{Key: a.key, Audience: "aud", Nonce: n})
			if err != nil {
				t.Fatal(err)
			}
			if out, code := send(a, a.kid, `{"n":1}`, `{"n":1}`, pres); out.Status != 200 || !strings.Contains(out.Body, `"body":"{\"n\":1}"`) {
				t.Fatalf("with the presentation: %d %s %s", out.Status, code, out.Body)
			}
			if out, code := send(a, a.kid, `{"n":2}`, `{"n":2}`, ""); out.Status != 200 {
				t.Fatalf("on the session: %d %s %s", out.Status, code, out.Body)
			}
			if out, code := send(a, a.kid, `{"n":3}`, `{"n":4}`, ""); out.Status != 401 || code != errcode.DigestMismatch {
				t.Fatalf("body changed: %d %s", out.Status, code)
			}
			// b has a session too; a signs claiming b's keyid.
			n, _, _ = nonces.Issue()
			presB, _ := sdjwt.Present(b.cred, []string{""}, &sdjwt.KBOptions{Key: b.key, Audience: "aud", Nonce: n})
			if out, code := send(b, b.kid, `{}`, `{}`, presB); out.Status != 200 {
				t.Fatalf("b: %d %s", out.Status, code)
			}
			if out, code := send(a, b.kid, `{}`, `{}`, ""); out.Status != 401 || code != errcode.SigInvalid {
				t.Fatalf("a under b's keyid: %d %s", out.Status, code)
			}
		})
	}
}

// TestWebBotAuthDirectory: a verifier that knows only Web Bot Auth checks
// an agentcert agent's signed request with http-message-signatures, taking
// the key its keyid names from the issuer's signatures directory (real
// binary, real HTTP); once the credential is revoked the key is gone.
func TestWebBotAuthDirectory(t *testing.T) {
	requireHTTPSigJS(t)
	srv := startServer(t, "issuer:\n  did_method: key\n")
	issuerTok := srv.token(t, "issuer")
	auditorTok := srv.token(t, "auditor")
	dir := t.TempDir()
	agentDID := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", "agent.jwk")
	agentKey := readKey(t, filepath.Join(dir, "agent.jwk"))
	var issued struct {
		ID         string `json:"id"`
		Credential string `json:"credential"`
	}
	if st := srv.call(t, http.MethodPost, "/v1/credentials", issuerTok, map[string]any{"subject": agentDID, "claims": certClaims()}, &issued); st != http.StatusCreated {
		t.Fatalf("issue: HTTP %d", st)
	}
	directory := func() map[string]map[string]any {
		resp, err := http.Get(srv.URL + "/.well-known/http-message-signatures-directory")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/http-message-signatures-directory+json" {
			t.Fatalf("directory: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]any{}
		for _, k := range set.Keys {
			out[k["kid"].(string)] = k
		}
		return out
	}

	cap := &capture{}
	tr, err := agentclient.New(agentclient.Options{Credential: issued.Credential, Key: agentKey, Base: cap, SignatureAgent: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://shop.example/catalog?page=1", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sent := cap.last
	sigs, err := httpsig.Parse(sent.Header.Values("Signature-Input"), sent.Header.Values("Signature"))
	if err != nil || sigs[0].Params.Tag != verifier.TagWebBotAuth || !sigs[0].CoversMember("signature-agent", "sig1") {
		t.Fatalf("signature %+v, %v", sigs, err)
	}
	key, ok := directory()[sigs[0].Params.KeyID]
	if !ok {
		t.Fatalf("keyid %s is not in the issuer's directory", sigs[0].Params.KeyID)
	}
	var out jsVerify
	nodeScript(t, "httpsig-tool.mjs", "verify", map[string]any{"method": sent.Method, "url": sent.URL.String(), "headers": flatHeaders(sent.Header),
		"public_jwk": key, "alg": httpsig.AlgEd25519}, &out)
	if out.Verified == nil || !*out.Verified {
		t.Fatalf("http-message-signatures with the directory's key: %+v", out)
	}

	if st := srv.call(t, http.MethodPost, "/v1/credentials/"+issued.ID+"/revoke", auditorTok, map[string]string{"reason": "key_compromise"}, nil); st != 200 {
		t.Fatalf("revoke: HTTP %d", st)
	}
	// The node that revoked rebuilds its directory at once.
	if _, ok := directory()[sigs[0].Params.KeyID]; ok {
		t.Fatal("a revoked agent's key is still in the directory")
	}
}
