package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/store/storetest"
	"github.com/agentcert/agentcert/internal/testsvc"
	"github.com/agentcert/agentcert/receipt"
)

// TestIncidentContract runs the incident contract suite on PostgreSQL.
func TestIncidentContract(t *testing.T) {
	db := testsvc.Postgres(t)
	storetest.RunIncidents(t, func(t *testing.T) storetest.IncidentStore { return open(t, db) })
}

// TestReceiptSink: receipts put in the store come back from SearchReceipts
// with the filters of a receipt log, oldest first, each once.
func TestReceiptSink(t *testing.T) {
	s := open(t, testsvc.Postgres(t))
	defer s.Close()
	base := time.Unix(1_800_000_000, 0)
	for i := range 6 {
		c := receipt.Claims{Issuer: "did:web:shop.example", IssuedAt: base.Unix() + int64(i), ID: fmt.Sprintf("j%d", i),
			Result: receipt.Success, Subject: "did:key:zA", Principal: "did:web:acme.example", Action: "invoices:read"}
		if i%2 == 1 {
			c.Result, c.Error, c.Action = receipt.Error, "action_prohibited", "payments:initiate"
		}
		if i == 5 {
			c.Subject, c.Chain, c.Principal = "did:key:zDelegate", []string{"did:key:zA", "did:key:zDelegate"}, "did:web:other.example"
		}
		r := receipt.Record{Receipt: "r" + c.ID, Claims: c}
		for range 2 { // a retried Put records it once
			if err := s.Put(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
	}
	search := func(f receipt.Filter) string {
		t.Helper()
		out := ""
		if err := s.SearchReceipts(t.Context(), f, func(r receipt.Record) error { out += r.Claims.ID + " "; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		f    receipt.Filter
		want string
	}{
		{receipt.Filter{}, "j0 j1 j2 j3 j4 j5 "},
		{receipt.Filter{Result: receipt.Error}, "j1 j3 j5 "},
		{receipt.Filter{Action: "payments:initiate", Since: base.Add(2 * time.Second)}, "j3 j5 "},
		{receipt.Filter{Subject: "did:key:zA"}, "j0 j1 j2 j3 j4 j5 "},
		{receipt.Filter{Subject: "did:key:zDelegate"}, "j5 "},
		{receipt.Filter{Principal: "did:web:acme.example", Result: receipt.Success}, "j0 j2 j4 "},
		{receipt.Filter{Principal: "nobody"}, ""},
	} {
		if got := search(tc.f); got != tc.want {
			t.Errorf("filter %+v: %q, want %q", tc.f, got, tc.want)
		}
	}
}
