package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/agentcert/agentcert/internal/testbin"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testsvc"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
)

// Crash loops: issuance, status changes and verification run against the
// server while it is killed with SIGKILL again and again, at random moments,
// and restarted on the same store each time. Clients resend what got no
// answer (issuance with the same Idempotency-Key, a status change as is:
// both are safe to repeat), so that in the end every operation has an
// answer and the store must hold exactly what was acknowledged.
const (
	crashKills     = 20
	crashIssuers   = 3
	crashChangers  = 3
	crashVerifiers = 2
	crashSeed      = 24 // credentials issued before the load
	crashStable    = 6  // of the seed, never changed: they must always verify
	crashMaxAcks   = 60 // a kill comes after 0..crashMaxAcks acknowledged operations (0: as soon as the restarted server answers)
	// crashStall fails the test when no operation is acknowledged for this
	// long (a wedged server), instead of hanging until the suite's timeout.
	crashStall = 2 * time.Minute
	// crashMaxResends bounds how often one request is sent again while the
	// server is meant to be up (a server that died on its own).
	crashMaxResends = 100
)

func TestCrashLoopSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a server 20 times")
	}
	runCrashLoop(t, nil)
}

func TestCrashLoopPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a server 20 times")
	}
	db := testsvc.Postgres(t)
	kek := make([]byte, issuer.KEKSize)
	_, _ = rand.Read(kek)
	runCrashLoop(t, []string{"AGENTCERT_STORE_URL=" + db, "AGENTCERT_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(kek)})
}

// upGate tells the clients whether the server is up: wait returns at once
// while it is, and blocks from down until up.
type upGate struct {
	mu sync.Mutex
	ch chan struct{}
}

func newUpGate() *upGate {
	ch := make(chan struct{})
	close(ch)
	return &upGate{ch: ch}
}

func (g *upGate) down() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ch = make(chan struct{})
}

func (g *upGate) up() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.ch:
	default:
		close(g.ch)
	}
}

// wait blocks until the server is up (true) or abort is closed (false).
func (g *upGate) wait(abort <-chan struct{}) bool {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-abort:
		return false
	}
}

// crashLoad is the clients' shared state: what the server acknowledged.
type crashLoad struct {
	issuing, auditing, anon *durClient
	agent                   jwk.Key
	subject                 string
	gate                    *upGate
	stop, abort             chan struct{}
	acks                    chan struct{} // one (best effort) per acknowledged operation
	fresh                   chan string   // issued credentials for the changers

	mu      sync.Mutex
	issued  map[string]issuer.Issued // every 201
	ids     []string                 // their ids, in acknowledgement order
	status  map[string]uint8         // the last acknowledged status of each
	actions map[string][]string      // the acknowledged audit actions of each, in order
	stable  map[string]bool
	errs    []string
	counts  struct{ issued, changed, verified, resent int }
}

func (l *crashLoad) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
}

func (l *crashLoad) failed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

func (l *crashLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *crashLoad) ack() {
	select {
	case l.acks <- struct{}{}:
	default:
	}
}

// until sends the request until the server answers: a transport error
// means the server died (or the answer was lost), so it waits until the
// server is up and sends the same request again. ok is false when the test
// is aborted or the server keeps failing while it should be up.
func (l *crashLoad) until(c *durClient, method, path string, hdr map[string]string, body any) (int, []byte, bool) {
	for resends := 0; ; resends++ {
		status, out, err := c.send(method, path, hdr, body)
		if err == nil {
			return status, out, true
		}
		if resends == crashMaxResends {
			l.fail("%s %s: no answer after %d attempts: %v", method, path, resends+1, err)
			return 0, nil, false
		}
		l.mu.Lock()
		l.counts.resent++
		l.mu.Unlock()
		if !l.gate.wait(l.abort) {
			return 0, nil, false
		}
	}
}

// issue issues one credential with an Idempotency-Key, resending until it
// is answered, and records the acknowledgement.
func (l *crashLoad) issue() (issuer.Issued, bool) {
	key := "crash-" + randomHex(12)
	status, body, ok := l.until(l.issuing, http.MethodPost, "/v1/credentials", map[string]string{"Idempotency-Key": key},
		map[string]any{"subject": l.subject, "claims": demoClaims(), "valid_for": "24h"})
	if !ok {
		return issuer.Issued{}, false
	}
	var out issuer.Issued
	if status != http.StatusCreated || json.Unmarshal(body, &out) != nil || out.ID == "" {
		l.fail("issue: HTTP %d %s", status, body)
		return issuer.Issued{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.issued[out.ID]; dup {
		l.errs = append(l.errs, fmt.Sprintf("%s acknowledged for two Idempotency-Keys", out.ID))
		return issuer.Issued{}, false
	}
	l.issued[out.ID] = out
	l.ids = append(l.ids, out.ID)
	l.status[out.ID] = revocation.StatusValid
	l.actions[out.ID] = []string{"credential.issue"}
	l.counts.issued++
	return out, true
}

func (l *crashLoad) issuerLoop() {
	for !l.stopped() {
		out, ok := l.issue()
		if !ok {
			return
		}
		select {
		case l.fresh <- out.ID:
		default:
		}
		l.ack()
	}
}

// changerLoop suspends, reinstates and revokes the credentials it owns
// (each credential has one owner, so its acknowledged history is exact).
func (l *crashLoad) changerLoop(rng *mrand.Rand) {
	var pool []string
	for !l.stopped() {
		for len(pool) < 8 {
			select {
			case id := <-l.fresh:
				pool = append(pool, id)
				continue
			default:
			}
			break
		}
		if len(pool) == 0 {
			select {
			case id := <-l.fresh:
				pool = append(pool, id)
			case <-l.stop:
				return
			}
		}
		i := rng.Intn(len(pool))
		id := pool[i]
		l.mu.Lock()
		cur := l.status[id]
		l.mu.Unlock()
		action := "revoke"
		switch {
		case rng.Intn(3) == 0:
		case cur == revocation.StatusValid:
			action = "suspend"
		default:
			action = "reinstate"
		}
		status, body, ok := l.until(l.auditing, http.MethodPost, "/v1/credentials/"+id+"/"+action, nil,
			issuer.StatusRequest{Reason: "incident", Incident: "CRASH-1"})
		if !ok {
			return
		}
		if status != http.StatusOK {
			l.fail("%s %s (acknowledged status %d): HTTP %d %s", action, id, cur, status, body)
			return
		}
		l.mu.Lock()
		l.status[id] = map[string]uint8{"revoke": revocation.StatusRevoked, "suspend": revocation.StatusSuspended, "reinstate": revocation.StatusValid}[action]
		l.actions[id] = append(l.actions[id], "credential."+action)
		l.counts.changed++
		l.mu.Unlock()
		if action == "revoke" {
			pool = append(pool[:i], pool[i+1:]...)
		}
		l.ack()
	}
}

// verifierLoop presents random acknowledged credentials to POST /v1/verify:
// a stable one must verify, any other verifies or is revoked or suspended.
// A presentation that got no answer is not sent again (it changes nothing).
func (l *crashLoad) verifierLoop(rng *mrand.Rand) {
	for !l.stopped() {
		l.mu.Lock()
		c := l.issued[l.ids[rng.Intn(len(l.ids))]]
		stable := l.stable[c.ID]
		l.mu.Unlock()
		nonce := randomHex(8)
		pres, err := sdjwt.Present(c.Credential, []string{""}, &sdjwt.KBOptions{Key: l.agent, Audience: testVerifierAud, Nonce: nonce})
		if err != nil {
			l.fail("present %s: %v", c.ID, err)
			return
		}
		status, body, err := l.anon.send(http.MethodPost, "/v1/verify", nil, map[string]any{"presentation": pres, "audience": testVerifierAud, "nonce": nonce})
		if err != nil {
			if !l.gate.wait(l.abort) {
				return
			}
			continue
		}
		var res verifier.Result
		if status != http.StatusOK || json.Unmarshal(body, &res) != nil {
			l.fail("verify %s: HTTP %d %s", c.ID, status, body)
			return
		}
		code := firstErr(res)
		if stable && !res.Verified || !res.Verified && code != "revoked" && code != "suspended" {
			l.fail("verify %s (stable %v): verified %v, code %q: %s", c.ID, stable, res.Verified, code, body)
			return
		}
		l.mu.Lock()
		l.counts.verified++
		l.mu.Unlock()
		l.ack()
	}
}

// awaitAcks returns once n more operations have been acknowledged.
func (l *crashLoad) awaitAcks(t *testing.T, n int) {
	t.Helper()
	stall := time.NewTimer(crashStall)
	defer stall.Stop()
	for range n {
		select {
		case <-l.acks:
		case <-stall.C:
			t.Fatalf("no operation acknowledged for %s: %v", crashStall, l.failed())
		}
		if errs := l.failed(); len(errs) > 0 {
			t.Fatalf("unexpected answers: %v", errs)
		}
	}
}

func (l *crashLoad) drainAcks() {
	for {
		select {
		case <-l.acks:
		default:
			return
		}
	}
}

func runCrashLoop(t *testing.T, env []string) {
	seed := testSeed(t, "CRASHLOOP_SEED")
	rng := mrand.New(mrand.NewSource(seed))
	began := time.Now()

	dir := t.TempDir()
	ts, issuerTok, auditorTok := startWithTokens(t, dir, env...)
	workers := crashIssuers + crashChangers + crashVerifiers
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer hc.CloseIdleConnections()
	agent, subject := testkeys.DIDKey(t, jwa.EdDSA)
	l := &crashLoad{
		issuing:  &durClient{base: ts.URL, hc: hc, token: issuerTok},
		auditing: &durClient{base: ts.URL, hc: hc, token: auditorTok},
		anon:     &durClient{base: ts.URL, hc: hc},
		agent:    agent, subject: subject,
		gate: newUpGate(), stop: make(chan struct{}), abort: make(chan struct{}),
		acks: make(chan struct{}, 4096), fresh: make(chan string, 1<<16),
		issued: map[string]issuer.Issued{}, status: map[string]uint8{}, actions: map[string][]string{}, stable: map[string]bool{},
	}
	var wg sync.WaitGroup
	defer func() {
		// On a failure, release every client wherever it waits.
		close(l.abort)
		l.gate.up()
		select {
		case <-l.stop:
		default:
			close(l.stop)
		}
		wg.Wait()
	}()

	for i := range crashSeed {
		out, ok := l.issue()
		if !ok {
			t.Fatalf("seed issuance: %v", l.failed())
		}
		if i < crashStable {
			l.stable[out.ID] = true
		} else {
			l.fresh <- out.ID
		}
	}

	for range crashIssuers {
		wg.Go(l.issuerLoop)
	}
	for i := range crashChangers + crashVerifiers {
		r := mrand.New(mrand.NewSource(seed + int64(i) + 1))
		if i < crashChangers {
			wg.Go(func() { l.changerLoop(r) })
		} else {
			wg.Go(func() { l.verifierLoop(r) })
		}
	}

	var downtime time.Duration
	startKills := 0
	for k := 1; k <= crashKills; k++ {
		l.awaitAcks(t, rng.Intn(crashMaxAcks+1))
		l.gate.down()
		ts.Kill()
		down := time.Now()
		hc.CloseIdleConnections()
		if rng.Intn(4) == 0 {
			// Also kill one start midway: recovery, migrations and key
			// loading must survive their own interruption.
			killDuringStart(t, ts, time.Duration(rng.Intn(300))*time.Millisecond)
			startKills++
		}
		ts.Restart()
		downtime += time.Since(down)
		l.drainAcks()
		l.gate.up()
	}
	l.awaitAcks(t, crashMaxAcks) // the last process works too
	close(l.stop)
	wg.Wait()
	if errs := l.failed(); len(errs) > 0 {
		t.Fatalf("unexpected answers: %v", errs)
	}
	t.Logf("%d kills under load and %d during a start in %s (%s restarting): acknowledged %d issuances, %d status changes, %d verifications; %d requests resent after a kill",
		crashKills, startKills, time.Since(began).Round(time.Millisecond), downtime.Round(time.Millisecond), l.counts.issued, l.counts.changed, l.counts.verified, l.counts.resent)

	checkCrashRecords(t, ts, l, auditorTok)
	if out := testbin.MustRun(t, binPath, dir, append(os.Environ(), env...), "audit", "verify", "--data-dir", dir); !strings.HasPrefix(out, "audit log intact") {
		t.Fatalf("audit verify: %s", out)
	}
}

// killDuringStart starts the server of ts on its data directory and kills
// it with SIGKILL after the delay, whatever it is doing by then.
func killDuringStart(t *testing.T, ts *testServer, after time.Duration) {
	t.Helper()
	cmd := exec.Command(binPath, "serve", "--config", ts.Config)
	cmd.Env = ts.Env()
	cmd.Dir = ts.DataDir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(after) // a random moment of the start, not a synchronisation
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// crashRecord is a credential record as GET /v1/credentials lists it.
type crashRecord struct {
	ID         string           `json:"id"`
	Status     string           `json:"status"`
	StatusList issuer.StatusRef `json:"status_list"`
	JWTSHA256  string           `json:"jwt_sha256"`
}

// checkCrashRecords compares the store, the audit log and the published
// status lists with what the clients were told.
func checkCrashRecords(t *testing.T, ts *testServer, l *crashLoad, auditorTok string) {
	t.Helper()
	var stored []crashRecord
	for cursor := ""; ; {
		var page struct {
			Credentials []crashRecord `json:"credentials"`
			NextCursor  string        `json:"next_cursor"`
		}
		status, body := ts.Do(http.MethodGet, "/v1/credentials?limit=1000&cursor="+url.QueryEscape(cursor), auditorTok, nil)
		if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET /v1/credentials: %d %s", status, body)
		}
		stored = append(stored, page.Credentials...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}

	// Every acknowledged issuance is stored as acknowledged, with its last
	// acknowledged status; nothing else is stored; no index is given twice.
	type slot struct {
		uri string
		idx int
	}
	byID := map[string]crashRecord{}
	bySlot := map[slot]crashRecord{}
	for _, r := range stored {
		s := slot{r.StatusList.URI, r.StatusList.Idx}
		if prev, dup := bySlot[s]; dup {
			t.Errorf("index %d of %s is stored for %s and %s", s.idx, s.uri, prev.ID, r.ID)
		}
		bySlot[s] = r
		byID[r.ID] = r
		if _, ok := l.issued[r.ID]; !ok {
			t.Errorf("%s is stored but was never acknowledged", r.ID)
		}
	}
	for id, c := range l.issued {
		r, ok := byID[id]
		if !ok {
			t.Errorf("issuance of %s was acknowledged (201) but is not stored", id)
			continue
		}
		sum, err := sdjwt.CredentialDigest(c.Credential)
		if err != nil {
			t.Fatal(err)
		}
		if r.StatusList != c.Status || r.JWTSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s was acknowledged with %+v but is stored with %+v", id, c.Status, r)
		}
		if want := revocation.StatusName(l.status[id]); r.Status != want {
			t.Errorf("%s: the last acknowledged status is %s, the store says %s", id, want, r.Status)
		}
	}

	// The audit log has one entry per acknowledged change, in order.
	got := map[string][]string{}
	for cursor := ""; ; {
		var page struct {
			Entries []struct {
				Action string `json:"action"`
				Target string `json:"target"`
			} `json:"entries"`
			NextCursor string `json:"next_cursor"`
		}
		status, body := ts.Do(http.MethodGet, "/v1/audit?limit=1000&cursor="+cursor, auditorTok, nil)
		if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET /v1/audit: %d %s", status, body)
		}
		for _, e := range page.Entries {
			if strings.HasPrefix(e.Action, "credential.") {
				got[e.Target] = append(got[e.Target], e.Action)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	for id, want := range l.actions {
		if strings.Join(got[id], " ") != strings.Join(want, " ") {
			t.Errorf("%s: audit log %v, acknowledged %v", id, got[id], want)
		}
	}

	// Every published list agrees with the records, at every index.
	var refs []issuer.Issued
	for _, r := range stored {
		refs = append(refs, issuer.Issued{Status: r.StatusList})
	}
	lists := durFetchLists(t, ts, refs)
	for uri, tok := range lists {
		for i := range tok.List.Len() {
			v, err := tok.List.Get(i)
			if err != nil {
				t.Fatal(err)
			}
			want := "valid"
			if r, ok := bySlot[slot{uri, i}]; ok {
				want = r.Status
			}
			if got := revocation.StatusName(v); got != want {
				t.Errorf("%s #%d: the list says %s, the record %s", uri, i, got, want)
			}
		}
	}
	t.Logf("checked %d stored credentials, %d audit trails and %d status list(s)", len(stored), len(l.actions), len(lists))
}
