package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/oid4vci"
)

// requestLines returns the decoded "request" log lines.
func requestLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

func logFixture(t *testing.T) (*statusFixture, *testkit.Buffer) {
	f := newStatusFixture(t)
	logs := &testkit.Buffer{}
	f.server.log = slog.New(slog.NewJSONHandler(logs, nil))
	return f, logs
}

// TestRequestLog: one line per request with method, route template,
// status, duration, bytes, request id, token id and role, and never the
// token; the client's X-Request-Id is returned and used.
func TestRequestLog(t *testing.T) {
	f, logs := logFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant")
	resp, body := f.do(http.MethodGet, "/v1/credentials/"+c.ID, f.auditor, nil, map[string]string{RequestIDHeader: "req-7f3a.b_c:1"})
	if resp.StatusCode != 200 {
		t.Fatalf("GET credential: %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get(RequestIDHeader); got != "req-7f3a.b_c:1" {
		t.Fatalf("X-Request-Id %q, want the client's", got)
	}
	lines := requestLines(t, logs.String())
	if len(lines) != 2 {
		t.Fatalf("%d request lines for 2 requests:\n%s", len(lines), logs.String())
	}
	l := lines[1]
	want := map[string]any{
		"method": "GET", "route": "/v1/credentials/{id}", "status": float64(200), "bytes": float64(len(body)),
		"request_id": "req-7f3a.b_c:1", "token_id": f.auditorID, "role": tokens.RoleAuditor, "level": "INFO",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("log %s = %v, want %v (line %v)", k, l[k], v, l)
		}
	}
	if d, ok := l["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms = %v", l["duration_ms"])
	}
	if first := lines[0]; first["route"] != "/v1/credentials" || first["method"] != "POST" || first["status"] != float64(201) || first["role"] != tokens.RoleIssuer || first["token_id"] != f.issuerAID {
		t.Errorf("issuance line %v", first)
	}
	for _, secret := range []string{f.auditor, f.issuerA} {
		if strings.Contains(logs.String(), secret) {
			t.Fatal("a token secret is in the log")
		}
	}
	if strings.Contains(logs.String(), c.ID) {
		t.Error("the log line carries the path's values; it should carry the route template")
	}
}

// TestRequestIDBoundedAndValidated: an id that is too long or carries
// characters outside the allowed set is replaced by a fresh one.
func TestRequestIDBoundedAndValidated(t *testing.T) {
	f, logs := logFixture(t)
	for _, bad := range []string{strings.Repeat("a", MaxRequestIDLen+1), "two words", "x\"y", "ä", "a/b"} {
		resp, _ := f.do(http.MethodGet, "/healthz", "", nil, map[string]string{RequestIDHeader: bad})
		got := resp.Header.Get(RequestIDHeader)
		if got == bad || !validRequestID(got) || len(got) != 24 {
			t.Errorf("X-Request-Id %q answered %q, want a fresh id", bad, got)
		}
	}
	ok := strings.Repeat("b", MaxRequestIDLen)
	if resp, _ := f.do(http.MethodGet, "/healthz", "", nil, map[string]string{RequestIDHeader: ok}); resp.Header.Get(RequestIDHeader) != ok {
		t.Errorf("a %d-character id was not kept", MaxRequestIDLen)
	}
	// Two requests without an id get different ones.
	r1, _ := f.do(http.MethodGet, "/healthz", "", nil, nil)
	r2, _ := f.do(http.MethodGet, "/healthz", "", nil, nil)
	if a, b := r1.Header.Get(RequestIDHeader), r2.Header.Get(RequestIDHeader); a == "" || a == b {
		t.Errorf("generated ids %q and %q", a, b)
	}
	if strings.Contains(logs.String(), "two words") {
		t.Error("a refused request id reached the log")
	}
}

// TestRequestIDInProblemsAndLog: problem documents carry the request id,
// unmatched routes are logged as such, and a refused token's line has no
// token id.
func TestRequestIDInProblemsAndLog(t *testing.T) {
	f, logs := logFixture(t)
	for _, tc := range []struct {
		method, path, token string
		status              int
		code                errcode.Code
		route               string
	}{
		{http.MethodGet, "/nope", "", 404, errcode.NotFound, "unmatched"},
		{http.MethodGet, "/v1/audit", "", 401, errcode.Unauthorized, "/v1/audit"},
		{http.MethodGet, "/v1/audit", f.issuerA, 403, errcode.Forbidden, "/v1/audit"},
	} {
		id := "rid-" + strings.Trim(strings.ReplaceAll(tc.path, "/", "-"), "-") + "-" + http.StatusText(tc.status)[:3]
		resp, body := f.do(tc.method, tc.path, tc.token, nil, map[string]string{RequestIDHeader: id})
		var p Problem
		if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != tc.status || p.Code != tc.code || p.RequestID != id {
			t.Errorf("%s %s: %d %s, want %d %s with request_id %s", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.code, id)
		}
		var line map[string]any
		for _, l := range requestLines(t, logs.String()) {
			if l["request_id"] == id {
				line = l
			}
		}
		if line == nil || line["route"] != tc.route || line["status"] != float64(tc.status) {
			t.Errorf("%s %s: log line %v, want route %s status %d", tc.method, tc.path, line, tc.route, tc.status)
		}
		if tc.status == 401 && line != nil && line["token_id"] != "" {
			t.Errorf("an unauthenticated request logged token_id %v", line["token_id"])
		}
		if tc.status == 403 && line != nil && (line["token_id"] != f.issuerAID || line["role"] != tokens.RoleIssuer) {
			t.Errorf("a forbidden request should name its token: %v", line)
		}
	}
}

// TestRequestIDInAudit: audit entries written for a request carry its id.
func TestRequestIDInAudit(t *testing.T) {
	f, _ := logFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant")
	resp, body := f.do(http.MethodPost, "/v1/credentials/"+c.ID+"/suspend", f.auditor, revokeReq, map[string]string{RequestIDHeader: "incident-42-suspend"})
	if resp.StatusCode != 200 {
		t.Fatalf("suspend: %d %s", resp.StatusCode, body)
	}
	es := f.auditEntries("credential.suspend", c.ID)
	if len(es) != 1 || es[0].Details["request_id"] != "incident-42-suspend" {
		t.Fatalf("suspend audit entries %+v, want request_id incident-42-suspend", es)
	}
	issuedEntries := f.auditEntries("credential.issue", c.ID)
	if len(issuedEntries) != 1 {
		t.Fatalf("issue audit entries %+v", issuedEntries)
	}
	if id, _ := issuedEntries[0].Details["request_id"].(string); !validRequestID(id) {
		t.Fatalf("issue audit entry has request_id %q", id)
	}
	resp, body = f.do(http.MethodPost, "/v1/admin/tokens", f.admin, map[string]string{"role": "auditor", "name": "x"}, map[string]string{RequestIDHeader: "tok-create-1"})
	if resp.StatusCode != 201 {
		t.Fatalf("create token: %d %s", resp.StatusCode, body)
	}
	if es := f.auditEntries("token.create", ""); len(es) == 0 || es[len(es)-1].Details["request_id"] != "tok-create-1" {
		t.Fatalf("token.create audit entries %+v, want request_id tok-create-1", es)
	}
}

// TestMethodNotAllowedAndNoListings: a path served for other methods is
// 405 with Allow (also below the /v1 subrouter), and /vct/ lists nothing.
func TestMethodNotAllowedAndNoListings(t *testing.T) {
	f, _ := logFixture(t)
	for _, tc := range []struct {
		method, path, allow string
	}{
		{http.MethodDelete, "/v1/verify", "POST"},
		{http.MethodGet, "/v1/verify", "POST"},
		{http.MethodPut, "/v1/credentials", "GET, POST"},
		{http.MethodPost, "/healthz", "GET"},
		{http.MethodDelete, "/statuslists/abc", "GET, HEAD"},
	} {
		resp, body := f.do(tc.method, tc.path, "", nil, nil)
		var p Problem
		_ = json.Unmarshal(body, &p)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != tc.allow || p.Code != errcode.InvalidInput || p.RequestID == "" {
			t.Errorf("%s %s: %d Allow %q %s, want 405 Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), body, tc.allow)
		}
	}
	for _, path := range []string{"/vct/", "/vct/agent-certification/", "/vct/agent-certification/v1/", "/vct/agent-certification/v1", "/vct/agent-certification/v1/nope.json"} {
		resp, body := f.do(http.MethodGet, path, "", nil, nil)
		if resp.StatusCode != 404 || problemCode(t, body) != errcode.NotFound || strings.Contains(string(body), "schema.json") {
			t.Errorf("GET %s: %d %s, want 404 not_found and no listing", path, resp.StatusCode, body)
		}
	}
	if resp, body := f.do(http.MethodGet, "/vct/agent-certification/v1/schema.json", "", nil, nil); resp.StatusCode != 200 || !json.Valid(body) {
		t.Errorf("GET the schema: %d", resp.StatusCode)
	}
}

// TestErrorLogOmitsPathValues: when a request fails on the server's side,
// the error line names the route template, never the path's values: the
// reference of a credential offer (which hands out its pre-authorized
// code) is a secret, and a store failure while serving it must not copy
// it into the log.
func TestErrorLogOmitsPathValues(t *testing.T) {
	env := NewTestEnv(t, nil)
	s := env.Server
	logs := &testkit.Buffer{}
	s.log = slog.New(slog.NewJSONHandler(logs, nil))
	secret, _, err := tokens.Create(context.Background(), env.Store, tokens.RoleIssuer, "offers", "test", s.now())
	if err != nil {
		t.Fatal(err)
	}
	w := serve(s, http.MethodPost, "/v1/offers", "Bearer "+secret, `{"claims":`+vciClaims+`}`)
	var created oid4vci.CreatedOffer
	if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &created) != nil {
		t.Fatalf("create offer: %d %s", w.Code, w.Body)
	}
	u, err := url.Parse(created.CredentialOfferURI)
	if err != nil || !strings.HasPrefix(u.Path, oid4vci.OfferPath) {
		t.Fatalf("credential_offer_uri %q", created.CredentialOfferURI)
	}
	ref := strings.TrimPrefix(u.Path, oid4vci.OfferPath)
	// The store fails under the request: an internal error.
	if err := env.Store.Close(); err != nil {
		t.Fatal(err)
	}
	if w := serve(s, http.MethodGet, u.Path, "", ""); w.Code != http.StatusInternalServerError {
		t.Fatalf("GET the offer over a closed store: %d %s, want 500", w.Code, w.Body)
	}
	out := logs.String()
	var failed map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request failed" {
			failed = m
		}
	}
	if failed == nil || failed["route"] != oid4vci.OfferPath+"{ref}" {
		t.Fatalf("no error line naming the route template:\n%s", out)
	}
	if strings.Contains(out, ref) {
		t.Fatalf("the offer's reference is in the log:\n%s", out)
	}
}
