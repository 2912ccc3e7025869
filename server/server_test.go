package server

import (
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/verifier"
)

// TestServiceRefusesInspectionVerifier keeps the CLI's trust modes (a
// pinned issuer key, any issuer) out of the service.
func TestServiceRefusesInspectionVerifier(t *testing.T) {
	nonces, err := verifier.NewNonces(nil, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	strict, err := verifier.New(verifier.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Config: config.Default(), Verifier: strict, Nonces: nonces}); err != nil {
		t.Fatalf("a policy verifier: %v", err)
	}
	inspector, err := verifier.New(verifier.DefaultPolicy(), verifier.WithAnyIssuer())
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Options{Config: config.Default(), Verifier: inspector, Nonces: nonces})
	if err == nil || !strings.Contains(err.Error(), "offline inspection") {
		t.Fatalf("an inspection verifier: %v, want refused", err)
	}
}
