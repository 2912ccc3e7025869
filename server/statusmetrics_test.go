package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	dto "github.com/prometheus/client_model/go"
)

// TestStatusChangesCounted: agentcert_status_changes_total counts every
// status change the server makes, however it was asked for: one by one, in
// bulk (the kill switch, one per credential changed, a dry run none) and by
// resolving an incident; the alert on unexpected status changes
// (docs/operations.md) would miss the largest ones otherwise.
func TestStatusChangesCounted(t *testing.T) {
	env := NewTestEnv(t, nil)
	s := env.Server
	ctx := context.Background()
	bearer := map[string]string{}
	for _, role := range []string{tokens.RoleIssuer, tokens.RoleAuditor, tokens.RoleReporter} {
		secret, _, err := tokens.Create(ctx, env.Store, role, "count-"+role, "test", s.now())
		if err != nil {
			t.Fatal(err)
		}
		bearer[role] = "Bearer " + secret
	}
	counted := func(status string) float64 {
		var m dto.Metric
		if err := s.metrics.statusCh.WithLabelValues(status).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	issue := func(subject, principal string) issuer.Issued {
		t.Helper()
		w := serve(s, http.MethodPost, "/v1/credentials", bearer[tokens.RoleIssuer], `{"subject":"`+subject+`","claims":{"principal":{"id":"`+principal+`","name":"P","type":"organization"},`+
			`"agent":{"class":"ap-assistant","version":"1.0"},"permissions":[{"action":"invoices:read"}],"prohibitions":["payments:initiate"],"autonomy":"supervised"}}`)
		var out issuer.Issued
		if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &out) != nil {
			t.Fatalf("issue: %d %s", w.Code, w.Body)
		}
		return out
	}

	// Bulk: two credentials suspended, after a dry run that changes none.
	for i := 0; i < 2; i++ {
		issue(newSubject(t), "did:web:bulk.example")
	}
	for _, dry := range []string{"true", "false"} {
		w := serve(s, http.MethodPost, "/v1/revocations", bearer[tokens.RoleAuditor], `{"action":"suspend","principal_id":"did:web:bulk.example","reason":"other","dry_run":`+dry+`}`)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"count":2`) {
			t.Fatalf("bulk suspend (dry run %s): %d %s", dry, w.Code, w.Body)
		}
	}
	if got := counted("suspended"); got != 2 {
		t.Errorf("after a bulk suspension of 2: suspended counted %v, want 2", got)
	}

	// An incident resolved with a revocation.
	agentKey, agent := testkeys.DIDKey(t, jwa.EdDSA)
	cred := issue(agent, "did:web:acme.example")
	pres, err := sdjwt.Present(cred.Credential, nil, &sdjwt.KBOptions{Key: agentKey, Audience: "https://shop.example", Nonce: "n-1"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"presentation": pres, "audience": "https://shop.example", "nonce": "n-1", "action": "payments:initiate"})
	w := serve(s, http.MethodPost, "/v1/verify", "", string(body))
	var res struct {
		Receipt string `json:"receipt"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &res) != nil || res.Receipt == "" {
		t.Fatalf("verify: %d %s", w.Code, w.Body)
	}
	body, _ = json.Marshal(map[string]any{"category": "unauthorized_action", "severity": "high", "description": "tried to pay",
		"occurred_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "requested_action": "revoke", "receipts": []string{res.Receipt}})
	w = serve(s, http.MethodPost, "/v1/incidents", bearer[tokens.RoleReporter], string(body))
	var in struct {
		ID string `json:"id"`
	}
	if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &in) != nil {
		t.Fatalf("report: %d %s", w.Code, w.Body)
	}
	before := counted("revoked")
	if w := serve(s, http.MethodPost, "/v1/incidents/"+in.ID+"/resolve", bearer[tokens.RoleAuditor], `{"decision":"revoke"}`); w.Code != http.StatusOK {
		t.Fatalf("resolve: %d %s", w.Code, w.Body)
	}
	if got := counted("revoked"); got != before+1 {
		t.Errorf("after an incident resolved by revocation: revoked counted %v, want %v", got, before+1)
	}
}
