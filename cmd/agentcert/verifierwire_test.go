package main

import (
	"testing"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/redisvp"
)

// TestPresentationStoreFollowsTheNonceStore: with a Redis nonce store the
// OpenID4VP requests are kept in that Redis too (replicas answer each
// other's requests); with the memory one they stay in memory (nil, which
// server.NewOID4VP reads as its memory store).
func TestPresentationStoreFollowsTheNonceStore(t *testing.T) {
	cfg := config.Default()
	cfg.Verifier.NonceStore = "memory"
	if st, err := newPresentationStore(cfg); err != nil || st != nil {
		t.Fatalf("memory nonce store: %v, %v", st, err)
	}
	cfg.Verifier.NonceStore = "redis://127.0.0.1:6379/0"
	st, err := newPresentationStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rs, ok := st.(*redisvp.Store)
	if !ok {
		t.Fatalf("redis nonce store: presentation store %T", st)
	}
	_ = rs.Close()
	cfg.Verifier.NonceStore = "redis://127.0.0.1:notaport/0"
	if _, err := newPresentationStore(cfg); err == nil {
		t.Fatal("a bad Redis URL was accepted")
	}
}
