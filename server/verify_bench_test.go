package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// BenchmarkVerifyHandlerOverVerify measures what POST /v1/verify costs
// beyond verifier.Verify: the whole handler (request log, admission,
// routing, body decoding, the metrics, writing the result) against the
// same verifier called directly, alternating in every iteration in one
// run. The credential is this server's own (status from the local
// issuer), presented again with the same KB-JWT, an action decided, a
// receipt signed in both. It reports the median of each, their ratio and
// the handler's own median cost.
//
//	go test -run '^$' -bench VerifyHandlerOverVerify -benchtime 2000x -count 3 ./server/
func BenchmarkVerifyHandlerOverVerify(b *testing.B) {
	env := newLocalIssuerEnv(b)
	ctx := context.Background()
	issued, agentKey := issueLocal(b, env, map[string]any{
		"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
		"agent":        map[string]any{"class": "bench-agent", "version": "1.0.0"},
		"permissions":  []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}, map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": json.Number("500"), "currency": "EUR"}}},
		"prohibitions": []any{"payments:approve"},
		"autonomy":     "supervised",
	})
	pres, err := sdjwt.Present(issued.Credential, []string{"/permissions/0", "/permissions/2"}, &sdjwt.KBOptions{Key: agentKey, Audience: "https://shop.example", Nonce: "n-1"})
	if err != nil {
		b.Fatal(err)
	}
	req := verifier.Request{Presentation: pres, Audience: "https://shop.example", Nonce: "n-1", Action: "payments:initiate", Attributes: map[string]any{"amount": json.Number("120"), "currency": "EUR"}}
	body, _ := json.Marshal(req)
	h := env.Server.Handler()
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/verify", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = "127.0.0.1:4000"
		h.ServeHTTP(rec, r)
		return rec
	}
	if rec := serve(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"verified":true`) || !strings.Contains(rec.Body.String(), `"allowed":true`) {
		b.Fatalf("HTTP %d %s", rec.Code, rec.Body)
	}
	if r := env.Server.verifier.Verify(ctx, req); !r.Allowed() {
		b.Fatalf("%+v %+v", r.Error, r.Decision)
	}
	b.ReportAllocs()
	direct := make([]time.Duration, 0, b.N)
	handler := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if r := env.Server.verifier.Verify(ctx, req); !r.Allowed() {
			b.Fatal(r.Error)
		}
		t1 := time.Now()
		if rec := serve(); rec.Code != http.StatusOK {
			b.Fatalf("HTTP %d", rec.Code)
		}
		t2 := time.Now()
		direct, handler = append(direct, t1.Sub(t0)), append(handler, t2.Sub(t1))
	}
	b.StopTimer()
	md, mh := medianOf(direct), medianOf(handler)
	b.ReportMetric(float64(md.Nanoseconds()), "verify-median-ns")
	b.ReportMetric(float64(mh.Nanoseconds()), "handler-median-ns")
	b.ReportMetric(float64(mh-md)/1e3, "overhead-µs")
	b.ReportMetric(float64(mh)/float64(md), "handler/verify")
}

func medianOf(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// newLocalIssuerEnv is a test server (log level warn) whose verifier reads
// its own issuer's keys and status lists in process, as `agentcert serve`
// wires it.
func newLocalIssuerEnv(b *testing.B) *TestEnv {
	b.Helper()
	return newTestEnv(b, func(c *config.Config) { c.LogLevel = "warn" }, func(cfg config.Config, parts *issuer.Parts) []verifier.Option {
		prefix := strings.TrimRight(cfg.PublicURL, "/") + "/statuslists/"
		return []verifier.Option{verifier.WithLocalIssuer(&verifier.LocalIssuer{
			DID: parts.Keys.Issuer(),
			Document: func(context.Context) (*did.Document, error) {
				return did.NewWebDocument(parts.Keys.Issuer(), parts.Keys.PublicKeys())
			},
			StatusList: func(ctx context.Context, uri string) (string, bool, error) {
				id, ok := strings.CutPrefix(uri, prefix)
				if !ok {
					return "", false, nil
				}
				p, err := parts.Statuses.Publish(ctx, id, "", "")
				if err != nil {
					return "", true, err
				}
				return p.Token, true, nil
			},
		})}
	})
}

// issueLocal issues, through env's issuer core, a certification with claims
// (its permissions selectively disclosable) to a new ES256 agent, and
// returns it and the agent's key.
func issueLocal(b *testing.B, env *TestEnv, claims map[string]any) (*issuer.Issued, jwk.Key) {
	b.Helper()
	agentKey, agent := testkeys.DIDKey(b, jwa.ES256)
	issued, err := env.Parts.Service.Issue(context.Background(), issuer.Actor{TokenID: "bench", Role: "issuer"}, issuer.IssueRequest{
		Subject:                agent,
		Claims:                 claims,
		SelectivelyDisclosable: []string{"/permissions/*"},
	}, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	return issued, agentKey
}
