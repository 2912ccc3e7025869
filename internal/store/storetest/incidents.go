package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

// IncidentStore is a store with the incident part.
type IncidentStore interface {
	store.Store
	store.Incidents
}

// RunIncidents runs the incident contract (see store.Incidents) against the
// stores open returns, each new and empty.
func RunIncidents(t *testing.T, open func(t *testing.T) IncidentStore) {
	t.Helper()
	fresh := func(t *testing.T) IncidentStore {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		incSeed(t, s)
		return s
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s IncidentStore)
	}{
		{"CreateAndRead", testIncidentCreateAndRead},
		{"CreateInvalid", testIncidentCreateInvalid},
		{"Filters", testIncidentFilters},
		{"ResolveOnce", testIncidentResolveOnce},
		{"ResolveConcurrent", testIncidentResolveConcurrent},
		{"ResolveWithStatus", testIncidentResolveWithStatus},
		{"CredentialAt", testIncidentCredentialAt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, fresh(t))
		})
	}
}

// incSeed makes list L with credentials c0..c2 at indexes 0..2.
func incSeed(t *testing.T, s IncidentStore) {
	t.Helper()
	if err := s.CreateStatusList(t.Context(), store.StatusList{ID: "L", Size: 1024, Bits: 2, CreatedAt: at(0)}, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c := cred(fmt.Sprintf("c%d", i), "L", i)
		if i == 2 {
			c.PrincipalID = "did:web:other.example"
		}
		if err := s.InsertCredential(t.Context(), c, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func incident(id, credID string) store.Incident {
	return store.Incident{
		ID: id, Category: "unauthorized_action", Severity: "high", Description: "tried to pay",
		OccurredAt: at(time.Hour), RequestedAction: "revoke", Receipts: []string{"r1." + id, "r2." + id},
		Verifier: "did:web:shop.example", CredentialID: credID, Subject: "did:key:z" + credID, PrincipalID: "did:web:acme.example",
		ReporterTokenID: "tok-rep", Reporter: "shop", CreatedAt: at(2 * time.Hour),
	}
}

func testIncidentCreateAndRead(t *testing.T, s IncidentStore) {
	in := incident("inc_1", "c0")
	in.State, in.Decision = "resolved", "revoke" // ignored
	if err := s.CreateIncident(t.Context(), in, ae("incident.create", "inc_1")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Incident(t.Context(), "inc_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "open" || got.Decision != "" || got.ResolvedAt != nil || got.CredentialID != "c0" || len(got.Receipts) != 2 ||
		got.Receipts[1] != "r2.inc_1" || !got.OccurredAt.Equal(in.OccurredAt) || !got.CreatedAt.Equal(in.CreatedAt) ||
		got.Reporter != "shop" || got.Verifier != in.Verifier || got.Description != in.Description || got.Subject != in.Subject {
		t.Fatalf("incident %+v", got)
	}
	last := auditAll(t, s)
	if len(last) != 1 || last[0].Action != "incident.create" || last[0].Target != "inc_1" {
		t.Fatalf("audit %+v", last)
	}
	wantIs(t, s.CreateIncident(t.Context(), incident("inc_1", "c1"), ae("incident.create", "inc_1")), store.ErrConflict, "duplicate id")
	wantAuditCount(t, s, 1, "a refused create writes no audit entry")
	_, err = s.Incident(t.Context(), "inc_none")
	wantIs(t, err, store.ErrNotFound, "missing incident")
}

func testIncidentCreateInvalid(t *testing.T, s IncidentStore) {
	for name, mut := range map[string]func(*store.Incident){
		"no id":              func(in *store.Incident) { in.ID = "" },
		"no credential":      func(in *store.Incident) { in.CredentialID = "" },
		"no receipts":        func(in *store.Incident) { in.Receipts = nil },
		"bad requested":      func(in *store.Incident) { in.RequestedAction = "delete" },
		"no occurrence time": func(in *store.Incident) { in.OccurredAt = time.Time{} },
		// Text PostgreSQL cannot hold is refused alike by both stores.
		"NUL in the description":   func(in *store.Incident) { in.Description = "a\x00b" },
		"category not UTF-8":       func(in *store.Incident) { in.Category = "\xff" },
		"NUL in the credential id": func(in *store.Incident) { in.CredentialID = "c0\x00" },
	} {
		in := incident("inc_x", "c0")
		mut(&in)
		wantCode(t, s.CreateIncident(t.Context(), in, nil), errcode.InvalidInput, name)
	}
	wantIs(t, s.CreateIncident(t.Context(), incident("inc_y", "c9"), nil), store.ErrNotFound, "unknown credential")
	_, err := s.Incidents(t.Context(), store.IncidentFilter{PrincipalID: "did:web:\x00"})
	wantCode(t, err, errcode.InvalidInput, "Incidents filtered by a NUL")
	// No incident is stored under an id that is not storable text.
	for _, id := range []string{"inc\x00", "\xff"} {
		if _, err := s.Incident(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Incident(%q): %v, want ErrNotFound", id, err)
		}
		if _, err := s.ResolveIncident(t.Context(), id, store.Resolution{Decision: "dismiss", By: "tok-aud"}, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ResolveIncident(%q): %v, want ErrNotFound", id, err)
		}
	}
	wantAuditCount(t, s, 0, "refused creates")
}

func testIncidentFilters(t *testing.T, s IncidentStore) {
	for i, c := range []string{"c0", "c1", "c0", "c2"} {
		in := incident(fmt.Sprintf("inc_%d", i), c)
		if c == "c2" {
			in.PrincipalID = "did:web:other.example"
		}
		if err := s.CreateIncident(t.Context(), in, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ResolveIncident(t.Context(), "inc_2", store.Resolution{Decision: "dismiss", By: "tok-aud"}, nil); err != nil {
		t.Fatal(err)
	}
	ids := func(f store.IncidentFilter) string {
		t.Helper()
		got, err := s.Incidents(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, in := range got {
			out += in.ID + " "
		}
		return out
	}
	for f, want := range map[store.IncidentFilter]string{
		{}:                                      "inc_0 inc_1 inc_2 inc_3 ",
		{CredentialID: "c0"}:                    "inc_0 inc_2 ",
		{PrincipalID: "did:web:other.example"}:  "inc_3 ",
		{State: "open"}:                         "inc_0 inc_1 inc_3 ",
		{State: "resolved", CredentialID: "c0"}: "inc_2 ",
		{AfterID: "inc_1", Limit: 1}:            "inc_2 ",
		{CredentialID: "c9"}:                    "",
	} {
		if got := ids(f); got != want {
			t.Errorf("filter %+v: %q, want %q", f, got, want)
		}
	}
}

func testIncidentResolveOnce(t *testing.T, s IncidentStore) {
	if err := s.CreateIncident(t.Context(), incident("inc_1", "c0"), nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, func() error {
		_, err := s.ResolveIncident(t.Context(), "inc_1", store.Resolution{Decision: "delete", By: "tok-aud"}, nil)
		return err
	}(), errcode.InvalidInput, "unknown decision")
	when := at(3 * time.Hour)
	got, err := s.ResolveIncident(t.Context(), "inc_1", store.Resolution{Decision: "revoke", Note: "confirmed", By: "tok-aud", At: when}, ae("incident.resolve", "inc_1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "resolved" || got.Decision != "revoke" || got.ResolutionNote != "confirmed" || got.ResolvedBy != "tok-aud" || got.ResolvedAt == nil || !got.ResolvedAt.Equal(when) {
		t.Fatalf("resolved %+v", got)
	}
	_, err = s.ResolveIncident(t.Context(), "inc_1", store.Resolution{Decision: "dismiss", By: "tok-aud"}, ae("incident.resolve", "inc_1"))
	wantIs(t, err, store.ErrConflict, "second resolution")
	wantAuditCount(t, s, 1, "one resolution audited")
	_, err = s.ResolveIncident(t.Context(), "inc_none", store.Resolution{Decision: "dismiss", By: "tok-aud"}, nil)
	wantIs(t, err, store.ErrNotFound, "missing incident")
}

// Many resolvers race: exactly one wins, the others get ErrConflict.
func testIncidentResolveConcurrent(t *testing.T, s IncidentStore) {
	if err := s.CreateIncident(t.Context(), incident("inc_1", "c0"), nil); err != nil {
		t.Fatal(err)
	}
	var won, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.ResolveIncident(t.Context(), "inc_1", store.Resolution{Decision: incidentDecision(i), By: fmt.Sprintf("tok-%d", i)}, ae("incident.resolve", "inc_1"))
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, store.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("resolve: %v", err)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 || conflicts.Load() != 15 {
		t.Fatalf("%d won, %d conflicts", won.Load(), conflicts.Load())
	}
	wantAuditCount(t, s, 1, "one resolution audited")
}

// SetStatus with Resolves resolves the incident in the transaction of the
// status change; an incident no longer open refuses the whole change.
func testIncidentResolveWithStatus(t *testing.T, s IncidentStore) {
	c := t.Context()
	for id, cr := range map[string]string{"inc_1": "c0", "inc_2": "c1"} {
		must(t, s.CreateIncident(c, incident(id, cr), nil), "CreateIncident")
	}
	_, err := s.ResolveIncident(c, "inc_2", store.Resolution{Decision: "dismiss", By: "tok-a", At: at(3 * time.Hour)}, ae("incident.resolve", "inc_2"))
	must(t, err, "dismiss inc_2")
	l0, err := s.StatusList(c, "L")
	must(t, err, "StatusList")
	revoke := func(credID, incID string, from uint8) (store.Credential, error) {
		return s.SetStatus(c, credID, from, store.StatusChange{Value: store.StatusRevoked, Reason: "incident", Incident: incID, At: at(4 * time.Hour),
			Resolves: &store.IncidentResolution{ID: incID, Resolution: store.Resolution{Decision: "revoke", Note: "confirmed", By: "tok-b", At: at(4 * time.Hour)},
				Audit: ae("incident.resolve", incID)}}, ae("credential.revoke", credID))
	}

	// The incident is resolved already: nothing is written.
	_, err = revoke("c1", "inc_2", store.StatusValid)
	wantIs(t, err, store.ErrIncidentResolved, "revoke resolving a dismissed incident")
	wantIs(t, err, store.ErrConflict, "revoke resolving a dismissed incident")
	if got, _ := s.Credential(c, "c1"); got.Status != store.StatusValid || got.StatusIncident != "" || got.StatusChangedAt != nil {
		t.Fatalf("a refused change changed the credential: %+v", got)
	}
	if l, _ := s.StatusList(c, "L"); l.Version != l0.Version {
		t.Fatalf("a refused change bumped the list version from %d to %d", l0.Version, l.Version)
	}
	if in, _ := s.Incident(c, "inc_2"); in.Decision != "dismiss" || in.ResolvedBy != "tok-a" {
		t.Fatalf("the dismissed incident became %+v", in)
	}
	wantAuditCount(t, s, 1, "a refused change writes no audit entry")
	// A stale status is a conflict, not an incident already resolved.
	_, err = revoke("c0", "inc_1", store.StatusSuspended)
	wantIs(t, err, store.ErrConflict, "stale status")
	if errors.Is(err, store.ErrIncidentResolved) {
		t.Fatalf("a stale status is reported as an incident already resolved: %v", err)
	}
	// An unknown incident or an invalid resolution refuses the change too.
	_, err = revoke("c1", "inc_none", store.StatusValid)
	wantIs(t, err, store.ErrNotFound, "unknown incident")
	_, err = s.SetStatus(c, "c1", store.StatusValid, store.StatusChange{Value: store.StatusRevoked,
		Resolves: &store.IncidentResolution{ID: "inc_1", Resolution: store.Resolution{Decision: "delete", By: "tok-b"}}}, nil)
	wantCode(t, err, errcode.InvalidInput, "invalid resolution")
	if got, _ := s.Credential(c, "c1"); got.Status != store.StatusValid {
		t.Fatalf("a refused change changed the credential: %+v", got)
	}
	wantAuditCount(t, s, 1, "refused changes write no audit entry")

	// An open incident: both happen, with both audit entries.
	got, err := revoke("c0", "inc_1", store.StatusValid)
	must(t, err, "revoke resolving an open incident")
	if got.Status != store.StatusRevoked || got.StatusIncident != "inc_1" {
		t.Fatalf("SetStatus returned %+v", got)
	}
	if in, _ := s.Incident(c, "inc_1"); in.State != "resolved" || in.Decision != "revoke" || in.ResolutionNote != "confirmed" || in.ResolvedBy != "tok-b" ||
		in.ResolvedAt == nil || !in.ResolvedAt.Equal(at(4*time.Hour)) {
		t.Fatalf("incident after the change %+v", in)
	}
	if l, _ := s.StatusList(c, "L"); l.Version != l0.Version+1 {
		t.Fatalf("list version %d, want %d", l.Version, l0.Version+1)
	}
	all := auditAll(t, s)
	if len(all) != 3 || all[1].Action != "credential.revoke" || all[1].Target != "c0" || all[2].Action != "incident.resolve" || all[2].Target != "inc_1" {
		t.Fatalf("audit %+v", all)
	}
	_, err = s.ResolveIncident(c, "inc_1", store.Resolution{Decision: "dismiss", By: "tok-a"}, nil)
	wantIs(t, err, store.ErrIncidentResolved, "dismissing the incident resolved with the change")
}

// incidentDecision cycles through the decisions.
func incidentDecision(i int) string { return store.IncidentDecisions[i%len(store.IncidentDecisions)] }

func testIncidentCredentialAt(t *testing.T, s IncidentStore) {
	c, err := s.CredentialAt(t.Context(), "L", 1)
	if err != nil || c.ID != "c1" {
		t.Fatalf("CredentialAt(L, 1) = %+v, %v", c, err)
	}
	_, err = s.CredentialAt(t.Context(), "L", 7)
	wantIs(t, err, store.ErrNotFound, "unused index")
	// An index no list can hold (from a client's receipt) is not found
	// either, not a failure of the store.
	for _, idx := range []int{-1, store.MaxListSize + 1, 1 << 40} {
		_, err = s.CredentialAt(t.Context(), "L", idx)
		wantIs(t, err, store.ErrNotFound, fmt.Sprintf("index %d", idx))
	}
	_, err = s.CredentialAt(t.Context(), "M", 0)
	wantIs(t, err, store.ErrNotFound, "unknown list")
	for _, id := range []string{"L\x00", "\xff"} {
		_, err = s.CredentialAt(t.Context(), id, 0)
		wantIs(t, err, store.ErrNotFound, fmt.Sprintf("list %q", id))
	}
}
