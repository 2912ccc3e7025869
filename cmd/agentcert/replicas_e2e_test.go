package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/internal/testsvc"
	"github.com/agentcert/agentcert/oid4vp"
)

// startReplica starts a verifier-only service trusting iss, requiring
// nonces from GET /v1/nonce, with spent nonces in nonceStore.
func startReplica(t *testing.T, iss, nonceStore, secret string) string {
	t.Helper()
	return startReplicaAt(t, iss, nonceStore, secret, "")
}

// startReplicaAt is startReplica with a public URL (a load balancer's;
// "" for its own address).
func startReplicaAt(t *testing.T, iss, nonceStore, secret, public string) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if public == "" {
		public = base
	}
	p := startFromConfig(t, dir, fmt.Sprintf(`listen: 127.0.0.1:%d
public_url: %s
data_dir: %s
issuer: {enabled: false}
verifier:
  trust_local_issuer: false
  check_status: false             # the offline credential names no status list
  require_nonce: true
  nonce_ttl: 1m
  nonce_secrets: [%q]
  nonce_store: %q
  trusted: [{issuer: %q, vcts: [urn:agentcert:agent-certification:v1]}]
`, port, public, dir, secret, nonceStore, iss))
	return p.url
}

// replicaSetup skips under -short (replicas are processes), and gives the
// test's Redis and a nonce secret for its replicas to share.
func replicaSetup(t *testing.T) (redisURL, secret string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts verifier replicas")
	}
	redisURL, _ = testsvc.Redis(t)
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return redisURL, base64.StdEncoding.EncodeToString(raw)
}

// TestScaleOutVerifierReplicasShareRedis: two verifier replicas with the
// same nonce secrets and one Redis. A nonce minted by one verifies on the
// other, and once spent on either it is refused by both (nonce_replayed); a
// replica whose Redis is unreachable refuses (nonce_store_unavailable)
// instead of accepting.
func TestScaleOutVerifierReplicasShareRedis(t *testing.T) {
	redisURL, secret := replicaSetup(t)
	iss := newTestKey(t)
	agent := newTestKey(t)
	cred := offlineCred(t, iss, iss.did, agent, "")
	const aud = "https://counterparty.example"
	a := startReplica(t, iss.did, redisURL, secret)
	b := startReplica(t, iss.did, redisURL, secret)

	for _, tc := range []struct{ mint, first, replay string }{{a, b, a}, {b, a, b}, {a, a, b}} {
		body := map[string]any{"presentation": presentAll(t, cred, agent, aud, nonceFrom(t, tc.mint)), "audience": aud}
		if status, code, _ := verifyCall(t, tc.first, body); status != 200 || code != "" {
			t.Fatalf("first use on %s of a nonce from %s: %d %q", tc.first, tc.mint, status, code)
		}
		for _, r := range []string{tc.replay, tc.first} {
			if _, code, _ := verifyCall(t, r, body); code != "nonce_replayed" {
				t.Fatalf("replay on %s of a nonce spent on %s: %q, want nonce_replayed", r, tc.first, code)
			}
		}
	}

	// Redis unreachable: fail closed.
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	down := startReplica(t, iss.did, fmt.Sprintf("redis://127.0.0.1:%d/0", closed), secret)
	body := map[string]any{"presentation": presentAll(t, cred, agent, aud, nonceFrom(t, down)), "audience": aud}
	if _, code, _ := verifyCall(t, down, body); code != "nonce_store_unavailable" {
		t.Fatalf("verify with Redis down: %q, want nonce_store_unavailable", code)
	}
}

// roundRobin is a load balancer in front of replicas: each request goes to
// the next one, and it remembers which replica served what.
type roundRobin struct {
	mu       sync.Mutex
	backends []*httputil.ReverseProxy
	names    []string
	next     int
	served   []string // "replica method path"
}

func (lb *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lb.mu.Lock()
	i := lb.next % len(lb.backends)
	lb.next++
	lb.served = append(lb.served, lb.names[i]+" "+r.Method+" "+r.URL.Path)
	lb.mu.Unlock()
	lb.backends[i].ServeHTTP(w, r)
}

func (lb *roundRobin) add(name, rawURL string) {
	u, _ := url.Parse(rawURL)
	lb.backends = append(lb.backends, httputil.NewSingleHostReverseProxy(u))
	lb.names = append(lb.names, name)
}

// servedBy is the replica that served the first request with method whose
// path starts with prefix.
func (lb *roundRobin) servedBy(method, prefix string) string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for _, s := range lb.served {
		parts := strings.SplitN(s, " ", 3)
		if parts[1] == method && strings.HasPrefix(parts[2], prefix) {
			return parts[0]
		}
	}
	return ""
}

// TestScaleOutOID4VPAcrossReplicas: two verifier replicas behind a round-
// robin load balancer share one Redis. A presentation request made on one
// is served, answered and read on whichever replica the balancer picks:
// the signed request's object and its result come from the replica that
// did not make it, and an unsigned request's response is checked there.
func TestScaleOutOID4VPAcrossReplicas(t *testing.T) {
	redisURL, secret := replicaSetup(t)
	iss, agent := newTestKey(t), newTestKey(t)
	dir := t.TempDir()
	credFile, err := createTemp(dir, "cred-*.txt", offlineCred(t, iss, iss.did, agent, "")+"\n")
	if err != nil {
		t.Fatal(err)
	}
	keyJSON, _ := json.Marshal(agent.key)
	keyFile, err := createTemp(dir, "agent-*.jwk", string(keyJSON))
	if err != nil {
		t.Fatal(err)
	}
	lb := &roundRobin{}
	front := httptest.NewServer(lb)
	defer front.Close()
	lb.add("a", startReplicaAt(t, iss.did, redisURL, secret, front.URL))
	lb.add("b", startReplicaAt(t, iss.did, redisURL, secret, front.URL))

	// call sends body (GET when nil) through the balancer and decodes the
	// answer, which must have status want, into out.
	call := func(path string, body any, want int, out any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, front.URL+path, nil)
		if body != nil {
			req, _ = http.NewRequest(http.MethodPost, front.URL+path, strings.NewReader(string(testkit.JSON(t, body))))
			req.Header.Set("Content-Type", "application/json")
		}
		status, _, m := testkit.DoJSON(t, http.DefaultClient, req)
		if status != want {
			t.Fatalf("%s %s: %d %v", req.Method, path, status, m)
		}
		if err := json.Unmarshal(testkit.JSON(t, m), out); err != nil {
			t.Fatal(err)
		}
	}
	create := func(req map[string]any) (c oid4vp.Created) {
		req["dcql_query"] = json.RawMessage(vpReadQuery)
		call("/v1/presentation-requests", req, http.StatusCreated, &c)
		return c
	}
	result := func(id string) (r oid4vp.Result) {
		call("/v1/presentation-requests/"+id, nil, http.StatusOK, &r)
		return r
	}

	for _, tc := range []struct {
		name string
		req  map[string]any
	}{
		{"signed, direct_post.jwt", map[string]any{"response_mode": "direct_post.jwt", "action": "invoices:read"}},
		{"unsigned, direct_post.jwt", map[string]any{"response_mode": "direct_post.jwt", "client_id_prefix": "redirect_uri", "action": "invoices:read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lb.mu.Lock()
			lb.next, lb.served = 0, nil // the request is made on a
			lb.mu.Unlock()
			c := create(tc.req)
			if out, errOut, code := run(t, dir, "wallet", "present", c.Link, "--credential", credFile, "--key", keyFile); code != 0 {
				t.Fatalf("wallet present: exit %d\n%s\n%s", code, out, errOut)
			}
			r := result(c.ID)
			if r.Status != "verified" || !r.Verified || !r.Allowed {
				t.Fatalf("result: %+v", r)
			}
			// The outcome kept in Redis is the one checked: the
			// presentation's claims come back whole.
			if ps := r.Presentations["cert"]; len(ps) != 1 || !ps[0].Verified || ps[0].Claims["principal"] == nil || ps[0].Subject != agent.did {
				t.Fatalf("presentations of the result: %+v", r.Presentations)
			}
			made := lb.servedBy(http.MethodPost, "/v1/presentation-requests")
			elsewhere := 0
			for _, step := range []struct{ method, prefix string }{
				{http.MethodGet, oid4vp.RequestPath}, {http.MethodPost, oid4vp.ResponsePath}, {http.MethodGet, "/v1/presentation-requests/"},
			} {
				if by := lb.servedBy(step.method, step.prefix); by != "" && by != made {
					elsewhere++
				}
			}
			if made == "" || elsewhere == 0 {
				t.Fatalf("nothing was served by the other replica: %v", lb.served)
			}
		})
	}
}
