package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/tokens"
)

// TestRevokeTokenTwice: revoking a token that is already revoked is the
// client's mistake, answered 409 conflict as the document says, with a
// message naming the token; it writes no second token.revoke entry.
func TestRevokeTokenTwice(t *testing.T) {
	registerBodyDecoders()
	doc := loadOpenAPI(t)
	env := NewTestEnv(t, nil)
	s := env.Server
	ctx := context.Background()
	admin, _, err := tokens.Create(ctx, env.Store, tokens.RoleAdmin, "admin", "test", s.now())
	if err != nil {
		t.Fatal(err)
	}
	_, victim, err := tokens.Create(ctx, env.Store, tokens.RoleAuditor, "victim", "test", s.now())
	if err != nil {
		t.Fatal(err)
	}
	path, tmpl := "/v1/admin/tokens/"+victim.ID, "/v1/admin/tokens/{id}"
	apiCall{name: "revoke", method: "DELETE", path: path, tmpl: tmpl, token: admin, want: 204}.do(t, s, doc)
	rec := apiCall{name: "revoke again", method: "DELETE", path: path, tmpl: tmpl, token: admin, want: 409}.do(t, s, doc)
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != errcode.Conflict || !strings.Contains(p.Detail, victim.ID) || !strings.Contains(p.Detail, "already revoked") {
		t.Errorf("second revocation: %s, want conflict naming %s as already revoked", rec.Body, victim.ID)
	}
	es, err := env.Store.Audit(ctx, records.AuditFilter{Action: "token.revoke", Target: victim.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Errorf("%d token.revoke entries, want 1", len(es))
	}
}
