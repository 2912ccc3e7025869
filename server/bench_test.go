package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/server"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Issuance benchmarks of the whole HTTP stack in one process: router,
// bearer token lookup, body decoding, issuer, SQLite store (group commit,
// synchronous=FULL). Run with -cpuprofile to see where the time goes:
//
//	go test -run '^$' -bench 'BenchmarkIssueHTTP' -benchtime 3000x -cpuprofile cpu.out ./server/
//	go tool pprof -top -nodecount 40 server.test cpu.out

// benchIssuer is a server with an issuer token, in a temporary directory.
type benchIssuer struct {
	store   *store.SQLite
	handler http.Handler
	token   string
	body    []byte
	cpu     time.Duration // processCPU when the timer was reset
}

func newBenchIssuer(b *testing.B) *benchIssuer {
	b.Helper()
	ctx := context.Background()
	env := server.NewTestEnv(b, func(c *config.Config) { c.LogLevel = "warn" })
	st, srv := env.Store, env.Server
	token, _, err := tokens.Create(ctx, st, tokens.RoleIssuer, "bench", "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	agentKey, err := keyutil.Generate(jwa.EdDSA)
	if err != nil {
		b.Fatal(err)
	}
	agent, err := did.KeyDID(agentKey)
	if err != nil {
		b.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{
		"subject": agent,
		"claims": map[string]any{
			"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
			"agent":        map[string]any{"class": "bench-agent", "version": "1.0.0"},
			"permissions":  []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}},
			"prohibitions": []any{"payments:initiate"},
			"autonomy":     "supervised",
		},
		"selectively_disclosable": []string{"/permissions/*"},
		"valid_for":               "24h",
	})
	if err != nil {
		b.Fatal(err)
	}
	return &benchIssuer{store: st, handler: srv.Handler(), token: token, body: body}
}

// BenchmarkIssueHTTP: POST /v1/credentials over loopback HTTP from many
// concurrent keep-alive clients. Report: credentials/s.
func BenchmarkIssueHTTP(b *testing.B) {
	bi := newBenchIssuer(b)
	ts := httptest.NewServer(bi.handler)
	defer ts.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	bi.cpu = testkit.ProcessCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/credentials", bytes.NewReader(bi.body))
			req.Header.Set("Authorization", "Bearer "+bi.token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	bi.report(b)
}

// BenchmarkIssueHandler: the same request through the handler without a
// network, to separate HTTP transport cost from the service's.
func BenchmarkIssueHandler(b *testing.B) {
	bi := newBenchIssuer(b)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	bi.cpu = testkit.ProcessCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/v1/credentials", bytes.NewReader(bi.body))
			req.Header.Set("Authorization", "Bearer "+bi.token)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			bi.handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.StopTimer()
	bi.report(b)
}

// report adds credentials/s, the process CPU time per credential (client
// side included) and the store's mean group-commit size.
func (bi *benchIssuer) report(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "credentials/s")
	b.ReportMetric(float64((testkit.ProcessCPU()-bi.cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	if st := bi.store.Stats(); st.Commits > 0 {
		b.ReportMetric(float64(st.Writes)/float64(st.Commits), "writes/commit")
	}
}
