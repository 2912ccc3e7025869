package tokens_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
)

func TestCreateStoresOnlyTheHash(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Unix(1760000000, 0)
	secret, rec, err := tokens.Create(ctx, st, tokens.RoleAuditor, "ops", "cli", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, tokens.Prefix) || !strings.HasPrefix(rec.ID, "tok_") || rec.Role != tokens.RoleAuditor {
		t.Fatalf("secret %q record %+v", secret, rec)
	}
	got, err := st.TokenByHash(ctx, tokens.Hash(secret))
	if err != nil || got.ID != rec.ID || !bytes.Equal(got.Hash, tokens.Hash(secret)) || bytes.Contains(got.Hash, []byte(secret)) {
		t.Fatalf("stored %+v, %v", got, err)
	}
	es, err := st.Audit(ctx, store.AuditFilter{Action: "token.create", Limit: 10})
	if err != nil || len(es) != 1 || es[0].Target != rec.ID || es[0].Actor != "cli" {
		t.Fatalf("audit %+v, %v", es, err)
	}
	if _, _, err := tokens.Create(ctx, st, "root", "x", "cli", now); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("unknown role: %v", err)
	}
	a, _, _ := tokens.New()
	b, _, _ := tokens.New()
	if a == b {
		t.Fatal("two tokens are equal")
	}
	for role, ok := range map[string]bool{"admin": true, "issuer": true, "auditor": true, "": false, "Admin": false} {
		if tokens.ValidRole(role) != ok {
			t.Errorf("ValidRole(%q) != %v", role, ok)
		}
	}
}

// TestCreateRefusesBadNames: a name too long, not UTF-8 or with a control
// character (a tab or newline would forge rows of `agentcert token list`)
// is invalid_input and nothing is stored; plain names, empty included, are
// taken.
func TestCreateRefusesBadNames(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Unix(1_800_000_000, 0)
	for _, name := range []string{strings.Repeat("n", tokens.MaxNameLen+1), "a\tb", "night\nshift", "x\x00", "bad \xff", "bell\a"} {
		if _, _, err := tokens.Create(ctx, st, tokens.RoleAuditor, name, "cli", now); errcode.CodeOf(err) != errcode.InvalidInput {
			t.Errorf("name %q: %v, want invalid_input", name, err)
		}
	}
	if ts, err := st.Tokens(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("tokens stored after refusals: %d, %v", len(ts), err)
	}
	for _, name := range []string{"", "night-shift", "Équipe de nuit ✓", strings.Repeat("é", tokens.MaxNameLen)} {
		if _, _, err := tokens.Create(ctx, st, tokens.RoleAuditor, name, "cli", now); err != nil {
			t.Errorf("name %q: %v", name, err)
		}
	}
}
