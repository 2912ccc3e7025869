package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

func testStatusLists(t *testing.T, s store.Store) {
	c := ctx(t)
	must(t, s.CreateStatusList(c, store.StatusList{ID: "b", Size: 1024, Bits: 2, CreatedAt: at(time.Minute), Used: 7, Version: 9}, ae("statuslist.create", "b")), "CreateStatusList b")
	must(t, s.CreateStatusList(c, store.StatusList{ID: "a", Size: 8, Bits: 1, CreatedAt: at(0)}, nil), "CreateStatusList a")
	wantIs(t, s.CreateStatusList(c, store.StatusList{ID: "a", Size: 8, Bits: 1}, nil), store.ErrConflict, "CreateStatusList duplicate")
	for _, bad := range []store.StatusList{
		{ID: "", Size: 8, Bits: 2},
		{ID: "z", Size: 0, Bits: 2},
		{ID: "z", Size: -1, Bits: 2},
		{ID: "z", Size: 8, Bits: 3},
		{ID: "z", Size: 8, Bits: 0},
		{ID: "z", Size: store.MaxListSize + 1, Bits: 2}, // more than PostgreSQL's INTEGER holds
	} {
		wantCode(t, s.CreateStatusList(c, bad, nil), errcode.InvalidInput, fmt.Sprintf("CreateStatusList %+v", bad))
	}

	l, err := s.StatusList(c, "b")
	must(t, err, "StatusList")
	if l.ID != "b" || l.Size != 1024 || l.Bits != 2 || l.Used != 0 || l.Version != 1 || !sameTime(l.CreatedAt, at(time.Minute)) {
		t.Fatalf("StatusList = %+v", l)
	}
	_, err = s.StatusList(c, "nope")
	wantIs(t, err, store.ErrNotFound, "StatusList missing")
	ls, err := s.StatusLists(c)
	must(t, err, "StatusLists")
	if len(ls) != 2 || ls[0].ID != "a" || ls[1].ID != "b" {
		t.Fatalf("StatusLists not oldest first: %+v", ls)
	}

	v, entries, err := s.ListEntries(c, "a")
	must(t, err, "ListEntries")
	if v != 1 || len(entries) != 0 {
		t.Fatalf("ListEntries of new list = %d, %v", v, entries)
	}
	_, _, err = s.ListEntries(c, "nope")
	wantIs(t, err, store.ErrNotFound, "ListEntries missing")
	idx, err := s.UsedIndexes(c, "a")
	must(t, err, "UsedIndexes")
	if len(idx) != 0 {
		t.Fatalf("UsedIndexes of new list = %v", idx)
	}
	_, err = s.UsedIndexes(c, "nope")
	wantIs(t, err, store.ErrNotFound, "UsedIndexes missing")
	wantAuditCount(t, s, 1, "list changes")
}
