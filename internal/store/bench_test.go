package store_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/testkit"
)

// BenchmarkInsertCredentialParallel measures durable issuance records per
// second: each op is InsertCredential with an idempotency key and an audit
// entry, acknowledged only after its group commit (synchronous=FULL).
//
// The sub-benchmarks cap the writes one commit may take: at 32 clients over
// HTTP the batches are a few writes each, and the per-commit cost (BEGIN,
// the WAL write of the touched pages, fsync) is then shared by few records.
func BenchmarkInsertCredentialParallel(b *testing.B) {
	for _, n := range []int{4, 32} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) { benchInsertCredential(b, n) })
	}
}

func benchInsertCredential(b *testing.B, maxBatch int) {
	s, err := store.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), store.WithMaxBatch(maxBatch))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const size = 1 << 24
	if err := s.CreateStatusList(b.Context(), store.StatusList{ID: "L", Size: size, Bits: 2}, nil); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	now := time.Now()
	b.SetParallelism(32) // many concurrent HTTP requests per core
	b.ResetTimer()
	cpu := testkit.ProcessCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if i >= size {
				b.Fatal("status list full")
			}
			id := fmt.Sprintf("cred-%d", i)
			sum := sha256.Sum256([]byte(id))
			c := store.Credential{
				ID: id, Subject: "did:key:z6Mk" + id, PrincipalID: "did:web:acme.example", AgentClass: "invoice-bot",
				VCT: "urn:agentcert:agent-certification:v1", ListID: "L", Idx: int(i),
				IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), JWTHash: sum[:], TokenID: "tok-issuer",
			}
			idem := &store.Idempotency{TokenID: "tok-issuer", Key: id, RequestHash: sum[:]}
			a := &store.AuditEntry{Actor: "tok-issuer", Action: "credential.issue", Target: id,
				Details: json.RawMessage(`{"vct":"urn:agentcert:agent-certification:v1","list":"L"}`)}
			if err := s.InsertCredential(b.Context(), c, idem, a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((testkit.ProcessCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	if st := s.Stats(); st.Commits > 0 {
		b.ReportMetric(float64(st.Writes)/float64(st.Commits), "writes/commit")
	}
}
