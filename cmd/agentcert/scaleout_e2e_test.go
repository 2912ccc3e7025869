package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	mrand "math/rand"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/testsvc"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
)

// Several issuer nodes on one PostgreSQL database, driven through the real
// binary over HTTP.

// cluster is two `agentcert serve` nodes sharing one database and one
// key-encryption key. Both have node A's URL as public_url (it plays the
// load balancer), so they are one did:web issuer.
type cluster struct {
	db     string
	env    []string
	a, b   *testServer
	admin  string
	issuer string // an issuer-role token
	audit  string // an auditor-role token
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts two servers on PostgreSQL")
	}
	db := testsvc.Postgres(t)
	kek := make([]byte, issuer.KEKSize)
	_, _ = rand.Read(kek)
	env := []string{"AGENTCERT_STORE_URL=" + db, "AGENTCERT_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(kek)}
	c := &cluster{db: db, env: env}
	c.a = startServer(t, t.TempDir(), env...)
	c.b = startServer(t, t.TempDir(), append(env, "AGENTCERT_PUBLIC_URL="+c.a.URL)...)
	if c.a.AdminToken == "" || c.b.AdminToken != "" {
		t.Fatalf("bootstrap tokens: A %q, B %q; want one, printed by the first node", c.a.AdminToken, c.b.AdminToken)
	}
	if c.a.IssuerDID != c.b.IssuerDID {
		t.Fatalf("the nodes are different issuers: %s and %s", c.a.IssuerDID, c.b.IssuerDID)
	}
	c.admin = c.a.AdminToken
	// A token made on one node works on the other.
	c.issuer = c.token(t, c.a, "issuer")
	c.audit = c.token(t, c.b, "auditor")
	return c
}

func (c *cluster) token(t *testing.T, node *testServer, role string) string {
	t.Helper()
	return node.Token(c.admin, role, "")
}

// cli runs the binary with the cluster's database.
func (c *cluster) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = c.a.DataDir
	cmd.Env = append(os.Environ(), c.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("agentcert %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return strings.TrimSpace(out.String())
}

// statusReader fetches Status List Tokens from one node and verifies them
// with the issuer key published by the cluster (did:web of node A).
type statusReader struct {
	pub   string // the public URL in the credentials' status URIs
	keyFn func(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error)
	iss   string
}

func newStatusReader(c *cluster) *statusReader {
	resolver := did.NewResolver(did.NewFetcher(did.FetcherConfig{AllowHosts: []string{"127.0.0.1"}}))
	return &statusReader{pub: c.a.URL, iss: c.a.IssuerDID, keyFn: func(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
		return did.IssuerKey(ctx, resolver, iss, hdr.KeyID())
	}}
}

// status returns the status of idx in the list at uri, as node serves it.
func (r *statusReader) status(node *testServer, uri string, idx int) (uint8, error) {
	path, ok := strings.CutPrefix(uri, r.pub)
	if !ok {
		return 0, fmt.Errorf("status URI %s is not under %s", uri, r.pub)
	}
	status, _, body, err := node.TryDo(http.MethodGet, path, "", nil, nil)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("GET %s: HTTP %d %s", path, status, body)
	}
	tok, err := revocation.VerifyToken(context.Background(), string(body), revocation.VerifyTokenOptions{Key: r.keyFn, ExpectedIssuer: r.iss, ExpectedSubject: uri})
	if err != nil {
		return 0, err
	}
	return tok.List.Get(idx)
}

// issueOn issues one credential on node; the answer's zero value when the
// node did not acknowledge.
func issueOn(node *testServer, token, subject string, hdr map[string]string) (issuer.Issued, int, error) {
	status, _, body, err := node.TryDo(http.MethodPost, "/v1/credentials", token, map[string]any{"subject": subject, "claims": demoClaims()}, hdr)
	if err != nil {
		return issuer.Issued{}, 0, err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return issuer.Issued{}, status, fmt.Errorf("issue: HTTP %d %s", status, body)
	}
	var out issuer.Issued
	if err := json.Unmarshal(body, &out); err != nil {
		return issuer.Issued{}, status, err
	}
	return out, status, nil
}

// storedSlots reads every credential's (list, idx) and status straight from
// the database.
func storedSlots(t *testing.T, db string) (slots map[string]string, status map[string]int) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), "SELECT id, list_id, idx, status FROM credentials")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	slots, status = map[string]string{}, map[string]int{}
	for rows.Next() {
		var id, list string
		var idx, st int
		if err := rows.Scan(&id, &list, &idx, &st); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%s#%d", list, idx)
		if prev, dup := slots[k]; dup {
			t.Errorf("index %s stored for %s and %s", k, prev, id)
		}
		slots[k] = id
		status[id] = st
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return slots, status
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(math.Ceil(p*float64(len(s))))-1]
}

// TestScaleOutTwoIssuerNodes: concurrent issuance on both nodes gives no
// index twice; tokens, idempotency keys and key rotations made on one node
// hold on the other; a revocation on A is in B's status list within 1 s;
// B cannot undo it; the audit chain verifies.
func TestScaleOutTwoIssuerNodes(t *testing.T) {
	c := startCluster(t)
	_, subject, err := createDIDKey("key", "EdDSA")
	if err != nil {
		t.Fatal(err)
	}

	// Concurrent issuance, 8 clients on each node.
	const perClient = 12
	var mu sync.Mutex
	var issued []issuer.Issued
	var errs []error
	var wg sync.WaitGroup
	for w := range 16 {
		node := []*testServer{c.a, c.b}[w%2]
		wg.Go(func() {
			for range perClient {
				out, _, err := issueOn(node, c.issuer, subject, nil)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					issued = append(issued, out)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d issuances failed, first: %v", len(errs), errs[0])
	}
	seen := map[string]string{}
	for _, out := range issued {
		k := fmt.Sprintf("%s#%d", out.Status.URI, out.Status.Idx)
		if prev, dup := seen[k]; dup {
			t.Fatalf("index %s acknowledged for %s and %s", k, prev, out.ID)
		}
		seen[k] = out.ID
	}
	slots, _ := storedSlots(t, c.db)
	if len(slots) != 16*perClient {
		t.Fatalf("%d credentials stored, want %d", len(slots), 16*perClient)
	}

	// An idempotent retry sent to the other node gets the first answer.
	key := map[string]string{"Idempotency-Key": "scaleout-1"}
	first, st1, err := issueOn(c.a, c.issuer, subject, key)
	if err != nil || st1 != http.StatusCreated {
		t.Fatalf("first idempotent issuance: %d %v", st1, err)
	}
	again, st2, err := issueOn(c.b, c.issuer, subject, key)
	if err != nil || again.ID != first.ID || again.Credential != first.Credential {
		t.Fatalf("retry on the other node: %d %v, id %s want %s", st2, err, again.ID, first.ID)
	}

	// Revoke on A, watch B's list: the change is there within 1 s.
	r := newStatusReader(c)
	var lat []time.Duration
	for _, out := range issued[:40] {
		status, body := c.a.Do(http.MethodPost, "/v1/credentials/"+out.ID+"/revoke", c.audit, issuer.StatusRequest{Reason: "incident"})
		if status != http.StatusOK {
			t.Fatalf("revoke on A: %d %s", status, body)
		}
		acked := time.Now()
		for {
			v, err := r.status(c.b, out.Status.URI, out.Status.Idx)
			if err != nil {
				t.Fatal(err)
			}
			if v == revocation.StatusRevoked {
				lat = append(lat, time.Since(acked))
				break
			}
			if time.Since(acked) > time.Second {
				t.Fatalf("B's status list does not show A's revocation of %s after 1 s", out.ID)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("revoke on A -> visible in B's status list: median %v, p99 %v, max %v (n=%d)",
		percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1), len(lat))

	// B cannot undo A's revocation, nor suspend it.
	for _, action := range []string{"reinstate", "suspend"} {
		status, hdr, body := c.b.DoHeaders(http.MethodPost, "/v1/credentials/"+issued[0].ID+"/"+action, c.audit, issuer.StatusRequest{Reason: "other"}, nil)
		wantProblem(t, action+" on B", status, hdr, body, http.StatusConflict, "conflict")
	}

	// A rotation on B: A signs with the new key within the refresh interval.
	status, body := c.b.Do(http.MethodPost, "/v1/admin/keys/rotate", c.admin, nil)
	if status != http.StatusOK && status != http.StatusCreated {
		t.Fatalf("rotate on B: %d %s", status, body)
	}
	var rot struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(body, &rot); err != nil || rot.KID == "" {
		t.Fatalf("rotate answer %s: %v", body, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _, err := issueOn(c.a, c.issuer, subject, nil)
		if err != nil {
			t.Fatal(err)
		}
		if headerKID(t, out.Credential) == rot.KID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A still signs with %s 5 s after B rotated to %s", headerKID(t, out.Credential), rot.KID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, didDoc := c.a.Do(http.MethodGet, "/.well-known/did.json", "", nil)
	if !strings.Contains(string(didDoc), rot.KID) {
		t.Fatalf("A's did.json lacks the key B made: %s", didDoc)
	}

	// A token revoked on A stops working on B at once.
	status, body = c.a.Do(http.MethodPost, "/v1/admin/tokens", c.admin, map[string]any{"role": "issuer"})
	var tok struct{ ID, Token string }
	if err := json.Unmarshal(body, &tok); status != http.StatusCreated || err != nil || tok.ID == "" {
		t.Fatalf("create token: %d %s", status, body)
	}
	if _, st, err := issueOn(c.b, tok.Token, subject, nil); err != nil || st != http.StatusCreated {
		t.Fatalf("new token on B: %d %v", st, err)
	}
	if status, body := c.a.Do(http.MethodDelete, "/v1/admin/tokens/"+tok.ID, c.admin, nil); status != http.StatusNoContent {
		t.Fatalf("revoke token on A: %d %s", status, body)
	}
	if _, st, _ := issueOn(c.b, tok.Token, subject, nil); st != http.StatusUnauthorized {
		t.Fatalf("token revoked on A still accepted by B: HTTP %d", st)
	}

	// One linear audit chain, written by both nodes.
	if out := c.cli(t, "audit", "verify", "--data-dir", c.a.DataDir); !strings.HasPrefix(out, "audit log intact") {
		t.Fatalf("audit verify: %s", out)
	}
}

// TestScaleOutKill9DuringRevocationStorm: revocations are sent to both nodes
// at once and node A is killed with SIGKILL in the middle. Every revocation
// either node acknowledged is in the database and in the status lists both
// nodes serve after A restarts, and the audit chain verifies.
func TestScaleOutKill9DuringRevocationStorm(t *testing.T) {
	c := startCluster(t)
	seed := time.Now().UnixNano()
	rng := mrand.New(mrand.NewSource(seed))
	t.Logf("seed %d", seed)
	_, subject, err := createDIDKey("key", "EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	const n = 240
	var issued []issuer.Issued
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		node := []*testServer{c.a, c.b}[w%2]
		wg.Go(func() {
			for range n / 8 {
				out, _, err := issueOn(node, c.issuer, subject, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				issued = append(issued, out)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	work := make(chan issuer.Issued, n)
	for _, i := range rng.Perm(n) {
		work <- issued[i]
	}
	close(work)
	killAt := int64(n/10 + rng.Intn(n/2))
	var acked atomic.Int64
	revoked := sync.Map{} // id -> true once a node answered 200
	reached := make(chan struct{})
	var once sync.Once
	var unexpected atomic.Value
	var revokers sync.WaitGroup
	for w := range 16 {
		node := []*testServer{c.a, c.b}[w%2]
		revokers.Go(func() {
			for out := range work {
				status, _, body, err := node.TryDo(http.MethodPost, "/v1/credentials/"+out.ID+"/revoke", c.audit, issuer.StatusRequest{Reason: "incident", Incident: "STORM"}, nil)
				if err != nil {
					if node == c.a {
						return // A is gone: this client stops
					}
					unexpected.Store(err)
					return
				}
				if status != http.StatusOK {
					unexpected.Store(fmt.Errorf("revoke on %s: HTTP %d %s", node.URL, status, body))
					continue
				}
				revoked.Store(out.ID, true)
				if acked.Add(1) == killAt {
					once.Do(func() { close(reached) })
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { revokers.Wait(); close(done) }()
	select {
	case <-reached:
	case <-done:
		t.Fatalf("the storm ended before the kill (%d acknowledged)", acked.Load())
	}
	c.a.Kill()
	<-done
	if err, _ := unexpected.Load().(error); err != nil {
		t.Fatalf("unexpected answer: %v", err)
	}
	t.Logf("SIGKILL of A after %d acknowledged revocations; %d acknowledged in all", killAt, acked.Load())

	c.a.Restart()
	_, stored := storedSlots(t, c.db)
	r := newStatusReader(c)
	var count int
	revoked.Range(func(k, _ any) bool {
		id := k.(string)
		count++
		if stored[id] != int(revocation.StatusRevoked) {
			t.Errorf("acknowledged revocation of %s stored as status %d", id, stored[id])
		}
		return true
	})
	for _, out := range issued {
		if _, ok := revoked.Load(out.ID); !ok {
			continue
		}
		for _, node := range []*testServer{c.a, c.b} {
			v, err := r.status(node, out.Status.URI, out.Status.Idx)
			if err != nil {
				t.Fatal(err)
			}
			if v != revocation.StatusRevoked {
				t.Errorf("%s: acknowledged revocation of %s shows %d", node.URL, out.ID, v)
			}
		}
	}
	if count == 0 || int64(count) != acked.Load() {
		t.Fatalf("%d revocations recorded as acknowledged, counter %d", count, acked.Load())
	}
	if out := c.cli(t, "audit", "verify", "--data-dir", c.a.DataDir); !strings.HasPrefix(out, "audit log intact") {
		t.Fatalf("audit verify after the kill: %s", out)
	}
}
