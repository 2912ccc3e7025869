package server

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
	_ "github.com/mattn/go-sqlite3"
)

// consoleBrowser is one browser's view of the console: a cookie jar and
// the last CSRF token a page carried. It follows no redirect by itself.
type consoleBrowser struct {
	t    *testing.T
	f    *statusFixture
	c    *http.Client
	csrf string
	// origin, when set, is sent as the Origin of every POST.
	origin string
}

func newConsoleBrowser(t *testing.T, f *statusFixture) *consoleBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &consoleBrowser{t: t, f: f, c: c, origin: f.cfg.PublicURL}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *consoleBrowser) send(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfField.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return resp, string(body)
}

func (b *consoleBrowser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.f.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.send(req)
}

// post sends form with the current CSRF token unless form has one (an
// empty "csrf" sends none).
func (b *consoleBrowser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	form = cloneForm(form)
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	} else if form.Get("csrf") == "" {
		form.Del("csrf")
	}
	req, err := http.NewRequest(http.MethodPost, b.f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	return b.send(req)
}

func cloneForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// signin signs in with secret and returns the answer to the form.
func (b *consoleBrowser) signin(secret string) (*http.Response, string) {
	b.t.Helper()
	if resp, _ := b.get("/console/signin"); resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET signin: HTTP %d", resp.StatusCode)
	}
	return b.post("/console/signin", url.Values{"token": {secret}})
}

func (b *consoleBrowser) mustSignin(secret string) {
	b.t.Helper()
	resp, body := b.signin(secret)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
		b.t.Fatalf("sign-in: HTTP %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if resp, body := b.get("/console"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "<svg") {
		b.t.Fatalf("dashboard after sign-in: HTTP %d %s", resp.StatusCode, body)
	}
}

func wantPage(t *testing.T, resp *http.Response, body string, status int, contains ...string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, status, body)
	}
	for _, s := range contains {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q:\n%s", s, body)
		}
	}
}

func TestConsoleSignIn(t *testing.T) {
	f := newStatusFixture(t)
	ctx := context.Background()
	reporter, _, err := tokens.Create(ctx, f.store, tokens.RoleReporter, "shop", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedTok, err := tokens.Create(ctx, f.store, tokens.RoleAuditor, "gone", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.RevokeToken(ctx, revokedTok.ID, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, secret string
		status       int
		says         string
	}{
		{"issuer", f.issuerA, http.StatusForbidden, "A issuer token cannot sign in"},
		{"reporter", reporter, http.StatusForbidden, "A reporter token cannot sign in"},
		{"unknown", "act_nope", http.StatusUnauthorized, "Unknown or revoked token."},
		{"revoked", revoked, http.StatusUnauthorized, "Unknown or revoked token."},
		{"empty", " ", http.StatusBadRequest, "Enter an API token."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newConsoleBrowser(t, f)
			resp, body := b.signin(tc.secret)
			wantPage(t, resp, body, tc.status, tc.says, `role="alert"`)
			if resp, _ := b.get("/console"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("after a refused sign-in the dashboard answers %d", resp.StatusCode)
			}
		})
	}
	t.Run("no sign-in CSRF token", func(t *testing.T) {
		b := newConsoleBrowser(t, f)
		b.get("/console/signin")
		resp, body := b.post("/console/signin", url.Values{"token": {f.auditor}, "csrf": {""}})
		wantPage(t, resp, body, http.StatusForbidden, "CSRF token is missing or wrong")
	})
	t.Run("auditor", func(t *testing.T) {
		b := newConsoleBrowser(t, f)
		resp, _ := b.get("/console/credentials?status=valid")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin?next=%2Fconsole%2Fcredentials%3Fstatus%3Dvalid" {
			t.Fatalf("signed out: HTTP %d to %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, _ = b.signin(f.auditor)
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "agentcert_console" && c.Value != "" {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" {
			t.Fatalf("session cookie %+v", ck)
		}
		if ck.MaxAge != int(f.cfg.Console.MaxAge/time.Second) {
			t.Errorf("cookie Max-Age %d, want the absolute expiry %s", ck.MaxAge, f.cfg.Console.MaxAge)
		}
		if resp, body := b.get("/console"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "<svg") {
			t.Fatalf("dashboard after sign-in: HTTP %d %s", resp.StatusCode, body)
		}
		// Signed in, the sign-in page sends to the dashboard.
		if resp, _ := b.get("/console/signin"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
			t.Fatalf("signin page while signed in: HTTP %d", resp.StatusCode)
		}
		entries := f.auditEntries("console.signin", f.auditorID)
		if len(entries) != 1 {
			t.Errorf("console.signin audit entries: %+v", entries)
		}
		// Signing out ends the session: the old cookie no longer works.
		resp, _ = b.post("/console/signout", url.Values{})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin?ended=signout" {
			t.Fatalf("sign-out: HTTP %d to %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/console", nil)
		req.AddCookie(&http.Cookie{Name: "agentcert_console", Value: ck.Value})
		if resp, _ := http.DefaultClient.Do(req); resp == nil || resp.Request.URL.Path != "/console/signin" {
			t.Fatalf("the signed-out session still opens the dashboard")
		}
	})
	t.Run("admin reads only", func(t *testing.T) {
		b := newConsoleBrowser(t, f)
		b.mustSignin(f.admin)
		c := f.issue(f.issuerA, "did:web:acme.example", "ap")
		resp, body := b.get(credentialPath(c.ID))
		wantPage(t, resp, body, http.StatusOK, c.ID)
		if strings.Contains(body, "Change status") {
			t.Error("an admin session is offered the status form")
		}
		resp, body = b.post(credentialPath(c.ID)+"/status", url.Values{"action": {"suspend"}, "reason": {"incident"}})
		wantPage(t, resp, body, http.StatusForbidden, "changes need an auditor token")
		if f.value(c) != records.StatusValid {
			t.Fatal("an admin session suspended a credential")
		}
	})
}

func credentialPath(id string) string { return "/console/credentials/" + url.PathEscape(id) }

func TestConsoleSessionEndsWithItsToken(t *testing.T) {
	f := newStatusFixture(t)
	ctx := context.Background()
	secret, tok, err := tokens.Create(ctx, f.store, tokens.RoleAuditor, "temp", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := newConsoleBrowser(t, f)
	b.mustSignin(secret)
	if err := f.store.RevokeToken(ctx, tok.ID, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	resp, _ := b.get("/console/credentials")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/signin?ended=revoked") {
		t.Fatalf("after the token's revocation: HTTP %d to %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := b.get(resp.Header.Get("Location"))
	wantPage(t, resp, body, http.StatusOK, "its token was revoked")
}

func TestConsoleSecurityHeaders(t *testing.T) {
	f := newStatusFixture(t)
	b := newConsoleBrowser(t, f)
	for _, path := range []string{"/console/signin", "/console", "/console/nope", "/console/assets/console.css"} {
		resp, _ := b.get(path)
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	resp, body := b.get("/console/nope")
	wantPage(t, resp, body, http.StatusNotFound, "no such page")
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("404 page: Content-Type %q", ct)
	}
	// The API beside the console is unchanged.
	if resp, _ := b.get("/v1/credentials"); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("/v1/credentials: HTTP %d", resp.StatusCode)
	}
}

func TestConsoleCredentials(t *testing.T) {
	f := newStatusFixture(t)
	hostile := `x<script>alert(1)</script>"'`
	a := f.issue(f.issuerA, "did:web:acme.example", hostile)
	b2 := f.issue(f.issuerA, "did:web:acme.example", "ap")
	other := f.issue(f.issuerB, "did:web:other.example", "ap")
	b := newConsoleBrowser(t, f)
	b.mustSignin(f.auditor)

	resp, body := b.get("/console/credentials?principal=did:web:acme.example")
	wantPage(t, resp, body, http.StatusOK, a.ID, b2.ID, "x&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;")
	if strings.Contains(body, other.ID) || strings.Contains(body, "<script>") {
		t.Errorf("principal search shows another principal's credential or raw markup:\n%s", body)
	}
	resp, body = b.get("/console/credentials?agent_class=ap&status=valid")
	wantPage(t, resp, body, http.StatusOK, b2.ID, other.ID)
	if strings.Contains(body, a.ID) {
		t.Error("agent class search shows another class")
	}
	day := time.Now().UTC().Format(time.DateOnly)
	resp, body = b.get("/console/credentials?issued_from=" + day + "&issued_until=" + day)
	wantPage(t, resp, body, http.StatusOK, a.ID, b2.ID, other.ID)
	resp, body = b.get("/console/credentials?issued_until=2000-01-01")
	wantPage(t, resp, body, http.StatusOK, "No credential matches.")
	resp, body = b.get("/console/credentials?issued_from=yesterday")
	wantPage(t, resp, body, http.StatusBadRequest, "issued from must be a date", `role="alert"`)
	resp, body = b.get("/console/credentials?status=lost")
	wantPage(t, resp, body, http.StatusBadRequest, "status must be")

	resp, body = b.get(credentialPath(a.ID))
	wantPage(t, resp, body, http.StatusOK, "Claims as issued", "&#34;principal&#34;: &#34;did:web:acme.example&#34;", "credential.issue", a.URI, "The status has never changed.")
	if strings.Contains(body, "<script>") {
		t.Errorf("credential page shows raw markup:\n%s", body)
	}
	resp, body = b.get(credentialPath("urn:uuid:nope"))
	wantPage(t, resp, body, http.StatusNotFound, "no credential urn:uuid:nope")

	// Suspend: refused without the CSRF token or from another origin;
	// then done, visible in the status list, the history and the audit.
	form := url.Values{"action": {"suspend"}, "reason": {"incident"}, "incident": {"INC-7"}, "note": {"<b>looked odd</b>"}}
	noCSRF := url.Values{"csrf": {""}}
	for k, v := range form {
		noCSRF[k] = v
	}
	resp, body = b.post(credentialPath(a.ID)+"/status", noCSRF)
	wantPage(t, resp, body, http.StatusForbidden, "CSRF token is missing or wrong")
	wrong := url.Values{"csrf": {"forged"}}
	for k, v := range form {
		wrong[k] = v
	}
	resp, body = b.post(credentialPath(a.ID)+"/status", wrong)
	wantPage(t, resp, body, http.StatusForbidden, "CSRF token is missing or wrong")
	b.origin = "https://evil.example"
	resp, body = b.post(credentialPath(a.ID)+"/status", form)
	wantPage(t, resp, body, http.StatusForbidden, "another origin")
	b.origin = f.cfg.PublicURL
	if f.value(a) != records.StatusValid {
		t.Fatal("a refused form changed the status")
	}
	resp, body = b.post(credentialPath(a.ID)+"/status", url.Values{"action": {"suspend"}, "reason": {"because"}})
	wantPage(t, resp, body, http.StatusBadRequest, "reason must be one of", `role="alert"`)
	resp, _ = b.post(credentialPath(a.ID)+"/status", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != credentialPath(a.ID)+"?done=suspend" {
		t.Fatalf("suspend: HTTP %d to %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if f.value(a) != records.StatusSuspended {
		t.Fatal("the status list does not serve the suspension")
	}
	resp, body = b.get(resp.Header.Get("Location"))
	wantPage(t, resp, body, http.StatusOK, "The credential is suspended", "valid → suspended", "INC-7", "&lt;b&gt;looked odd&lt;/b&gt;", "credential.suspend")
	if e := f.auditEntries("credential.suspend", a.ID); len(e) != 1 || e[0].Actor != f.auditorID {
		t.Errorf("audit of the suspension: %+v", e)
	}
	resp, _ = b.post(credentialPath(a.ID)+"/status", url.Values{"action": {"reinstate"}, "reason": {"other"}})
	if resp.StatusCode != http.StatusSeeOther || f.value(a) != records.StatusValid {
		t.Fatalf("reinstate: HTTP %d, status %d", resp.StatusCode, f.value(a))
	}
	resp, _ = b.post(credentialPath(a.ID)+"/status", url.Values{"action": {"revoke"}, "reason": {"key_compromise"}})
	if resp.StatusCode != http.StatusSeeOther || f.value(a) != records.StatusRevoked {
		t.Fatalf("revoke: HTTP %d", resp.StatusCode)
	}
	resp, body = b.post(credentialPath(a.ID)+"/status", url.Values{"action": {"reinstate"}, "reason": {"other"}})
	wantPage(t, resp, body, http.StatusConflict, "revocation is final", "Claims as issued")
}

func TestConsoleBulk(t *testing.T) {
	f := newStatusFixture(t)
	var acme []issued
	for range 3 {
		acme = append(acme, f.issue(f.issuerA, "did:web:acme.example", "ap"))
	}
	other := f.issue(f.issuerA, "did:web:other.example", "ap")
	b := newConsoleBrowser(t, f)
	b.mustSignin(f.auditor)
	resp, body := b.get("/console/bulk")
	wantPage(t, resp, body, http.StatusOK, `name="principal"`)

	resp, body = b.post("/console/bulk", url.Values{"step": {"preview"}, "action": {"revoke"}, "reason": {"incident"}})
	wantPage(t, resp, body, http.StatusBadRequest, "name a principal or an agent class")
	preview := url.Values{"step": {"preview"}, "action": {"revoke"}, "principal": {"did:web:acme.example"}, "reason": {"incident"}, "incident": {"INC-9"}}
	resp, body = b.post("/console/bulk", preview)
	wantPage(t, resp, body, http.StatusOK, `<strong id="preview-count">3</strong>`, acme[0].ID, acme[2].ID, "Confirm: revoke 3 credentials", `name="expect" value="3"`)
	for _, c := range append(acme, other) {
		if f.value(c) != records.StatusValid {
			t.Fatal("a preview changed a status")
		}
	}
	confirm := url.Values{"step": {"confirm"}, "action": {"revoke"}, "principal": {"did:web:acme.example"}, "reason": {"incident"}, "incident": {"INC-9"}}
	// A confirmation of a count that is no longer right shows the new preview.
	confirm.Set("expect", "2")
	resp, body = b.post("/console/bulk", confirm)
	wantPage(t, resp, body, http.StatusConflict, "changed since the preview", `<strong id="preview-count">3</strong>`)
	confirm.Set("expect", "3")
	noCSRF := url.Values{"csrf": {""}}
	for k, v := range confirm {
		noCSRF[k] = v
	}
	resp, body = b.post("/console/bulk", noCSRF)
	wantPage(t, resp, body, http.StatusForbidden, "CSRF")
	resp, body = b.post("/console/bulk", confirm)
	wantPage(t, resp, body, http.StatusOK, "3 credentials changed (revoke).")
	for _, c := range acme {
		if f.value(c) != records.StatusRevoked {
			t.Fatal("the bulk revocation is not in the status list")
		}
	}
	if f.value(other) != records.StatusValid {
		t.Fatal("the bulk revocation touched another principal")
	}
}

func TestConsoleAudit(t *testing.T) {
	f := newStatusFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap")
	b := newConsoleBrowser(t, f)
	b.mustSignin(f.auditor)
	resp, body := b.get("/console/audit?action=credential.issue")
	wantPage(t, resp, body, http.StatusOK, c.ID, "Check the whole chain")
	if strings.Contains(body, "token.create") {
		t.Error("the action filter shows other actions")
	}
	resp, body = b.get("/console/audit?check=1")
	wantPage(t, resp, body, http.StatusOK, "The chain is intact")
	resp, body = b.get("/console/audit?since=soon")
	wantPage(t, resp, body, http.StatusBadRequest, "since must be a date")

	// Alter entry 2 in the database: the check names it.
	db, err := sql.Open("sqlite3", filepath.Join(f.cfg.DataDir, "agentcert.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	resp, body = b.get("/console/audit?check=1")
	wantPage(t, resp, body, http.StatusOK, "The chain is broken at entry", ">#2</a>", `href="/console/audit?cursor=1"`)
}

func TestConsoleIncidents(t *testing.T) {
	f := newStatusFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap")
	ctx := context.Background()
	in := store.Incident{ID: "inc_0001", State: records.IncidentOpen, Category: "overspend", Severity: "high", Description: "paid <twice>",
		OccurredAt: time.Now().UTC(), RequestedAction: "suspend", Receipts: []string{"eyJ.receipt.x"}, Verifier: "did:web:shop.example",
		CredentialID: c.ID, Subject: "did:key:z", PrincipalID: "did:web:acme.example", ReporterTokenID: "tok_r", Reporter: "shop", CreatedAt: time.Now().UTC()}
	if err := f.store.CreateIncident(ctx, in, nil); err != nil {
		t.Fatal(err)
	}
	b := newConsoleBrowser(t, f)
	b.mustSignin(f.auditor)
	resp, body := b.get("/console/incidents")
	wantPage(t, resp, body, http.StatusOK, "inc_0001", "overspend")
	resp, body = b.get("/console/incidents?state=resolved")
	wantPage(t, resp, body, http.StatusOK, "No incident here.")
	resp, body = b.get("/console/incidents?state=lost")
	wantPage(t, resp, body, http.StatusBadRequest, "state must be open or resolved")
	resp, body = b.get("/console/incidents/inc_0001")
	wantPage(t, resp, body, http.StatusOK, "paid &lt;twice&gt;", "Resolve")
	resp, body = b.post("/console/incidents/inc_0001/resolve", url.Values{"decision": {"forgive"}})
	wantPage(t, resp, body, http.StatusBadRequest, "decision must be one of")
	resp, _ = b.post("/console/incidents/inc_0001/resolve", url.Values{"decision": {"suspend"}, "note": {"confirmed"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: HTTP %d", resp.StatusCode)
	}
	if f.value(c) != records.StatusSuspended {
		t.Fatal("the resolution did not suspend the credential")
	}
	resp, body = b.get(resp.Header.Get("Location"))
	wantPage(t, resp, body, http.StatusOK, "The incident is resolved (suspend).")
	resp, body = b.get(credentialPath(c.ID))
	wantPage(t, resp, body, http.StatusOK, `href="/console/incidents/inc_0001"`)
	resp, body = b.post("/console/incidents/inc_0001/resolve", url.Values{"decision": {"dismiss"}})
	wantPage(t, resp, body, http.StatusConflict, "already resolved")
}

func TestConsoleDashboard(t *testing.T) {
	f := newStatusFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap")
	f.issue(f.issuerA, "did:web:acme.example", "ap")
	if code, body := f.change(f.auditor, c.ID, "revoke", map[string]string{"reason": "other"}); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	b := newConsoleBrowser(t, f)
	b.mustSignin(f.auditor)
	resp, body := b.get("/console")
	today := time.Now().UTC().Format(time.DateOnly)
	wantPage(t, resp, body, http.StatusOK, `<strong id="count-active">1</strong>`, `<strong id="count-revoked">1</strong>`, `<strong id="count-suspended">0</strong>`,
		"Issued per day", "Revoked per day", "Status list fill", today+": 2", today+": 1", c.ListID, "2 of ")
}

// TestConsoleAdminChangesNothing: an admin session reads the console and
// every change it posts, with a valid CSRF token from this origin, is
// refused and changes nothing: status changes, the bulk kill switch (its
// preview included) and incident resolutions.
func TestConsoleAdminChangesNothing(t *testing.T) {
	f := newStatusFixture(t)
	ctx := context.Background()
	c := f.issue(f.issuerA, "did:web:acme.example", "ap")
	suspended := f.issue(f.issuerA, "did:web:acme.example", "ap")
	if code, body := f.change(f.auditor, suspended.ID, "suspend", map[string]string{"reason": "other"}); code != http.StatusOK {
		t.Fatalf("suspend: %d %s", code, body)
	}
	in := store.Incident{ID: "inc_0002", State: records.IncidentOpen, Category: "misuse", Severity: "high", Description: "d",
		OccurredAt: time.Now().UTC(), RequestedAction: "revoke", Receipts: []string{"eyJ.receipt.x"}, Verifier: "did:web:shop.example",
		CredentialID: c.ID, Subject: "did:key:z", PrincipalID: "did:web:acme.example", ReporterTokenID: "tok_r", Reporter: "shop", CreatedAt: time.Now().UTC()}
	if err := f.store.CreateIncident(ctx, in, nil); err != nil {
		t.Fatal(err)
	}
	b := newConsoleBrowser(t, f)
	b.mustSignin(f.admin)
	for _, p := range []struct {
		path string
		form url.Values
	}{
		{credentialPath(c.ID) + "/status", url.Values{"action": {"revoke"}, "reason": {"other"}}},
		{credentialPath(c.ID) + "/status", url.Values{"action": {"suspend"}, "reason": {"other"}}},
		{credentialPath(suspended.ID) + "/status", url.Values{"action": {"reinstate"}, "reason": {"other"}}},
		{"/console/bulk", url.Values{"step": {"preview"}, "action": {"revoke"}, "principal": {"did:web:acme.example"}, "reason": {"other"}}},
		{"/console/bulk", url.Values{"step": {"confirm"}, "expect": {"2"}, "action": {"revoke"}, "principal": {"did:web:acme.example"}, "reason": {"other"}}},
		{"/console/incidents/inc_0002/resolve", url.Values{"decision": {"revoke"}}},
		{"/console/incidents/inc_0002/resolve", url.Values{"decision": {"dismiss"}}},
	} {
		b.get("/console") // a fresh page, with the session's CSRF token
		resp, body := b.post(p.path, p.form)
		wantPage(t, resp, body, http.StatusForbidden, "changes need an auditor token")
	}
	if f.value(c) != records.StatusValid || f.value(suspended) != records.StatusSuspended {
		t.Fatalf("an admin session changed a status: %d %d", f.value(c), f.value(suspended))
	}
	got, err := f.store.Incident(ctx, "inc_0002")
	if err != nil || got.State != records.IncidentOpen {
		t.Fatalf("an admin session resolved an incident: %+v %v", got, err)
	}
}
