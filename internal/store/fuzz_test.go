package store_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

// FuzzAppendAudit feeds arbitrary actor, target and details to the audit
// log: each entry is either refused with invalid_input / too_large (details
// that are not JSON or too long, an actor or target with a NUL or not
// UTF-8) or stored
// so that it reads back unchanged, its hash is ChainHash of the stored
// fields and the chain verifies.
func FuzzAppendAudit(f *testing.F) {
	for _, seed := range []struct{ actor, target, details string }{
		{"tok", "cred-1", `{"a":1}`},
		{"", "", ``},
		{"a\x00b", "t\xff", ` { "x" : [ 1 , 2 ] } `},
		{"tok", "", `not json`},
		{"tok", "", `"\u00e9"`},
		{"tok", "", `{} {}`},
		{"tok", "", `[1e400]`},
		{"tok", "", `{"html":"<a href='x'>&</a> "}`},
	} {
		f.Add(seed.actor, seed.target, []byte(seed.details))
	}
	s, err := store.Open(f.Context(), filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, actor, target string, details []byte) {
		e, err := s.AppendAudit(t.Context(), store.AuditEntry{Actor: actor, Action: "fuzz", Target: target, Details: details})
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.InvalidInput && c != errcode.TooLarge {
				t.Fatalf("AppendAudit: %v", err)
			}
			if len(details) > 0 && json.Valid(details) && len(details) <= store.MaxAuditDetails && store.Storable(actor) && store.Storable(target) {
				t.Fatalf("valid details refused: %v", err)
			}
			return
		}
		if !store.Storable(actor) || !store.Storable(target) {
			t.Fatalf("actor %q or target %q, with a NUL or not UTF-8, was stored", actor, target)
		}
		if len(details) > 0 && !json.Valid(details) {
			t.Fatalf("invalid details %q stored as %q", details, e.Details)
		}
		if re, err := json.Marshal(e.Details); err != nil || !bytes.Equal(re, e.Details) {
			t.Fatalf("stored details %q change when re-encoded: %q %v", e.Details, re, err)
		}
		got, err := s.Audit(t.Context(), store.AuditFilter{AfterSeq: e.Seq - 1, Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("Audit: %v %d", err, len(got))
		}
		r := got[0]
		if r.Actor != actor || r.Target != target || !bytes.Equal(r.Details, e.Details) || !r.Time.Equal(e.Time) ||
			!bytes.Equal(r.Hash, e.Hash) || !bytes.Equal(r.Hash, store.ChainHash(r.PrevHash, r)) {
			t.Fatalf("read back %+v, stored %+v", r, e)
		}
		if _, broken, err := s.VerifyAudit(t.Context()); err != nil || broken != 0 {
			t.Fatalf("chain broken at %d: %v", broken, err)
		}
	})
}
