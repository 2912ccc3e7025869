package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// benchPool issues n credentials through the issuer core (not timed by the
// callers), concurrently so that the store batches the writes.
func (f *statusFixture) benchPool(b *testing.B, n int) []issued {
	b.Helper()
	key, err := keyutil.Generate(jwa.ES256)
	if err != nil {
		b.Fatal(err)
	}
	pub, err := keyutil.Public(key)
	if err != nil {
		b.Fatal(err)
	}
	sub, err := did.KeyDID(pub)
	if err != nil {
		b.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(`{"principal":{"id":"did:web:acme.example","name":"ACME","type":"organization"},
		"agent":{"class":"bench","version":"1"},"permissions":[{"action":"invoices:read"}],"prohibitions":[],"autonomy":"supervised"}`), &claims); err != nil {
		b.Fatal(err)
	}
	actor := issuer.Actor{TokenID: f.issuerAID, Role: tokens.RoleIssuer}
	out := make([]issued, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				res, err := f.issuer.Issue(context.Background(), actor, issuer.IssueRequest{Subject: sub, Claims: claims}, "", nil)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				out[i] = issued{ID: res.ID, Idx: res.Status.Idx, URI: res.Status.URI, ListID: res.Status.URI[strings.LastIndex(res.Status.URI, "/")+1:]}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return out
}

// servedValue reads entry idx of a Status List Token body. The signature
// is not checked here (the benchmark checks it once at the end); the list
// is decoded as a verifier would.
func servedValue(b *testing.B, body []byte, idx int) uint8 {
	msg, err := jws.Parse(body, jws.WithCompact())
	if err != nil {
		b.Fatal(err)
	}
	var p struct {
		StatusList struct {
			Bits int    `json:"bits"`
			Lst  string `json:"lst"`
		} `json:"status_list"`
	}
	if err := json.Unmarshal(msg.Payload(), &p); err != nil {
		b.Fatal(err)
	}
	l, err := revocation.DecodeIETF(p.StatusList.Lst, p.StatusList.Bits, 0)
	if err != nil {
		b.Fatal(err)
	}
	v, err := l.Get(idx)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func (f *statusFixture) benchGet(b *testing.B, path string, hdr map[string]string) (int, []byte) {
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, body
}

// BenchmarkRevokeToServed measures the time from sending a revoke call to
// the issuer serving the changed list, over a real loopback connection:
// each iteration POSTs one revocation (200) and GETs the status list, which
// must already show the change (the issuer never serves a stale token).
// ns/op is the revoke -> served latency; revoke-ns/op and get-ns/op split
// it into its two calls (the GET includes re-signing the list and the
// client's decoding of it).
func BenchmarkRevokeToServed(b *testing.B) {
	f := newStatusFixture(b)
	pool := f.benchPool(b, b.N)
	req := []byte(`{"reason":"key_compromise","incident":"BENCH"}`)
	var revokeTime, getTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := pool[i]
		start := time.Now()
		hreq, err := http.NewRequest(http.MethodPost, f.srv.URL+"/v1/credentials/"+c.ID+"/revoke", strings.NewReader(string(req)))
		if err != nil {
			b.Fatal(err)
		}
		hreq.Header.Set("Authorization", "Bearer "+f.auditor)
		resp, err := f.srv.Client().Do(hreq)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("revoke: HTTP %d", resp.StatusCode)
		}
		acked := time.Now()
		status, body := f.benchGet(b, "/statuslists/"+c.ListID, nil)
		if status != http.StatusOK {
			b.Fatalf("GET: HTTP %d", status)
		}
		if v := servedValue(b, body, c.Idx); v != 1 {
			b.Fatalf("the first GET after the revoke's 200 serves status %d", v)
		}
		done := time.Now()
		revokeTime += acked.Sub(start)
		getTime += done.Sub(acked)
	}
	b.StopTimer()
	b.ReportMetric(float64(revokeTime.Nanoseconds())/float64(b.N), "revoke-ns/op")
	b.ReportMetric(float64(getTime.Nanoseconds())/float64(b.N), "get-ns/op")
	// Every revocation is in the signed list.
	tok := f.list(pool[0].ListID)
	for _, c := range pool {
		if c.ListID != pool[0].ListID {
			continue
		}
		if v, _ := tok.List.Get(c.Idx); v != 1 {
			b.Fatalf("idx %d: %d", c.Idx, v)
		}
	}
}

// BenchmarkStatusListGET measures serving an unchanged (cached) Status
// List Token: a full 200 answer, and a conditional GET answered 304.
func BenchmarkStatusListGET(b *testing.B) {
	f := newStatusFixture(b)
	pool := f.benchPool(b, 100)
	for _, c := range pool[:10] {
		if code, body := f.change(f.auditor, c.ID, "revoke", revokeReq); code != 200 {
			b.Fatalf("revoke: %d %s", code, body)
		}
	}
	path := "/statuslists/" + pool[0].ListID
	resp, _ := f.do(http.MethodGet, path, "", nil, nil)
	etag := resp.Header.Get("ETag")
	b.Run("200", func(b *testing.B) {
		var size int
		for b.Loop() {
			status, body := f.benchGet(b, path, nil)
			if status != http.StatusOK {
				b.Fatalf("HTTP %d", status)
			}
			size = len(body)
		}
		b.ReportMetric(float64(size), "token-bytes")
	})
	b.Run("304", func(b *testing.B) {
		hdr := map[string]string{"If-None-Match": etag}
		for b.Loop() {
			if status, _ := f.benchGet(b, path, hdr); status != http.StatusNotModified {
				b.Fatalf("HTTP %d", status)
			}
		}
	})
	b.Run("w3c-200", func(b *testing.B) {
		for b.Loop() {
			if status, _ := f.benchGet(b, path+"?format=w3c&purpose=revocation", nil); status != http.StatusOK {
				b.Fatalf("HTTP %d", status)
			}
		}
	})
}
