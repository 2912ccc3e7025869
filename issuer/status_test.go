package issuer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

var (
	otherIssuer = issuer.Actor{TokenID: "tok-issuer-b", Role: "issuer"}
	auditor     = issuer.Actor{TokenID: "tok-auditor", Role: "auditor"}
	why         = issuer.StatusRequest{Reason: "incident", Incident: "INC-42", Note: "agent misbehaved"}
)

// auditCount counts the audit entries of action on target.
func (e *env) auditCount(action, target string) int {
	e.t.Helper()
	es, err := e.st.Audit(context.Background(), store.AuditFilter{Action: action, Target: target})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(es)
}

func TestStatusChangeTransitions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	id := e.mustIssue(issuerActor, request(agent)).ID

	steps := []struct {
		actor  issuer.Actor
		action string
		want   uint8
		code   errcode.Code // "" when the change succeeds
	}{
		{auditor, "reinstate", store.StatusValid, ""}, // already valid: no-op
		{issuerActor, "suspend", store.StatusSuspended, ""},
		{auditor, "suspend", store.StatusSuspended, ""},  // no-op
		{otherIssuer, "reinstate", 0, errcode.NotFound},  // another issuer's credential is not found, not forbidden
		{issuerActor, "reinstate", 0, errcode.Forbidden}, // only an auditor undoes a suspension
		{auditor, "reinstate", store.StatusValid, ""},
		{auditor, "revoke", store.StatusRevoked, ""},
		{issuerActor, "revoke", store.StatusRevoked, ""}, // idempotent
		{auditor, "reinstate", 0, errcode.Conflict},      // revocation is final
		{auditor, "suspend", 0, errcode.Conflict},
	}
	for i, s := range steps {
		c, err := e.statuses.Change(ctx, s.actor, id, s.action, why)
		if s.code != "" {
			testkit.WantCode(t, err, s.code, s.action)
			continue
		}
		if err != nil || c.Status != s.want || c.ID != id {
			t.Fatalf("step %d %s by %s: status %d %v, want %d", i, s.action, s.actor.TokenID, c.Status, err, s.want)
		}
	}
	rec, err := e.svc.Get(ctx, id)
	if err != nil || rec.Status != store.StatusRevoked || rec.StatusReason != "incident" || rec.StatusIncident != "INC-42" || rec.StatusChangedAt == nil {
		t.Fatalf("record %+v %v", rec, err)
	}
	// No-ops and refusals write nothing: one suspend, one reinstate, one revoke.
	for action, n := range map[string]int{"credential.suspend": 1, "credential.reinstate": 1, "credential.revoke": 1} {
		if got := e.auditCount(action, id); got != n {
			t.Errorf("%d %s audit entries, want %d", got, action, n)
		}
	}
}

func TestStatusChangeRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	id := e.mustIssue(issuerActor, request(agent)).ID
	for _, tc := range []struct {
		name, id, action string
		req              issuer.StatusRequest
		code             errcode.Code
	}{
		{"unknown credential", "urn:uuid:nope", "revoke", why, errcode.NotFound},
		{"unknown action", id, "delete", why, errcode.InvalidInput},
		{"no reason", id, "revoke", issuer.StatusRequest{}, errcode.InvalidInput},
		{"unknown reason", id, "revoke", issuer.StatusRequest{Reason: "because"}, errcode.InvalidInput},
		{"long incident", id, "revoke", issuer.StatusRequest{Reason: "other", Incident: strings.Repeat("i", 257)}, errcode.InvalidInput},
		{"long note", id, "revoke", issuer.StatusRequest{Reason: "other", Note: strings.Repeat("n", 2049)}, errcode.InvalidInput},
	} {
		_, err := e.statuses.Change(ctx, auditor, tc.id, tc.action, tc.req)
		testkit.WantCode(t, err, tc.code, tc.name)
	}
	_, err := e.statuses.Change(ctx, otherIssuer, id, "revoke", why)
	testkit.WantCode(t, err, errcode.NotFound, "another issuer token")
	if rec, _ := e.svc.Get(ctx, id); rec.Status != store.StatusValid {
		t.Fatalf("a refused change changed the status to %d", rec.Status)
	}
	// Limits are inclusive.
	if _, err := e.statuses.Change(ctx, auditor, id, "suspend", issuer.StatusRequest{Reason: "other", Incident: strings.Repeat("i", 256), Note: strings.Repeat("n", 2048)}); err != nil {
		t.Fatal(err)
	}
}

func TestStatusBulk(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	target, _ := newAgentDID(t, jwa.EdDSA)
	bystander, _ := newAgentDID(t, jwa.EdDSA)
	var ids []string
	for range 3 {
		ids = append(ids, e.mustIssue(issuerActor, request(target)).ID)
	}
	keep := e.mustIssue(issuerActor, request(bystander)).ID
	if _, err := e.statuses.Change(ctx, auditor, ids[0], "revoke", why); err != nil {
		t.Fatal(err)
	}
	statusOf := func(id string) uint8 {
		rec, err := e.svc.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Status
	}

	suspend := issuer.BulkRequest{Action: "suspend", Subject: target, DryRun: true, StatusRequest: why}
	n, err := e.statuses.Bulk(ctx, auditor, suspend)
	if err != nil || n != 2 {
		t.Fatalf("dry run: %d %v, want 2 (the revoked one is skipped)", n, err)
	}
	for _, id := range ids[1:] {
		if statusOf(id) != store.StatusValid {
			t.Fatal("a dry run changed a status")
		}
	}
	suspend.DryRun = false
	if n, err = e.statuses.Bulk(ctx, auditor, suspend); err != nil || n != 2 {
		t.Fatalf("suspend: %d %v", n, err)
	}
	revoke := issuer.BulkRequest{Action: "revoke", PrincipalID: "did:web:acme.example", IssuedBefore: ptr(t0.Add(time.Second)), StatusRequest: why}
	if n, err = e.statuses.Bulk(ctx, auditor, revoke); err != nil || n != 3 {
		t.Fatalf("revoke by principal: %d %v, want 3 (two suspended, the bystander)", n, err)
	}
	for _, id := range append(ids, keep) {
		if statusOf(id) != store.StatusRevoked {
			t.Fatalf("%s not revoked", id)
		}
	}
	if n, err = e.statuses.Bulk(ctx, auditor, revoke); err != nil || n != 0 {
		t.Fatalf("revoking again: %d %v, want 0", n, err)
	}
	if got := e.auditCount("credential.revoke", keep); got != 1 {
		t.Fatalf("%d revoke audit entries for one change", got)
	}

	for _, tc := range []struct {
		name string
		req  issuer.BulkRequest
	}{
		{"no filter", issuer.BulkRequest{Action: "revoke", StatusRequest: why}},
		{"reinstate", issuer.BulkRequest{Action: "reinstate", Subject: target, StatusRequest: why}},
		{"no action", issuer.BulkRequest{Subject: target, StatusRequest: why}},
		{"no reason", issuer.BulkRequest{Action: "revoke", Subject: target}},
	} {
		_, err := e.statuses.Bulk(ctx, auditor, tc.req)
		testkit.WantCode(t, err, errcode.InvalidInput, tc.name)
	}
}

func ptr[T any](v T) *T { return &v }

// decodePublished verifies a published Status List Token with the key ring's
// keys and returns it.
func (e *env) decodePublished(tok, uri string) *revocation.Token {
	e.t.Helper()
	vt, err := revocation.VerifyToken(context.Background(), tok, revocation.VerifyTokenOptions{
		Key: revocation.KeyFunc(publishedKey(e.kr)), ExpectedIssuer: testIssuer, ExpectedSubject: uri, Now: e.clock.Now,
	})
	if err != nil {
		e.t.Fatalf("published status list does not verify: %v", err)
	}
	return vt
}

func TestPublish(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	a := e.mustIssue(issuerActor, request(agent))
	b := e.mustIssue(issuerActor, request(agent))
	if a.Status.URI != b.Status.URI {
		t.Fatal("two credentials in different lists")
	}
	listID := a.Status.URI[strings.LastIndex(a.Status.URI, "/")+1:]
	value := func(p issuer.Published, idx int) uint8 {
		t.Helper()
		v, err := e.decodePublished(p.Token, a.Status.URI).List.Get(idx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	p1, err := e.statuses.Publish(ctx, listID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	vt := e.decodePublished(p1.Token, a.Status.URI)
	if vt.List.Len() < 131072 || vt.TTL != 2*time.Minute || !vt.IssuedAt.Equal(t0) || !vt.Expires.Equal(t0.Add(24*time.Hour)) || p1.TTL != 2*time.Minute || p1.ETag == "" {
		t.Fatalf("published %+v, token %+v", p1, vt)
	}
	if value(p1, a.Status.Idx) != 0 || value(p1, b.Status.Idx) != 0 {
		t.Fatal("fresh credentials are not valid in the list")
	}

	// Unchanged and within the ttl: the same signed token is reused.
	e.clock.Advance(time.Minute)
	p2, _ := e.statuses.Publish(ctx, listID, "", "")
	if p2.Token != p1.Token || p2.ETag != p1.ETag {
		t.Fatal("an unchanged list was signed again within its ttl")
	}
	if p1.MaxAge != 2*time.Minute || p2.MaxAge != time.Minute {
		t.Fatalf("HTTP caches may keep a token for what is left of its ttl: max-age %v then %v", p1.MaxAge, p2.MaxAge)
	}

	// A change is visible on the next call.
	if _, err := e.statuses.Change(ctx, auditor, a.ID, "revoke", why); err != nil {
		t.Fatal(err)
	}
	p3, _ := e.statuses.Publish(ctx, listID, "", "")
	if p3.ETag == p1.ETag || value(p3, a.Status.Idx) != store.StatusRevoked || value(p3, b.Status.Idx) != 0 {
		t.Fatalf("after revoking: etag %s (was %s)", p3.ETag, p1.ETag)
	}
	if _, err := e.statuses.Change(ctx, issuerActor, b.ID, "suspend", why); err != nil {
		t.Fatal(err)
	}
	p4, _ := e.statuses.Publish(ctx, listID, "", "")
	if p4.ETag == p3.ETag || value(p4, b.Status.Idx) != store.StatusSuspended || value(p4, a.Status.Idx) != store.StatusRevoked {
		t.Fatal("suspension not published")
	}

	// Unchanged past the ttl: signed again, with a new iat.
	e.clock.Advance(3 * time.Minute)
	p5, _ := e.statuses.Publish(ctx, listID, "", "")
	if p5.Token == p4.Token || !e.decodePublished(p5.Token, a.Status.URI).IssuedAt.Equal(e.clock.Now()) {
		t.Fatal("a token older than its ttl was served again")
	}

	// The W3C view, per purpose.
	w3cRev, err := e.statuses.Publish(ctx, listID, "w3c", revocation.PurposeRevocation)
	if err != nil {
		t.Fatal(err)
	}
	w3cSus, err := e.statuses.Publish(ctx, listID, "w3c", revocation.PurposeSuspension)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(w3cRev.Token, ".") != 2 || w3cRev.Token == p5.Token || w3cRev.Token == w3cSus.Token || w3cRev.ETag == w3cSus.ETag {
		t.Fatal("the W3C views are not distinct signed JWTs")
	}

	for _, tc := range []struct {
		name, list, format, purpose string
		code                        errcode.Code
	}{
		{"unknown list", "nope", "", "", errcode.NotFound},
		{"unknown format", listID, "xml", "", errcode.InvalidInput},
		{"w3c without purpose", listID, "w3c", "", errcode.InvalidInput},
		{"w3c with unknown purpose", listID, "w3c", "message", errcode.InvalidInput},
		{"purpose without format", listID, "", revocation.PurposeRevocation, errcode.InvalidInput},
	} {
		_, err := e.statuses.Publish(ctx, tc.list, tc.format, tc.purpose)
		testkit.WantCode(t, err, tc.code, tc.name)
	}
}

// TestPublishAfterRotation: lists are signed with the active key.
func TestPublishAfterRotation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	a := e.mustIssue(issuerActor, request(agent))
	listID := a.Status.URI[strings.LastIndex(a.Status.URI, "/")+1:]
	kid, err := e.kr.Rotate(ctx, jwa.EdDSA, "tok-admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.statuses.Change(ctx, auditor, a.ID, "suspend", why); err != nil {
		t.Fatal(err)
	}
	p, err := e.statuses.Publish(ctx, listID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	e.decodePublished(p.Token, a.Status.URI)
	hdr, _, _ := strings.Cut(p.Token, ".")
	if !strings.Contains(decodeB64(t, hdr), kid) {
		t.Fatalf("status list header %s is not signed by %s", decodeB64(t, hdr), kid)
	}
}

// TestStatusChangeRacesKeepRevocationFinal races revocations, suspensions
// and reinstatements of suspended credentials with no lock in the issuer:
// the store refuses stale changes, Change retries them, and no credential
// leaves revocation.
func TestStatusChangeRacesKeepRevocationFinal(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	var ids []string
	for range 4 {
		id := e.mustIssue(issuerActor, request(agent)).ID
		if _, err := e.statuses.Change(ctx, auditor, id, "suspend", why); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, id := range ids {
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				action := []string{"revoke", "reinstate", "suspend"}[i%3]
				_, err := e.statuses.Change(ctx, auditor, id, action, why)
				if err != nil && errcode.CodeOf(err) != errcode.Conflict {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Change: %v", err)
	}
	for _, id := range ids {
		c, err := e.st.Credential(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != store.StatusRevoked {
			t.Fatalf("%s ended at status %d; four revocations were asked and revocation is final", id, c.Status)
		}
		if n := e.auditCount("credential.revoke", id); n != 1 {
			t.Fatalf("%s revoked %d times in the audit log, want 1", id, n)
		}
		es, _ := e.st.Audit(ctx, store.AuditFilter{Target: id})
		if last := es[len(es)-1]; last.Action != "credential.revoke" {
			t.Fatalf("%s: a %s was recorded after the revocation", id, last.Action)
		}
	}
}

// countingStatusStore counts SetStatus calls.
type countingStatusStore struct {
	issuer.StatusStore
	sets atomic.Int32
}

func (c *countingStatusStore) SetStatus(ctx context.Context, credID string, from uint8, ch store.StatusChange, a *store.AuditEntry) (store.Credential, error) {
	c.sets.Add(1)
	return c.StatusStore.SetStatus(ctx, credID, from, ch, a)
}

// A change with Resolves resolves the incident in its transaction; one
// whose incident is resolved already changes nothing and is not retried;
// one already in effect writes nothing and says so.
func TestStatusChangeResolvesIncident(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	id := e.mustIssue(issuerActor, request(agent)).ID
	for _, inc := range []string{"inc_1", "inc_2", "inc_3"} {
		if err := e.st.CreateIncident(ctx, store.Incident{ID: inc, CredentialID: id, Receipts: []string{"r"}, RequestedAction: "suspend", OccurredAt: t0}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.st.ResolveIncident(ctx, "inc_2", store.Resolution{Decision: "dismiss", By: "tok-other"}, nil); err != nil {
		t.Fatal(err)
	}
	cs := &countingStatusStore{StatusStore: e.st}
	statuses := issuer.NewStatuses(cs, e.kr, e.svc.StatusURI, 2*time.Minute, 24*time.Hour, e.clock.Now)
	req := func(inc string) issuer.StatusRequest {
		return issuer.StatusRequest{Reason: "incident", Incident: inc, Resolves: &store.IncidentResolution{ID: inc,
			Resolution: store.Resolution{Decision: "suspend", By: auditor.TokenID}, Audit: &store.AuditEntry{Actor: auditor.TokenID, Action: "incident.resolve", Target: inc}}}
	}

	_, err := statuses.Change(ctx, auditor, id, "suspend", req("inc_2"))
	if !errors.Is(err, store.ErrIncidentResolved) || cs.sets.Load() != 1 {
		t.Fatalf("resolving a resolved incident: %v after %d SetStatus calls, want ErrIncidentResolved after 1", err, cs.sets.Load())
	}
	testkit.WantCode(t, err, errcode.Conflict)
	if c, _ := e.st.Credential(ctx, id); c.Status != store.StatusValid {
		t.Fatalf("a refused change left status %d", c.Status)
	}

	c, err := statuses.Change(ctx, auditor, id, "suspend", req("inc_1"))
	if err != nil || c.Status != store.StatusSuspended || c.StatusIncident != "inc_1" {
		t.Fatalf("suspend resolving inc_1: %+v %v", c, err)
	}
	if in, _ := e.st.Incident(ctx, "inc_1"); in.State != "resolved" || in.Decision != "suspend" || in.ResolvedBy != auditor.TokenID {
		t.Fatalf("inc_1 after the change %+v", in)
	}

	c, err = statuses.Change(ctx, auditor, id, "suspend", req("inc_3"))
	if !errors.Is(err, issuer.ErrInEffect) || c.Status != store.StatusSuspended || c.ID != id {
		t.Fatalf("a change in effect resolving inc_3: %+v %v, want the record and ErrInEffect", c, err)
	}
	if in, _ := e.st.Incident(ctx, "inc_3"); in.State != "open" {
		t.Fatalf("a change in effect resolved inc_3: %+v", in)
	}
	if _, err := statuses.Change(ctx, auditor, id, "suspend", why); err != nil {
		t.Fatalf("a change in effect without Resolves: %v", err)
	}
	if n := e.auditCount("credential.suspend", id); n != 1 {
		t.Fatalf("%d suspensions audited, want 1", n)
	}
}

// A token's iat has whole seconds but requests do not come on them: the
// max-age an HTTP cache is given must never run past iat + ttl (nor past
// exp, when the validity is the shorter), so it is counted from the real
// instant, not from the instant rounded down to the second.
func TestPublishMaxAgeFromTheRealInstant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	uri := e.mustIssue(issuerActor, request(agent)).Status.URI
	listID := uri[strings.LastIndex(uri, "/")+1:]

	iat := t0.Add(time.Minute)
	e.clock.Set(iat.Add(700 * time.Millisecond))
	p1, err := e.statuses.Publish(ctx, listID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if vt := e.decodePublished(p1.Token, uri); !vt.IssuedAt.Equal(iat) {
		t.Fatalf("iat %v, want %v", vt.IssuedAt, iat)
	}
	if want := 2*time.Minute - 700*time.Millisecond; p1.MaxAge != want {
		t.Fatalf("signed 0.7 s past iat: max-age %v, want %v (iat + ttl less the real instant)", p1.MaxAge, want)
	}
	// Reused 0.3 s before iat + ttl: 0.3 s left, not the 1 s that counting
	// from the rounded instant gives.
	e.clock.Set(iat.Add(2*time.Minute - 300*time.Millisecond))
	p2, err := e.statuses.Publish(ctx, listID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if p2.Token != p1.Token || p2.MaxAge != 300*time.Millisecond {
		t.Fatalf("0.3 s before iat + ttl: reused %v, max-age %v, want the same token for 300ms", p2.Token == p1.Token, p2.MaxAge)
	}

	// A validity shorter than the ttl bounds max-age too: no cache keeps
	// the token past exp.
	short := issuer.NewStatuses(e.st, e.kr, e.svc.StatusURI, 2*time.Minute, time.Minute, e.clock.Now)
	e.clock.Set(iat.Add(time.Hour + 400*time.Millisecond))
	p3, err := short.Publish(ctx, listID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Minute - 400*time.Millisecond; p3.MaxAge != want {
		t.Fatalf("validity 1m, ttl 2m: max-age %v, want %v (until exp)", p3.MaxAge, want)
	}
}
