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
	"github.com/agentcert/agentcert/oid4vci"
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

// TestStorageUnwritableOID4VCI: the OpenID4VCI endpoints answer a refused
// write with 503 and the OAuth error server_error, carrying the code.
func TestStorageUnwritableOID4VCI(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	for name, oauth := range map[string]func(errcode.Code) string{"token": oid4vci.TokenError, "credential": oid4vci.CredentialError} {
		w := httptest.NewRecorder()
		s.vciError(w, httptest.NewRequest(http.MethodPost, "/oid4vci/"+name, nil), oauth, store.DiskFull(errors.New("ENOSPC /var/lib/secret")))
		var e oid4vci.ErrorResponse
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: %d %s", name, w.Code, w.Body)
		}
		if e.Error != "server_error" || e.Code != string(errcode.StorageUnwritable) || !strings.Contains(e.Description, "out of space") || strings.Contains(w.Body.String(), "secret") {
			t.Fatalf("%s: %+v", name, e)
		}
	}
}
