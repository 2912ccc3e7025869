package incident_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/incident"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/schemas"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

const issuerDID = "did:web:127.0.0.1%3A8080"

var offline = did.ResolverFunc(func(_ context.Context, id string) (*did.Document, error) { return did.DocumentFor(id) })

type env struct {
	t      *testing.T
	st     *store.SQLite
	parts  *issuer.Parts
	svc    *incident.Service
	signer *receipt.Signer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DerivePublicURL() // http://127.0.0.1:8080, as the CLI completes it
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "agentcert.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	settings := issuer.Settings{DIDMethod: "web", WebDID: issuerDID, KeyAlg: jwa.ES256, StatusTTL: cfg.Status.TTL, StatusValidity: cfg.Status.Validity,
		Config: issuer.Config{PublicURL: cfg.PublicURL, VCT: config.AgentCertificationVCT, ListSize: cfg.Status.ListSize,
			DefaultValidity: cfg.Issuer.DefaultValidity, MaxValidity: cfg.Issuer.MaxValidity}}
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	parts, err := issuer.Open(ctx, st, bytes.Repeat([]byte{7}, issuer.KEKSize), settings, reg, offline, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := incident.New(st, parts.Statuses, incident.Config{
		Issuer: parts.Keys.Issuer(), StatusListPrefix: parts.Service.StatusURI(""), Keys: receipt.DIDKeys(offline),
	})
	if err != nil {
		t.Fatal(err)
	}
	vk, vdid := testkeys.DIDKey(t, jwa.EdDSA)
	signer, err := receipt.SignerFromJWK(vdid, vk)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st, parts: parts, svc: svc, signer: signer}
}

// issue certifies a new agent and returns its record and a receipt's
// credential member for it.
func (e *env) issue() (records.Credential, string, *receipt.Credential) {
	e.t.Helper()
	_, agent := testkeys.DIDKey(e.t, jwa.EdDSA)
	out, err := e.parts.Service.Issue(context.Background(), issuer.Actor{TokenID: "tok-issuer", Role: "issuer"}, issuer.IssueRequest{
		Subject: agent,
		Claims: map[string]any{
			"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
			"agent":        map[string]any{"class": "accounts-payable-assistant", "version": "1.4.0"},
			"permissions":  []any{map[string]any{"action": "invoices:read"}},
			"prohibitions": []any{"payments:initiate"},
			"autonomy":     "supervised",
		},
	}, "", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	rec, err := e.st.Credential(context.Background(), out.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return rec, agent, &receipt.Credential{Issuer: e.parts.Keys.Issuer(), ID: receipt.CredentialID(out.Credential), VCT: config.AgentCertificationVCT,
		StatusList: &receipt.StatusRef{URI: out.Status.URI, Idx: out.Status.Idx}}
}

func (e *env) receipt(agent string, cred *receipt.Credential) string {
	e.t.Helper()
	r, err := e.signer.Sign(receipt.Claims{
		Result: receipt.Error, Reference: "ref", Error: "action_prohibited", ErrorDescription: "payments:initiate is prohibited",
		Credential: cred, Subject: agent, Principal: "did:web:acme.example", Action: "payments:initiate",
		Decision: &receipt.Decision{Allowed: false, Reason: "action_prohibited"},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func report(receipts ...string) incident.Report {
	return incident.Report{Category: "unauthorized_action", Severity: "high", Description: "the agent tried to pay an invoice",
		OccurredAt: time.Now().Add(-time.Hour), RequestedAction: "revoke", Receipts: receipts}
}

var (
	reporter = incident.Actor{TokenID: "tok-rep", Name: "shop", Role: "reporter"}
	auditor  = incident.Actor{TokenID: "tok-aud", Name: "audit", Role: "auditor"}
)

func TestReportAndRevoke(t *testing.T) {
	e := newEnv(t)
	rec, agent, cred := e.issue()
	in, err := e.svc.Report(t.Context(), reporter, report(e.receipt(agent, cred), e.receipt(agent, cred)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(in.ID, "inc_") || in.State != "open" || in.CredentialID != rec.ID || in.Subject != agent ||
		in.PrincipalID != "did:web:acme.example" || in.Verifier != e.signer.Issuer() || in.Reporter != "shop" || len(in.Receipts) != 2 {
		t.Fatalf("incident %+v", in)
	}
	got, err := e.svc.Get(t.Context(), in.ID)
	if err != nil || got.ID != in.ID {
		t.Fatalf("get %+v %v", got, err)
	}
	list, err := e.svc.List(t.Context(), incident.Filter{CredentialID: rec.ID, State: "open"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list %+v %v", list, err)
	}
	out, err := e.svc.Resolve(t.Context(), auditor, in.ID, incident.Resolution{Decision: "revoke", Note: "confirmed with the principal"})
	if err != nil {
		t.Fatal(err)
	}
	if out.State != "resolved" || out.Decision != "revoke" || out.ResolvedBy != "tok-aud" || out.ResolvedAt == nil {
		t.Fatalf("resolved %+v", out)
	}
	c, _ := e.st.Credential(t.Context(), rec.ID)
	if c.Status != records.StatusRevoked || c.StatusReason != "incident" || c.StatusIncident != in.ID || c.StatusNote != "confirmed with the principal" {
		t.Fatalf("credential after resolution %+v", c)
	}
	_, err = e.svc.Resolve(t.Context(), auditor, in.ID, incident.Resolution{Decision: "dismiss"})
	testkit.WantCode(t, err, errcode.Conflict)
	audit, err := e.st.Audit(t.Context(), records.AuditFilter{Target: in.ID})
	if err != nil || len(audit) != 2 || audit[0].Action != "incident.report" || audit[1].Action != "incident.resolve" {
		t.Fatalf("incident audit %+v %v", audit, err)
	}
	audit, _ = e.st.Audit(t.Context(), records.AuditFilter{Target: rec.ID, Action: "credential.revoke"})
	if len(audit) != 1 || !strings.Contains(string(audit[0].Details), in.ID) {
		t.Fatalf("revocation audit %+v", audit)
	}
	if n, broken, err := e.st.VerifyAudit(t.Context()); err != nil || broken != 0 || n == 0 {
		t.Fatalf("audit chain %d %d %v", n, broken, err)
	}
}

func TestResolveSuspendAndDismiss(t *testing.T) {
	e := newEnv(t)
	rec, agent, cred := e.issue()
	a, _ := e.svc.Report(t.Context(), reporter, report(e.receipt(agent, cred)))
	b, _ := e.svc.Report(t.Context(), reporter, report(e.receipt(agent, cred)))
	if _, err := e.svc.Resolve(t.Context(), auditor, a.ID, incident.Resolution{Decision: "dismiss"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.st.Credential(t.Context(), rec.ID); c.Status != records.StatusValid {
		t.Fatal("a dismissal changed the status")
	}
	if _, err := e.svc.Resolve(t.Context(), auditor, b.ID, incident.Resolution{Decision: "suspend"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.st.Credential(t.Context(), rec.ID); c.Status != records.StatusSuspended || c.StatusIncident != b.ID {
		t.Fatalf("after suspension %+v", c)
	}
	open, _ := e.svc.List(t.Context(), incident.Filter{State: "open"})
	resolved, _ := e.svc.List(t.Context(), incident.Filter{State: "resolved", PrincipalID: "did:web:acme.example"})
	if len(open) != 0 || len(resolved) != 2 {
		t.Fatalf("open %d resolved %d", len(open), len(resolved))
	}
	_, err := e.svc.Resolve(t.Context(), auditor, "inc_none", incident.Resolution{Decision: "revoke"})
	testkit.WantCode(t, err, errcode.NotFound)
	_, err = e.svc.List(t.Context(), incident.Filter{State: "closed"})
	testkit.WantCode(t, err, errcode.InvalidInput)
}

// A failed status change leaves the incident open.
func TestResolveFailedStatusChangeLeavesOpen(t *testing.T) {
	e := newEnv(t)
	rec, agent, cred := e.issue()
	in, _ := e.svc.Report(t.Context(), reporter, report(e.receipt(agent, cred)))
	if _, err := e.parts.Statuses.Change(t.Context(), issuer.Actor{TokenID: "tok-aud", Role: "auditor"}, rec.ID, "revoke", issuer.StatusRequest{Reason: "other"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Resolve(t.Context(), auditor, in.ID, incident.Resolution{Decision: "suspend"})
	testkit.WantCode(t, err, errcode.Conflict) // revocation is final
	if got, _ := e.svc.Get(t.Context(), in.ID); got.State != "open" {
		t.Fatalf("state %s", got.State)
	}
	if _, err := e.svc.Resolve(t.Context(), auditor, in.ID, incident.Resolution{Decision: "revoke"}); err != nil {
		t.Fatalf("revoking an already revoked credential closes the incident: %v", err)
	}
}

func TestReportRefuses(t *testing.T) {
	e := newEnv(t)
	rec, agent, cred := e.issue()
	_, agent2, cred2 := e.issue()
	good := e.receipt(agent, cred)
	parts := strings.Split(good, ".")
	forgedPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + e.signer.Issuer() + `","iat":1800000000,"jti":"x","result":"error","error":"fraud"}`))
	other := *cred
	other.Issuer = "did:web:other.example"
	noList := *cred
	noList.StatusList = nil
	foreignList := *cred
	foreignList.StatusList = &receipt.StatusRef{URI: "https://other.example/statuslists/" + rec.ListID, Idx: rec.Idx}
	unused := *cred
	unused.StatusList = &receipt.StatusRef{URI: cred.StatusList.URI, Idx: cred.StatusList.Idx + 1}
	if unused.StatusList.Idx == cred2.StatusList.Idx {
		unused.StatusList.Idx++
	}
	otherID := *cred
	otherID.ID = cred2.ID
	noCred, _ := e.signer.Sign(receipt.Claims{Result: receipt.Success, Subject: agent})
	vk2, vdid2 := testkeys.DIDKey(t, jwa.ES256)
	signer2, _ := receipt.SignerFromJWK(vdid2, vk2)
	byOther, _ := signer2.Sign(receipt.Claims{Result: receipt.Success, Credential: cred, Subject: agent})
	for name, tc := range map[string]struct {
		r    incident.Report
		code errcode.Code
	}{
		"forged signature":       {report(parts[0] + "." + forgedPayload + "." + parts[2]), errcode.ReceiptBadSignature},
		"malformed":              {report("not.a.receipt"), errcode.ReceiptMalformed},
		"truncated":              {report(parts[0] + "." + parts[1]), errcode.ReceiptMalformed},
		"another issuer":         {report(e.receipt(agent, &other)), errcode.ReceiptForeign},
		"no status reference":    {report(e.receipt(agent, &noList)), errcode.ReceiptForeign},
		"another issuer's list":  {report(e.receipt(agent, &foreignList)), errcode.ReceiptForeign},
		"index never issued":     {report(e.receipt(agent, &unused)), errcode.ReceiptForeign},
		"subject is not holder":  {report(e.receipt(agent2, cred)), errcode.ReceiptForeign},
		"no credential":          {report(noCred), errcode.ReceiptForeign},
		"two credentials":        {report(good, e.receipt(agent2, cred2)), errcode.InvalidInput},
		"two verifiers":          {report(good, byOther), errcode.InvalidInput},
		"same receipt twice":     {report(good, good), errcode.InvalidInput},
		"good then forged":       {report(good, parts[0]+"."+forgedPayload+"."+parts[2]), errcode.ReceiptBadSignature},
		"no receipts":            {report(), errcode.InvalidInput},
		"bad category":           {func() incident.Report { r := report(good); r.Category = "rudeness"; return r }(), errcode.InvalidInput},
		"bad severity":           {func() incident.Report { r := report(good); r.Severity = "meh"; return r }(), errcode.InvalidInput},
		"bad requested action":   {func() incident.Report { r := report(good); r.RequestedAction = "delete"; return r }(), errcode.InvalidInput},
		"no description":         {func() incident.Report { r := report(good); r.Description = " "; return r }(), errcode.InvalidInput},
		"no occurred_at":         {func() incident.Report { r := report(good); r.OccurredAt = time.Time{}; return r }(), errcode.InvalidInput},
		"occurred in the future": {func() incident.Report { r := report(good); r.OccurredAt = time.Now().Add(time.Hour); return r }(), errcode.InvalidInput},
		"too many receipts":      {report(make([]string, incident.MaxReceipts+1)...), errcode.InvalidInput},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.Report(t.Context(), reporter, tc.r)
			testkit.WantCode(t, err, tc.code)
		})
	}
	if list, _ := e.svc.List(t.Context(), incident.Filter{}); len(list) != 0 {
		t.Fatalf("refused reports were recorded: %d", len(list))
	}
}

// Two auditors resolve one incident at once: exactly one resolution takes
// effect, the other is a conflict, and the credential's status is the
// winner's decision (unchanged when a dismissal won).
func TestResolveConcurrent(t *testing.T) {
	e := newEnv(t)
	want := map[string]uint8{"dismiss": records.StatusValid, "suspend": records.StatusSuspended, "revoke": records.StatusRevoked}
	for _, pair := range [][2]string{{"dismiss", "revoke"}, {"dismiss", "suspend"}, {"suspend", "revoke"}, {"revoke", "revoke"}, {"suspend", "suspend"}} {
		t.Run(pair[0]+"-"+pair[1], func(t *testing.T) {
			for round := range 25 {
				rec, agent, cred := e.issue()
				in, err := e.svc.Report(t.Context(), reporter, report(e.receipt(agent, cred)))
				if err != nil {
					t.Fatal(err)
				}
				var errs [2]error
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i, d := range pair {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						actor := incident.Actor{TokenID: fmt.Sprintf("tok-aud-%d", i), Name: "audit", Role: "auditor"}
						_, errs[i] = e.svc.Resolve(context.Background(), actor, in.ID, incident.Resolution{Decision: d})
					}()
				}
				close(start)
				wg.Wait()
				won := -1
				for i, err := range errs {
					switch {
					case err == nil && won < 0:
						won = i
					case err == nil:
						t.Fatalf("round %d: both resolutions succeeded", round)
					case errcode.CodeOf(err) != errcode.Conflict:
						t.Fatalf("round %d: %s: %v", round, pair[i], err)
					}
				}
				if won < 0 {
					t.Fatalf("round %d: no resolution succeeded: %v", round, errs)
				}
				got, err := e.svc.Get(t.Context(), in.ID)
				if err != nil {
					t.Fatal(err)
				}
				c, err := e.st.Credential(t.Context(), rec.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != "resolved" || got.Decision != pair[won] || got.ResolvedBy != fmt.Sprintf("tok-aud-%d", won) || c.Status != want[pair[won]] {
					t.Fatalf("round %d: %s won, but the incident is %s (%s, by %s) and the credential's status is %d",
						round, pair[won], got.State, got.Decision, got.ResolvedBy, c.Status)
				}
				if pair[won] != "dismiss" && c.StatusIncident != in.ID {
					t.Fatalf("round %d: the credential's status names incident %q", round, c.StatusIncident)
				}
				audit, err := e.st.Audit(t.Context(), records.AuditFilter{Target: in.ID, Action: "incident.resolve"})
				if err != nil || len(audit) != 1 {
					t.Fatalf("round %d: %d resolutions audited (%v)", round, len(audit), err)
				}
			}
		})
	}
}
