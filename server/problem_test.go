package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

// TestStorageUnwritableIs503: a write the store refuses for want of space
// or of a writable storage is served as 503 problem+json with the stable
// code and the store's safe message, never the cause, and is logged.
func TestStorageUnwritableIs503(t *testing.T) {
	for name, err := range map[string]error{
		"full":      store.DiskFull(errors.New("sqlite: database or disk is full /var/lib/secret")),
		"read-only": store.ReadOnly(errors.New("write /var/lib/secret: read-only file system")),
	} {
		t.Run(name, func(t *testing.T) {
			var logged strings.Builder
			log := slog.New(slog.NewTextHandler(&logged, nil))
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/v1/credentials", nil)
			writeError(w, r, log, fmt.Errorf("issuer: record credential: %w", err))
			body, _ := io.ReadAll(w.Body)
			var p Problem
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil {
				t.Fatalf("status %d, %s: %s", w.Code, w.Header().Get("Content-Type"), body)
			}
			if p.Code != errcode.StorageUnwritable || p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Detail, "reads and verification keep working") {
				t.Fatalf("problem %+v", p)
			}
			if strings.Contains(string(body), "secret") {
				t.Fatalf("the cause leaked to the client: %s", body)
			}
			if !strings.Contains(logged.String(), "the store refuses writes") || !strings.Contains(logged.String(), "secret") {
				t.Fatalf("not logged with its cause: %s", logged.String())
			}
		})
	}
	// Any other failure of the store stays an internal error.
	w := httptest.NewRecorder()
	writeError(w, httptest.NewRequest(http.MethodPost, "/v1/credentials", nil), slog.New(slog.DiscardHandler), errors.New("disk I/O error"))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("another store error: %d", w.Code)
	}
}
