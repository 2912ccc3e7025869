package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/config"
)

// BenchmarkShedVerify measures what a shed POST /v1/verify costs the
// server in process (request log, routing, admission, the 503 answer),
// with the verify class's only slot taken and no queue.
//
//	go test -run '^$' -bench ShedVerify -benchmem ./server/
func BenchmarkShedVerify(b *testing.B) {
	for _, level := range []string{"info", "warn", "error"} {
		b.Run("log_"+level, func(b *testing.B) {
			env := NewTestEnv(b, func(c *config.Config) {
				c.HTTP.Admission.Verify = config.AdmissionClass{MaxConcurrent: 1, MaxQueue: 0, QueueTimeout: time.Second}
			})
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var lvl slog.Level
			_ = lvl.UnmarshalText([]byte(level))
			env.Server.log = slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: lvl}))
			h := env.Server.Handler()
			tk, err := env.Server.admission.classes[classVerify].Acquire(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			defer tk.Release()
			body := strings.Repeat("x", 2000)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				req := httptest.NewRequest(http.MethodPost, "/v1/verify", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusServiceUnavailable {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
