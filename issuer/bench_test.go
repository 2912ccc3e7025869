package issuer_test

import (
	"context"
	"testing"

	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// BenchmarkIssueInProcess measures durable issuance through the Service with
// the SQLite store: schema check, index allocation, SD-JWT VC signing (ES256)
// and the group-committed record with its audit entry, from many concurrent
// callers (as HTTP requests would be). Report: credentials/s, and the
// process CPU per credential (cpu-µs/op), which a busy machine disturbs less.
func BenchmarkIssueInProcess(b *testing.B) {
	e := newEnv(b)
	agent, _ := newAgentDID(b, jwa.EdDSA)
	req := request(agent)
	ctx := context.Background()
	b.SetParallelism(16) // 16 callers per GOMAXPROCS
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testkit.ProcessCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.svc.Issue(ctx, issuerActor, req, "", nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "credentials/s")
	b.ReportMetric(float64((testkit.ProcessCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkIssueSequential is one caller at a time: the latency floor of
// one durable issuance (one fsync each).
func BenchmarkIssueSequential(b *testing.B) {
	e := newEnv(b)
	agent, _ := newAgentDID(b, jwa.EdDSA)
	req := request(agent)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.svc.Issue(ctx, issuerActor, req, "", nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "credentials/s")
}
