package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/agentcert/agentcert/internal/store"
)

func testConcurrentInserts(t *testing.T, s store.Store) {
	c := ctx(t)
	const n, workers = 240, 16
	newList(t, s, "L", n)
	// Each index is attempted twice, by two workers, under two ids.
	type result struct {
		idx int
		err error
	}
	results := make(chan result, 2*n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 2*n; i += workers {
				idx := i % n
				id := fmt.Sprintf("c-%d-%d", idx, i/n)
				err := s.InsertCredential(c, cred(id, "L", idx), nil, ae("credential.issue", id))
				results <- result{idx, err}
			}
		}()
	}
	// Readers run alongside the writers.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if _, _, err := s.ListEntries(c, "L"); err != nil {
				t.Errorf("ListEntries during writes: %v", err)
				return
			}
			if _, err := s.Credentials(c, store.CredentialFilter{Limit: 10}); err != nil {
				t.Errorf("Credentials during writes: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	close(results)
	ok := map[int]int{}
	for r := range results {
		switch {
		case r.err == nil:
			ok[r.idx]++
		case errors.Is(r.err, store.ErrConflict):
		default:
			t.Fatalf("insert of index %d: %v", r.idx, r.err)
		}
	}
	for idx := range n {
		if ok[idx] != 1 {
			t.Fatalf("index %d inserted %d times, want exactly 1", idx, ok[idx])
		}
	}
	l, err := s.StatusList(c, "L")
	must(t, err, "StatusList")
	if l.Used != n {
		t.Fatalf("Used = %d, want %d", l.Used, n)
	}
	idx, err := s.UsedIndexes(c, "L")
	must(t, err, "UsedIndexes")
	if len(idx) != n || idx[0] != 0 || idx[n-1] != n-1 {
		t.Fatalf("UsedIndexes: %d indexes", len(idx))
	}
	page, err := s.Credentials(c, store.CredentialFilter{})
	must(t, err, "Credentials")
	if len(page) != store.DefaultLimit {
		t.Fatalf("default page has %d records, want %d", len(page), store.DefaultLimit)
	}
	page, err = s.Credentials(c, store.CredentialFilter{Limit: store.MaxLimit + 1})
	must(t, err, "Credentials")
	if len(page) != n {
		t.Fatalf("large page has %d records, want %d", len(page), n)
	}
	wantAuditCount(t, s, n, "concurrent inserts")
	checked, broken, err := s.VerifyAudit(c)
	must(t, err, "VerifyAudit")
	if checked != n || broken != 0 {
		t.Fatalf("VerifyAudit = %d, %d", checked, broken)
	}
}

func testContextCancelled(t *testing.T, s store.Store) {
	newList(t, s, "L", 8)
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	err := s.InsertCredential(c, cred("c1", "L", 1), nil, ae("credential.issue", "c1"))
	wantIs(t, err, context.Canceled, "InsertCredential with a cancelled context")
	_, err = s.AppendAudit(c, store.AuditEntry{Action: "x"})
	wantIs(t, err, context.Canceled, "AppendAudit with a cancelled context")
	_, err = s.Credential(ctx(t), "c1")
	wantIs(t, err, store.ErrNotFound, "credential of a cancelled insert")
	wantAuditCount(t, s, 0, "cancelled writes")
}

func testPing(t *testing.T, s store.Store) {
	must(t, s.Ping(ctx(t)), "Ping")
}

func testCloseDrains(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 1000)
	const n = 200
	errs := make(chan error, n)
	var started sync.WaitGroup
	var wg sync.WaitGroup
	for i := range n {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			errs <- s.InsertCredential(c, cred(fmt.Sprintf("c%03d", i), "L", i), nil, nil)
		}()
	}
	started.Wait()
	must(t, s.Close(), "Close")
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, store.ErrClosed) {
			t.Fatalf("write racing Close: %v (want nil or ErrClosed)", err)
		}
	}
	must(t, s.Close(), "second Close")
	wantIs(t, s.Ping(c), store.ErrClosed, "Ping after Close")
	wantIs(t, s.InsertCredential(c, cred("late", "L", 999), nil, nil), store.ErrClosed, "InsertCredential after Close")
	_, err := s.Credential(c, "c000")
	wantIs(t, err, store.ErrClosed, "Credential after Close")
	_, err = s.Audit(c, store.AuditFilter{})
	wantIs(t, err, store.ErrClosed, "Audit after Close")
	_, err = s.AppendAudit(c, store.AuditEntry{Action: "x"})
	wantIs(t, err, store.ErrClosed, "AppendAudit after Close")
}
