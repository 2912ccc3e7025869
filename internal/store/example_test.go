package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/agentcert/agentcert/internal/store"
)

// Example records an issuance and a revocation, each with its audit entry,
// reads the status list back and verifies the audit chain.
func Example() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := store.Open(ctx, filepath.Join(dir, "issuer.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreateStatusList(ctx, store.StatusList{ID: "1", Size: 131072, Bits: 2, CreatedAt: now}, nil); err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256([]byte("<issued SD-JWT VC>"))
	rec := store.Credential{
		ID: "cred-1", Subject: "did:key:z6MkAgent", PrincipalID: "did:web:acme.example", AgentClass: "invoice-bot",
		VCT: "urn:agentcert:agent-certification:v1", ListID: "1", Idx: 42,
		IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), JWTHash: sum[:], TokenID: "tok-issuer",
	}
	err = s.InsertCredential(ctx, rec, nil, &store.AuditEntry{Actor: "tok-issuer", Action: "credential.issue", Target: rec.ID})
	if err != nil {
		log.Fatal(err)
	}
	_, err = s.SetStatus(ctx, rec.ID, store.StatusValid,
		store.StatusChange{Value: store.StatusRevoked, Reason: "key_compromise", Incident: "INC-1", At: now.Add(time.Hour)},
		&store.AuditEntry{Actor: "tok-auditor", Action: "credential.revoke", Target: rec.ID, Details: []byte(`{"reason":"key_compromise"}`)})
	if err != nil {
		log.Fatal(err)
	}

	version, entries, err := s.ListEntries(ctx, "1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("list version:", version, "entries:", entries)

	checked, broken, err := s.VerifyAudit(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("audit entries:", checked, "first broken:", broken)
	// Output:
	// list version: 2 entries: map[42:1]
	// audit entries: 2 first broken: 0
}
