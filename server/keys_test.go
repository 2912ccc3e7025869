package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/tokens"
)

func TestKeyRotateAndRetire(t *testing.T) {
	env := NewTestEnv(t, nil)
	admin, _, err := tokens.Create(context.Background(), env.Store, tokens.RoleAdmin, "admin", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		rec := httptest.NewRecorder()
		env.Server.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	old := env.Parts.Keys.Active().KeyID()
	status, body := do("POST", "/v1/admin/keys/rotate", `{"alg":"EdDSA"}`)
	if status != http.StatusOK {
		t.Fatalf("rotate: %d %s", status, body)
	}
	var rot struct{ KID string }
	_ = json.Unmarshal([]byte(body), &rot)
	if _, doc := do("GET", "/.well-known/did.json", ""); !strings.Contains(doc, old) || !strings.Contains(doc, rot.KID) {
		t.Fatalf("after rotation both keys are published: %s", doc)
	}
	if status, body := do("POST", "/v1/admin/keys/retire", `{"kid":"`+rot.KID+`"}`); status != http.StatusConflict || !strings.Contains(body, `"conflict"`) {
		t.Fatalf("retiring the active key: %d %s", status, body)
	}
	if status, body := do("POST", "/v1/admin/keys/retire", `{"kid":"did:web:127.0.0.1%3A8080#nope"}`); status != http.StatusNotFound {
		t.Fatalf("retiring an unknown key: %d %s", status, body)
	}
	if status, body := do("POST", "/v1/admin/keys/retire", `{}`); status != http.StatusBadRequest {
		t.Fatalf("no kid: %d %s", status, body)
	}
	if status, body := do("POST", "/v1/admin/keys/retire", `{"kid":"`+old+`"}`); status != http.StatusNoContent {
		t.Fatalf("retire: %d %s", status, body)
	}
	_, doc := do("GET", "/.well-known/did.json", "")
	if strings.Contains(doc, old) || !strings.Contains(doc, rot.KID) {
		t.Fatalf("a retired key must leave the DID document: %s", doc)
	}
	_, keys := do("GET", "/v1/admin/keys", "")
	if !bytes.Contains([]byte(keys), []byte(`"retired_at"`)) {
		t.Fatalf("the key list shows retirement: %s", keys)
	}
}

func TestVerifyEndpointTokenOption(t *testing.T) {
	for _, required := range []bool{false, true} {
		env := NewTestEnv(t, func(c *config.Config) { c.Verifier.RequireToken = required })
		auditor, _, err := tokens.Create(context.Background(), env.Store, tokens.RoleAuditor, "any role", "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		call := func(token string) int {
			req := httptest.NewRequest("POST", "/v1/verify", strings.NewReader(`{"presentation":"x~","audience":"a"}`))
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			env.Server.Handler().ServeHTTP(rec, req)
			return rec.Code
		}
		want := http.StatusOK
		if required {
			want = http.StatusUnauthorized
		}
		if got := call(""); got != want {
			t.Errorf("require_token %v, no token: %d, want %d", required, got, want)
		}
		if got := call(auditor); got != http.StatusOK {
			t.Errorf("require_token %v, a token of any role: %d", required, got)
		}
	}
}
