package server

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
)

// BenchmarkVerifyParallel measures the in-process throughput of
// verifier.Verify on every core (b.RunParallel, GOMAXPROCS goroutines):
// the server's own verifier (its local issuer: keys and status lists in
// process, receipts signed), the server's own ES256 credential presented by
// an ES256 agent, one of three permissions disclosed and invoices:read
// decided, the same presentation every time, as `make bench-report` then
// sends it to POST /v1/verify. verifies/s is what the HTTP figure is
// measured against.
//
//	go test -run '^$' -bench VerifyParallel -benchtime 5000x ./server/
func BenchmarkVerifyParallel(b *testing.B) {
	env := newLocalIssuerEnv(b)
	ctx := context.Background()
	issued, agentKey := issueLocal(b, env, map[string]any{
		"principal":   map[string]any{"id": "did:web:acme.example", "name": "ACME", "type": "organization"},
		"agent":       map[string]any{"class": "ap-assistant", "version": "1.4.0"},
		"permissions": []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}, map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": json.Number("500"), "currency": "EUR"}}},
		"autonomy":    "supervised",
	})
	pres, err := sdjwt.Present(issued.Credential, []string{"/permissions/0"}, &sdjwt.KBOptions{Key: agentKey, Audience: "https://cp.example", Nonce: "n1"})
	if err != nil {
		b.Fatal(err)
	}
	req := verifier.Request{Presentation: pres, Audience: "https://cp.example", Nonce: "n1", Action: "invoices:read"}
	v := env.Server.verifier
	if r := v.Verify(ctx, req); !r.Allowed() {
		b.Fatalf("not allowed: %+v %+v", r.Error, r.Decision)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := v.Verify(ctx, req); !r.Allowed() {
				b.Errorf("not allowed: %+v", r.Error)
				return
			}
		}
	})
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "verifies/s")
	}
}
