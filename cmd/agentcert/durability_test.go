package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	_ "github.com/mattn/go-sqlite3"
)

// Durability under kill -9: nothing acknowledged is lost, and no status
// list index is ever given to two credentials.
const (
	durCredentials   = 300 // issued before the revoke phase
	durRevokers      = 16  // concurrent revoking clients
	durIssuers       = 2   // clients that keep issuing during the revoke phase
	durAfterRestart  = 20  // issued after the restart
	durIssueWorkers  = 8   // clients issuing the first batch
	durClientTimeout = 10 * time.Second
)

// durClient is a plain HTTP client for the worker goroutines, which must
// not call t.Fatal: a transport error is an answer ("no acknowledgement").
type durClient struct {
	base  string
	hc    *http.Client
	token string
}

func (c *durClient) post(path string, body any) (int, []byte, error) {
	return c.send(http.MethodPost, path, nil, body)
}

// send sends a request with the client's token, the extra headers and body
// as JSON (none when nil).
func (c *durClient) send(method, path string, hdr map[string]string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err // the process died mid-answer: not acknowledged
	}
	return resp.StatusCode, out, nil
}

// durLedger records what the server acknowledged.
type durLedger struct {
	mu      sync.Mutex
	issued  []issuer.Issued // every 201
	revoked map[string]bool // every revoke answered 200
	tried   map[string]bool // every revoke sent
	errs    []string        // unexpected HTTP answers
	byID    map[string]issuer.Issued
}

func (l *durLedger) addIssued(out issuer.Issued) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.issued = append(l.issued, out)
	l.byID[out.ID] = out
}

func (l *durLedger) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
}

// durIssue issues one credential; ok is false when the server did not
// acknowledge it (transport error).
func durIssue(c *durClient, l *durLedger, subject string) bool {
	status, body, err := c.post("/v1/credentials", map[string]any{"subject": subject, "claims": demoClaims()})
	if err != nil {
		return false
	}
	if status != http.StatusCreated {
		l.fail("issue: HTTP %d %s", status, body)
		return false
	}
	var out issuer.Issued
	if err := json.Unmarshal(body, &out); err != nil {
		l.fail("issue: %v", err)
		return false
	}
	l.addIssued(out)
	return true
}

// testSeed returns the random seed of a test: the value of the environment
// variable env when set, else a new one; it is logged so that a failing run
// can be repeated.
func testSeed(t *testing.T, env string) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	if v := os.Getenv(env); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("%s: %v", env, err)
		}
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, env, seed)
	return seed
}

func TestDurabilityKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a server")
	}
	seed := testSeed(t, "DURABILITY_SEED")
	rng := rand.New(rand.NewSource(seed))

	dir := t.TempDir()
	ts, issuerTok, auditorTok := startWithTokens(t, dir)
	hc := &http.Client{Timeout: durClientTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: durRevokers + durIssuers}}
	issuing := &durClient{base: ts.URL, hc: hc, token: issuerTok}
	auditing := &durClient{base: ts.URL, hc: hc, token: auditorTok}
	_, subject, err := createDIDKey("key", "EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	l := &durLedger{revoked: map[string]bool{}, tried: map[string]bool{}, byID: map[string]issuer.Issued{}}

	// 1. Issue the credentials to revoke.
	var wg sync.WaitGroup
	next := make(chan struct{}, durCredentials)
	for range durCredentials {
		next <- struct{}{}
	}
	close(next)
	for range durIssueWorkers {
		wg.Go(func() {
			for range next {
				if !durIssue(issuing, l, subject) {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(l.errs) > 0 || len(l.issued) != durCredentials {
		t.Fatalf("issued %d of %d: %v", len(l.issued), durCredentials, l.errs)
	}

	// 2. Revoke them concurrently, and keep issuing, until SIGKILL. The kill
	// comes at a random moment of the revoke phase: when the killAt-th
	// revocation has been acknowledged, with the other clients in flight.
	targets := make([]string, 0, durCredentials)
	for _, c := range l.issued {
		targets = append(targets, c.ID)
	}
	rng.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	killAt := durCredentials/10 + rng.Intn(durCredentials*8/10)
	t.Logf("SIGKILL at acknowledged revocation #%d (of %d to send)", killAt, durCredentials)
	work := make(chan string, len(targets))
	for _, id := range targets {
		work <- id
	}
	close(work)
	var acked atomic.Int64
	reached := make(chan struct{})
	var reachedOnce sync.Once
	stop := make(chan struct{})
	var revokers sync.WaitGroup
	for range durRevokers {
		revokers.Go(func() {
			for id := range work {
				l.mu.Lock()
				l.tried[id] = true
				l.mu.Unlock()
				status, body, err := auditing.post("/v1/credentials/"+id+"/revoke", issuer.StatusRequest{Reason: "incident", Incident: "DUR-1"})
				if err != nil {
					return // the server is gone
				}
				if status != http.StatusOK {
					l.fail("revoke %s: HTTP %d %s", id, status, body)
					continue
				}
				l.mu.Lock()
				l.revoked[id] = true
				l.mu.Unlock()
				if acked.Add(1) == int64(killAt) {
					reachedOnce.Do(func() { close(reached) })
				}
			}
		})
	}
	var issuers sync.WaitGroup
	for range durIssuers {
		issuers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !durIssue(issuing, l, subject) {
					return
				}
			}
		})
	}
	allDone := make(chan struct{})
	go func() { revokers.Wait(); close(allDone) }()
	select {
	case <-reached:
	case <-allDone:
		t.Fatalf("the revoke phase ended before the kill (%d acknowledged): %v", acked.Load(), l.errs)
	}
	ts.Kill()
	close(stop)
	revokers.Wait()
	issuers.Wait()
	hc.CloseIdleConnections()
	if len(l.errs) > 0 {
		t.Fatalf("unexpected answers before the kill: %v", l.errs)
	}
	beforeKill := len(l.issued)
	t.Logf("before the kill: %d revocations acknowledged of %d sent; %d credentials issued (%d during the revoke phase)",
		len(l.revoked), len(l.tried), beforeKill, beforeKill-durCredentials)

	// 3. Restart on the same data directory and issue some more.
	ts.Restart()
	for range durAfterRestart {
		if !durIssue(issuing, l, subject) {
			t.Fatalf("issue after restart failed: %v", l.errs)
		}
	}
	if len(l.errs) > 0 {
		t.Fatalf("after restart: %v", l.errs)
	}

	// 4. Every acknowledged revocation is in the published, signed list.
	lists := durFetchLists(t, ts, l.issued)
	for _, c := range l.issued {
		v, err := lists[c.Status.URI].List.Get(c.Status.Idx)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case l.revoked[c.ID] && v != 1:
			t.Errorf("revocation of %s (idx %d) was acknowledged but the list says %d", c.ID, c.Status.Idx, v)
		case !l.tried[c.ID] && v != 0:
			t.Errorf("%s (idx %d) was never revoked but the list says %d", c.ID, c.Status.Idx, v)
		}
	}

	// 5. No index was given twice, and every acknowledged issuance is
	// recorded with the index it was acknowledged with.
	type slot struct {
		uri string
		idx int
	}
	owner := map[slot]string{}
	for _, c := range l.issued {
		s := slot{c.Status.URI, c.Status.Idx}
		if prev, ok := owner[s]; ok {
			t.Errorf("index %d of %s was acknowledged for %s and for %s", s.idx, s.uri, prev, c.ID)
		}
		owner[s] = c.ID
	}
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "agentcert.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, list_id, idx, status FROM credentials`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored := map[string]bool{}
	storedSlots := map[slot]string{}
	for rows.Next() {
		var id, list string
		var idx, status int
		if err := rows.Scan(&id, &list, &idx, &status); err != nil {
			t.Fatal(err)
		}
		stored[id] = true
		s := slot{ts.URL + "/statuslists/" + list, idx}
		if prev, ok := storedSlots[s]; ok {
			t.Errorf("stored: index %d of %s belongs to %s and %s", idx, list, prev, id)
		}
		storedSlots[s] = id
		if c, ok := l.byID[id]; ok && (c.Status.URI != s.uri || c.Status.Idx != idx) {
			t.Errorf("%s was acknowledged with %s #%d but is stored with %s #%d", id, c.Status.URI, c.Status.Idx, s.uri, idx)
		}
		if l.revoked[id] && status != 1 {
			t.Errorf("%s: acknowledged revocation stored as status %d", id, status)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range l.issued {
		if !stored[c.ID] {
			t.Errorf("issuance of %s was acknowledged (201) but is not stored", c.ID)
		}
	}
	t.Logf("checked %d acknowledged issuances (%d stored records) and %d acknowledged revocations in %d list(s)",
		len(l.issued), len(stored), len(l.revoked), len(lists))
}

// durFetchLists fetches and verifies the Status List Token of every list
// the credentials name, with the issuer's key resolved from its did:web
// (served by the restarted server).
func durFetchLists(t *testing.T, ts *testServer, creds []issuer.Issued) map[string]*revocation.Token {
	t.Helper()
	resolver := did.NewResolver(did.NewFetcher(did.FetcherConfig{AllowHosts: []string{"127.0.0.1"}}))
	keyFn := func(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
		return did.IssuerKey(ctx, resolver, iss, hdr.KeyID())
	}
	out := map[string]*revocation.Token{}
	for _, c := range creds {
		uri := c.Status.URI
		if out[uri] != nil {
			continue
		}
		status, hdr, body := ts.DoHeaders(http.MethodGet, uri[len(ts.URL):], "", nil, nil)
		if status != http.StatusOK || hdr.Get("Content-Type") != revocation.MediaTypeStatusListJWT {
			t.Fatalf("GET %s: HTTP %d %s", uri, status, body)
		}
		tok, err := revocation.VerifyToken(context.Background(), string(body), revocation.VerifyTokenOptions{
			Key: keyFn, ExpectedIssuer: ts.IssuerDID, ExpectedSubject: uri,
		})
		if err != nil {
			t.Fatalf("verify %s: %v", uri, err)
		}
		out[uri] = tok
	}
	return out
}
