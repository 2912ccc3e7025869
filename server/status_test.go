package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// statusFixture is an issuer server wired the way cmd/agentcert's
// openIssuer wires it, on a temporary data directory, with one token per
// role (two issuer tokens) and a real HTTP listener.
type statusFixture struct {
	t      testing.TB
	srv    *httptest.Server
	server *Server
	store  *store.SQLite
	keys   *issuer.KeyRing
	issuer *issuer.Service
	cfg    config.Config

	auditor, issuerA, issuerB, admin string // bearer secrets
	auditorID, issuerAID             string // token ids
}

func newStatusFixture(t testing.TB) *statusFixture {
	t.Helper()
	ctx := context.Background()
	env := NewTestEnv(t, nil)
	st := env.Store
	s := env.Server
	f := &statusFixture{t: t, server: s, store: st, keys: env.Parts.Keys, issuer: env.Parts.Service, cfg: env.Cfg}
	f.srv = httptest.NewServer(s.Handler())
	t.Cleanup(f.srv.Close)
	mk := func(role, name string) (string, string) {
		secret, tok, err := tokens.Create(ctx, st, role, name, "test", time.Now())
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		return secret, tok.ID
	}
	f.auditor, f.auditorID = mk(tokens.RoleAuditor, "auditor")
	f.issuerA, f.issuerAID = mk(tokens.RoleIssuer, "issuer-a")
	f.issuerB, _ = mk(tokens.RoleIssuer, "issuer-b")
	f.admin, _ = mk(tokens.RoleAdmin, "admin")
	return f
}

// do sends a request and returns the response (body read) and its body.
func (f *statusFixture) do(method, path, token string, body any, hdr map[string]string) (*http.Response, []byte) {
	f.t.Helper()
	var r io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				f.t.Fatal(err)
			}
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, r)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, b
}

// issued is what the fixture keeps of one issued credential.
type issued struct {
	ID     string
	ListID string
	Idx    int
	URI    string
}

// issue issues a credential with token for a fresh agent DID.
func (f *statusFixture) issue(token, principal, class string) issued {
	f.t.Helper()
	key, err := keyutil.Generate(jwa.ES256)
	if err != nil {
		f.t.Fatal(err)
	}
	pub, err := keyutil.Public(key)
	if err != nil {
		f.t.Fatal(err)
	}
	sub, err := did.KeyDID(pub)
	if err != nil {
		f.t.Fatal(err)
	}
	req := map[string]any{
		"subject": sub,
		"claims": map[string]any{
			"principal":    map[string]any{"id": principal, "name": "Test Org", "type": "organization"},
			"agent":        map[string]any{"class": class, "version": "1.0.0"},
			"permissions":  []any{map[string]any{"action": "invoices:read"}},
			"prohibitions": []any{"payments:initiate"},
			"autonomy":     "supervised",
		},
	}
	resp, body := f.do(http.MethodPost, "/v1/credentials", token, req, nil)
	if resp.StatusCode != http.StatusCreated {
		f.t.Fatalf("issue: HTTP %d %s", resp.StatusCode, body)
	}
	var out issuer.Issued
	if err := json.Unmarshal(body, &out); err != nil {
		f.t.Fatal(err)
	}
	return issued{ID: out.ID, Idx: out.Status.Idx, URI: out.Status.URI, ListID: out.Status.URI[strings.LastIndex(out.Status.URI, "/")+1:]}
}

// change posts a status change and returns the HTTP status and body.
func (f *statusFixture) change(token, id, action string, req any) (int, []byte) {
	f.t.Helper()
	resp, body := f.do(http.MethodPost, "/v1/credentials/"+id+"/"+action, token, req, nil)
	return resp.StatusCode, body
}

// keyFunc returns the issuer's public key matching the header's kid.
func (f *statusFixture) keyFunc(_ context.Context, _ string, hdr jws.Headers) (jwk.Key, error) {
	for _, k := range f.keys.PublicKeys() {
		if k.KeyID() == hdr.KeyID() {
			return k, nil
		}
	}
	return nil, errcode.New(errcode.KeyNotFound, "no key %q", hdr.KeyID())
}

// list GETs and verifies the IETF Status List Token of listID.
func (f *statusFixture) list(listID string) *revocation.Token {
	f.t.Helper()
	resp, body := f.do(http.MethodGet, "/statuslists/"+listID, "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET list: HTTP %d %s", resp.StatusCode, body)
	}
	tok, err := revocation.VerifyToken(context.Background(), string(body), revocation.VerifyTokenOptions{
		Key: f.keyFunc, ExpectedIssuer: f.keys.Issuer(), ExpectedSubject: f.issuer.StatusURI(listID),
	})
	if err != nil {
		f.t.Fatalf("VerifyToken: %v", err)
	}
	return tok
}

func (f *statusFixture) value(c issued) uint8 {
	f.t.Helper()
	v, err := f.list(c.ListID).List.Get(c.Idx)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// w3c GETs the W3C credential for purpose, verifies its JWS with the
// issuer's key and returns its header, credential and decoded bitstring.
func (f *statusFixture) w3c(listID, purpose string, hdr map[string]string) (jws.Headers, map[string]any, *revocation.List, *http.Response) {
	f.t.Helper()
	path := "/statuslists/" + listID
	if purpose != "" {
		path += "?format=w3c&purpose=" + purpose
	}
	resp, body := f.do(http.MethodGet, path, "", nil, hdr)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET %s: HTTP %d %s", path, resp.StatusCode, body)
	}
	msg, err := jws.Parse(body, jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		f.t.Fatalf("parse W3C JWS: %v", err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	key, err := f.keyFunc(context.Background(), "", h)
	if err != nil {
		f.t.Fatal(err)
	}
	payload, err := jws.Verify(body, jws.WithKey(h.Algorithm(), key), jws.WithCompact())
	if err != nil {
		f.t.Fatalf("W3C credential signature: %v", err)
	}
	var vc map[string]any
	if err := json.Unmarshal(payload, &vc); err != nil {
		f.t.Fatal(err)
	}
	cs, _ := vc["credentialSubject"].(map[string]any)
	enc, _ := cs["encodedList"].(string)
	l, err := revocation.DecodeW3C(enc, revocation.MinW3CEntries, 0)
	if err != nil {
		f.t.Fatalf("DecodeW3C: %v", err)
	}
	return h, vc, l, resp
}

// problemCode returns the code of a problem+json body.
func problemCode(t testing.TB, body []byte) errcode.Code {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem document: %v: %s", err, body)
	}
	return p.Code
}

var revokeReq = issuer.StatusRequest{Reason: "key_compromise", Incident: "INC-42", Note: "laptop stolen"}

// freshMaxAge reports whether cc is the Cache-Control of a status list
// token signed moments ago under status.ttl 5m: max-age is what is left of
// the ttl, rounded down, so 299 (signed part-way into a second) or 300, and
// a little less on a slow machine; never more.
func freshMaxAge(cc string) bool {
	v, ok := strings.CutPrefix(cc, "public, max-age=")
	n, err := strconv.Atoi(v)
	return ok && err == nil && n > 240 && n <= 300
}

func TestStatusListHTTP(t *testing.T) {
	f := newStatusFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant")
	path := "/statuslists/" + c.ListID

	resp, body := f.do(http.MethodGet, path, "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/statuslist+jwt" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); !freshMaxAge(cc) {
		t.Errorf("Cache-Control = %q, want public and a max-age of what is left of status.ttl (5m) for a token just signed", cc)
	}
	etag := resp.Header.Get("ETag")
	if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Fatalf("ETag = %q, want a quoted entity tag", etag)
	}

	msg, err := jws.Parse(body, jws.WithCompact())
	if err != nil {
		t.Fatal(err)
	}
	if typ := msg.Signatures()[0].ProtectedHeaders().Type(); typ != "statuslist+jwt" {
		t.Errorf("typ = %q", typ)
	}
	tok := f.list(c.ListID)
	if tok.Subject != c.URI || tok.Issuer != f.keys.Issuer() {
		t.Errorf("sub %q iss %q, want %q %q", tok.Subject, tok.Issuer, c.URI, f.keys.Issuer())
	}
	if tok.TTL != f.cfg.Status.TTL || tok.Expires.Sub(tok.IssuedAt) != f.cfg.Status.Validity {
		t.Errorf("ttl %v, exp-iat %v", tok.TTL, tok.Expires.Sub(tok.IssuedAt))
	}
	if tok.List.Bits() != 2 || tok.List.Len() != f.cfg.Status.ListSize {
		t.Errorf("bits %d len %d", tok.List.Bits(), tok.List.Len())
	}
	if v, _ := tok.List.Get(c.Idx); v != 0 {
		t.Errorf("fresh credential has status %d", v)
	}

	// Conditional GET: the same tag is 304 with no body, another is 200.
	resp, body = f.do(http.MethodGet, path, "", nil, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Errorf("If-None-Match current: HTTP %d, %d bytes, ETag %q", resp.StatusCode, len(body), resp.Header.Get("ETag"))
	}
	resp, _ = f.do(http.MethodGet, path, "", nil, map[string]string{"If-None-Match": `"other"`})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match other: HTTP %d", resp.StatusCode)
	}

	// A change makes the old tag stale: 200 with a new tag.
	if code, b := f.change(f.auditor, c.ID, "revoke", revokeReq); code != http.StatusOK {
		t.Fatalf("revoke: HTTP %d %s", code, b)
	}
	resp, body = f.do(http.MethodGet, path, "", nil, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("If-None-Match after a change: HTTP %d", resp.StatusCode)
	}
	if resp.Header.Get("ETag") == etag {
		t.Error("the ETag did not change with the list")
	}

	for _, tc := range []struct {
		path string
		hdr  map[string]string
		want int
		code errcode.Code
	}{
		{"/statuslists/nosuchlist", nil, 404, errcode.NotFound},
		{path + "?format=xml", nil, 400, errcode.InvalidInput},
		{path + "?format=w3c&purpose=refresh", nil, 400, errcode.InvalidInput},
		{path + "?purpose=revocation", nil, 400, errcode.InvalidInput},
	} {
		resp, body := f.do(http.MethodGet, tc.path, "", nil, tc.hdr)
		if resp.StatusCode != tc.want || problemCode(t, body) != tc.code {
			t.Errorf("GET %s: HTTP %d %s, want %d %s", tc.path, resp.StatusCode, body, tc.want, tc.code)
		}
	}
}

func TestStatusListW3C(t *testing.T) {
	f := newStatusFixture(t)
	revoked := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant")
	suspended := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant")
	valid := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant")
	if code, b := f.change(f.auditor, revoked.ID, "revoke", revokeReq); code != 200 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if code, b := f.change(f.auditor, suspended.ID, "suspend", revokeReq); code != 200 {
		t.Fatalf("suspend: %d %s", code, b)
	}

	etags := map[string]string{}
	for _, tc := range []struct {
		purpose                  string
		revoked, suspended, none uint8
	}{
		{revocation.PurposeRevocation, 1, 0, 0},
		{revocation.PurposeSuspension, 0, 1, 0},
	} {
		t.Run(tc.purpose, func(t *testing.T) {
			h, vc, l, resp := f.w3c(revoked.ListID, tc.purpose, nil)
			if ct := resp.Header.Get("Content-Type"); ct != "application/vc+jwt" {
				t.Errorf("Content-Type = %q", ct)
			}
			if !freshMaxAge(resp.Header.Get("Cache-Control")) || resp.Header.Get("ETag") == "" {
				t.Errorf("Cache-Control %q ETag %q", resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
			}
			etags[tc.purpose] = resp.Header.Get("ETag")
			if h.Type() != "vc+jwt" {
				t.Errorf("typ = %q", h.Type())
			}
			types, _ := vc["type"].([]any)
			if len(types) != 2 || types[1] != "BitstringStatusListCredential" {
				t.Errorf("type = %v", vc["type"])
			}
			if vc["id"] != revocation.W3CCredentialID(revoked.URI, tc.purpose) || vc["issuer"] != f.keys.Issuer() {
				t.Errorf("id %v issuer %v", vc["id"], vc["issuer"])
			}
			cs := vc["credentialSubject"].(map[string]any)
			if cs["statusPurpose"] != tc.purpose || cs["type"] != "BitstringStatusList" {
				t.Errorf("credentialSubject = %v", cs)
			}
			if l.Len() < revocation.MinW3CEntries {
				t.Errorf("%d entries", l.Len())
			}
			for _, e := range []struct {
				c    issued
				want uint8
			}{{revoked, tc.revoked}, {suspended, tc.suspended}, {valid, tc.none}} {
				if got, _ := l.Get(e.c.Idx); got != e.want {
					t.Errorf("idx %d: bit %d, want %d", e.c.Idx, got, e.want)
				}
			}
		})
	}
	if etags[revocation.PurposeRevocation] == etags[revocation.PurposeSuspension] {
		t.Error("both purposes have the same ETag")
	}

	// Accept: application/vc+jwt without ?format gives the revocation view.
	_, vc, l, _ := f.w3c(revoked.ListID, "", map[string]string{"Accept": "application/vc+jwt"})
	if cs := vc["credentialSubject"].(map[string]any); cs["statusPurpose"] != revocation.PurposeRevocation {
		t.Errorf("Accept: statusPurpose %v", cs["statusPurpose"])
	}
	if got, _ := l.Get(revoked.Idx); got != 1 {
		t.Errorf("Accept: revoked bit %d", got)
	}
}

// TestStatusChangeVisibleOnNextGET checks that the issuer never serves a
// stale token: each change shows on the very next GET, although the list
// was fetched (and cached by the issuer) just before.
func TestStatusChangeVisibleOnNextGET(t *testing.T) {
	f := newStatusFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant")
	other := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant")
	steps := []struct {
		cred   issued
		action string
		want   uint8
	}{
		{c, "suspend", 2},
		{c, "reinstate", 0},
		{other, "suspend", 2},
		{c, "revoke", 1},
	}
	if v := f.value(c); v != 0 {
		t.Fatalf("initial status %d", v)
	}
	for _, s := range steps {
		// Warm the issuer's cache of both views.
		f.list(c.ListID)
		f.w3c(c.ListID, revocation.PurposeRevocation, nil)
		if code, b := f.change(f.auditor, s.cred.ID, s.action, revokeReq); code != 200 {
			t.Fatalf("%s: HTTP %d %s", s.action, code, b)
		}
		if v := f.value(s.cred); v != s.want {
			t.Errorf("after %s: served status %d, want %d", s.action, v, s.want)
		}
		_, _, l, _ := f.w3c(c.ListID, revocation.PurposeRevocation, nil)
		if got, _ := l.Get(s.cred.Idx); got != map[bool]uint8{true: 1}[s.want == 1] {
			t.Errorf("after %s: W3C revocation bit %d", s.action, got)
		}
	}
}

func TestStatusChangeRules(t *testing.T) {
	f := newStatusFixture(t)
	a := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant") // issued by issuer A
	b := f.issue(f.issuerB, "did:web:acme.example", "ap-assistant") // issued by issuer B
	type step struct {
		name       string
		token      string
		id, action string
		body       any
		want       int
		code       errcode.Code // for errors
		status     string       // for 200
	}
	steps := []step{
		{"no token", "", a.ID, "revoke", revokeReq, 401, errcode.Unauthorized, ""},
		{"unknown token", "act_nope", a.ID, "revoke", revokeReq, 401, errcode.Unauthorized, ""},
		{"admin role", f.admin, a.ID, "revoke", revokeReq, 403, errcode.Forbidden, ""},
		{"bad reason", f.auditor, a.ID, "revoke", map[string]string{"reason": "because"}, 400, errcode.InvalidInput, ""},
		{"missing reason", f.auditor, a.ID, "revoke", map[string]string{}, 400, errcode.InvalidInput, ""},
		{"unknown field", f.auditor, a.ID, "revoke", map[string]string{"reason": "other", "why": "x"}, 400, errcode.InvalidInput, ""},
		{"not JSON", f.auditor, a.ID, "revoke", []byte("reason=other"), 400, errcode.InvalidInput, ""},
		{"incident too long", f.auditor, a.ID, "revoke", map[string]string{"reason": "incident", "incident": strings.Repeat("x", 257)}, 400, errcode.InvalidInput, ""},
		{"unknown credential", f.auditor, "urn:uuid:00000000-0000-4000-8000-000000000000", "revoke", revokeReq, 404, errcode.NotFound, ""},
		{"unknown action", f.auditor, a.ID, "delete", revokeReq, 404, errcode.NotFound, ""},
		{"issuer B on A's credential", f.issuerB, a.ID, "suspend", revokeReq, 404, errcode.NotFound, ""},
		{"issuer A suspends its own", f.issuerA, a.ID, "suspend", revokeReq, 200, "", "suspended"},
		{"suspend again is a no-op", f.issuerA, a.ID, "suspend", revokeReq, 200, "", "suspended"},
		{"issuer A may not undo a suspension", f.issuerA, a.ID, "reinstate", revokeReq, 403, errcode.Forbidden, ""},
		{"the auditor reinstates", f.auditor, a.ID, "reinstate", revokeReq, 200, "", "valid"},
		{"reinstate valid is a no-op", f.auditor, a.ID, "reinstate", revokeReq, 200, "", "valid"},
		{"auditor revokes B's", f.auditor, b.ID, "revoke", revokeReq, 200, "", "revoked"},
		{"revoke again is idempotent", f.auditor, b.ID, "revoke", revokeReq, 200, "", "revoked"},
		{"issuer B revokes its revoked one", f.issuerB, b.ID, "revoke", revokeReq, 200, "", "revoked"},
		{"reinstate revoked", f.auditor, b.ID, "reinstate", revokeReq, 409, errcode.Conflict, ""},
		{"suspend revoked", f.auditor, b.ID, "suspend", revokeReq, 409, errcode.Conflict, ""},
		{"issuer A revokes its own", f.issuerA, a.ID, "revoke", map[string]string{"reason": "superseded"}, 200, "", "revoked"},
	}
	for _, s := range steps {
		code, body := f.change(s.token, s.id, s.action, s.body)
		if code != s.want {
			t.Errorf("%s: HTTP %d %s, want %d", s.name, code, body, s.want)
			continue
		}
		if s.want != 200 {
			if got := problemCode(t, body); got != s.code {
				t.Errorf("%s: code %q, want %q", s.name, got, s.code)
			}
			continue
		}
		var v credentialView
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if v.ID != s.id || v.Status != s.status {
			t.Errorf("%s: record %s status %q, want %q", s.name, v.ID, v.Status, s.status)
		}
	}
	if v := f.value(b); v != 1 {
		t.Errorf("b is served with status %d, want 1", v)
	}
	if v := f.value(a); v != 1 {
		t.Errorf("a is served with status %d, want 1", v)
	}

	// The revoked record keeps the reason of the revocation that took
	// effect; the idempotent repeats changed nothing and logged nothing.
	resp, body := f.do(http.MethodGet, "/v1/credentials/"+b.ID, f.auditor, nil, nil)
	var v credentialView
	if resp.StatusCode != 200 || json.Unmarshal(body, &v) != nil {
		t.Fatalf("GET credential: %d %s", resp.StatusCode, body)
	}
	if v.Reason != "key_compromise" || v.Incident != "INC-42" || v.Note != "laptop stolen" || v.ChangedAt == nil {
		t.Errorf("record %+v", v)
	}
	if n := len(f.auditEntries("credential.revoke", b.ID)); n != 1 {
		t.Errorf("%d credential.revoke audit entries for b, want 1", n)
	}
	if n := len(f.auditEntries("credential.suspend", a.ID)); n != 1 {
		t.Errorf("%d credential.suspend audit entries for a, want 1", n)
	}
}

type auditEntryView struct {
	Seq     int64          `json:"seq"`
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	Details map[string]any `json:"details"`
}

func (f *statusFixture) auditEntries(action, target string) []auditEntryView {
	f.t.Helper()
	path := "/v1/audit?action=" + action
	if target != "" {
		path += "&target=" + target
	}
	resp, body := f.do(http.MethodGet, path, f.auditor, nil, nil)
	if resp.StatusCode != 200 {
		f.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var out struct {
		Entries []auditEntryView `json:"entries"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		f.t.Fatal(err)
	}
	return out.Entries
}

func TestStatusAudit(t *testing.T) {
	f := newStatusFixture(t)
	a := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant")
	b := f.issue(f.issuerA, "did:web:acme.example", "ap-assistant")
	if code, body := f.change(f.auditor, a.ID, "revoke", revokeReq); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, body := f.change(f.issuerA, b.ID, "suspend", issuer.StatusRequest{Reason: "incident", Incident: "INC-7"}); code != 200 {
		t.Fatalf("suspend: %d %s", code, body)
	}
	if code, body := f.change(f.auditor, b.ID, "reinstate", issuer.StatusRequest{Reason: "other", Note: "false alarm"}); code != 200 {
		t.Fatalf("reinstate: %d %s", code, body)
	}

	es := f.auditEntries("credential.revoke", "")
	if len(es) != 1 {
		t.Fatalf("%d credential.revoke entries, want 1: %+v", len(es), es)
	}
	e := es[0]
	if e.Actor != f.auditorID || e.Target != a.ID || e.Details["reason"] != "key_compromise" ||
		e.Details["incident"] != "INC-42" || e.Details["note"] != "laptop stolen" ||
		e.Details["from"] != float64(0) || e.Details["to"] != float64(1) || e.Details["idx"] != float64(a.Idx) || e.Details["list"] != a.ListID {
		t.Errorf("revoke entry %+v", e)
	}
	for _, tc := range []struct {
		action, reason, incident string
		from, to                 float64
	}{
		{"credential.suspend", "incident", "INC-7", 0, 2},
		{"credential.reinstate", "other", "", 2, 0},
	} {
		es := f.auditEntries(tc.action, b.ID)
		if len(es) != 1 {
			t.Fatalf("%s: %d entries", tc.action, len(es))
		}
		d := es[0].Details
		actor := f.issuerAID // issuer A suspended its own credential
		if tc.action == "credential.reinstate" {
			actor = f.auditorID // only an auditor reinstates
		}
		if es[0].Actor != actor || d["reason"] != tc.reason || d["incident"] != tc.incident || d["from"] != tc.from || d["to"] != tc.to {
			t.Errorf("%s entry %+v", tc.action, es[0])
		}
	}
	// A refused change is not logged.
	if code, _ := f.change(f.auditor, a.ID, "reinstate", revokeReq); code != 409 {
		t.Fatalf("reinstate revoked: %d", code)
	}
	if n := len(f.auditEntries("credential.reinstate", a.ID)); n != 0 {
		t.Errorf("refused reinstate logged %d entries", n)
	}
	// The audit log is for auditors.
	if resp, body := f.do(http.MethodGet, "/v1/audit", f.issuerA, nil, nil); resp.StatusCode != 403 || problemCode(t, body) != errcode.Forbidden {
		t.Errorf("issuer reads audit: %d %s", resp.StatusCode, body)
	}
}

func TestBulkRevocation(t *testing.T) {
	f := newStatusFixture(t)
	var acme, other []issued
	for i := 0; i < 4; i++ {
		acme = append(acme, f.issue(f.issuerA, "did:web:acme.example", "ap-assistant"))
	}
	for i := 0; i < 3; i++ {
		other = append(other, f.issue(f.issuerA, "did:web:other.example", "hr-assistant"))
	}
	// One acme credential is already revoked: a bulk revoke skips it.
	if code, b := f.change(f.auditor, acme[0].ID, "revoke", revokeReq); code != 200 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	bulk := func(token string, req map[string]any) (int, []byte) {
		resp, body := f.do(http.MethodPost, "/v1/revocations", token, req, nil)
		return resp.StatusCode, body
	}
	count := func(body []byte) int {
		var out struct {
			Count  int  `json:"count"`
			DryRun bool `json:"dry_run"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out.Count
	}
	statuses := func(cs []issued) []uint8 {
		tok := f.list(cs[0].ListID)
		var out []uint8
		for _, c := range cs {
			v, _ := tok.List.Get(c.Idx)
			out = append(out, v)
		}
		return out
	}

	for _, tc := range []struct {
		name  string
		token string
		req   map[string]any
		want  int
		code  errcode.Code
	}{
		{"no filter", f.auditor, map[string]any{"action": "revoke", "reason": "incident"}, 400, errcode.InvalidInput},
		{"bad action", f.auditor, map[string]any{"action": "reinstate", "reason": "incident", "principal_id": "did:web:acme.example"}, 400, errcode.InvalidInput},
		{"bad reason", f.auditor, map[string]any{"action": "revoke", "reason": "oops", "principal_id": "did:web:acme.example"}, 400, errcode.InvalidInput},
		{"issuer token", f.issuerA, map[string]any{"action": "revoke", "reason": "incident", "principal_id": "did:web:acme.example"}, 403, errcode.Forbidden},
		{"bad time", f.auditor, map[string]any{"action": "revoke", "reason": "incident", "issued_before": "yesterday"}, 400, errcode.InvalidInput},
		{"negative expect", f.auditor, map[string]any{"action": "revoke", "reason": "incident", "principal_id": "did:web:acme.example", "expect": -1}, 400, errcode.InvalidInput},
		// The previewed count no longer matches: nothing changes.
		{"stale expect", f.auditor, map[string]any{"action": "revoke", "reason": "incident", "principal_id": "did:web:acme.example", "expect": 2}, 409, errcode.Conflict},
	} {
		code, body := bulk(tc.token, tc.req)
		if code != tc.want || problemCode(t, body) != tc.code {
			t.Errorf("%s: HTTP %d %s, want %d %s", tc.name, code, body, tc.want, tc.code)
		}
	}

	req := map[string]any{"action": "revoke", "reason": "incident", "incident": "INC-99", "principal_id": "did:web:acme.example", "dry_run": true}
	code, body := bulk(f.auditor, req)
	if code != 200 || count(body) != 3 {
		t.Fatalf("dry run: HTTP %d %s, want count 3", code, body)
	}
	if got := statuses(acme); string(got) != string([]uint8{1, 0, 0, 0}) {
		t.Fatalf("dry run changed the list: %v", got)
	}
	if n := len(f.auditEntries("credential.revoke", "")); n != 1 {
		t.Fatalf("dry run logged: %d revoke entries", n)
	}

	req["dry_run"] = false
	req["expect"] = 3
	if code, body = bulk(f.auditor, req); code != 200 || count(body) != 3 {
		t.Fatalf("bulk revoke: HTTP %d %s, want count 3", code, body)
	}
	if got := statuses(acme); string(got) != string([]uint8{1, 1, 1, 1}) {
		t.Errorf("after bulk revoke: %v", got)
	}
	if got := statuses(other); string(got) != string([]uint8{0, 0, 0}) {
		t.Errorf("bulk revoke touched other principals: %v", got)
	}
	es := f.auditEntries("credential.revoke", "")
	if len(es) != 4 {
		t.Fatalf("%d revoke entries, want 4", len(es))
	}
	for _, e := range es[1:] {
		if e.Actor != f.auditorID || e.Details["bulk"] != true || e.Details["incident"] != "INC-99" {
			t.Errorf("bulk entry %+v", e)
		}
	}
	// Repeating it changes nothing.
	delete(req, "expect")
	if code, body = bulk(f.auditor, req); code != 200 || count(body) != 0 {
		t.Errorf("repeat: HTTP %d %s, want count 0", code, body)
	}

	// Suspend by agent class and issued_before (in the future: all match).
	sreq := map[string]any{"action": "suspend", "reason": "policy_violation", "agent_class": "hr-assistant",
		"issued_before": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "dry_run": true}
	if code, body = bulk(f.auditor, sreq); code != 200 || count(body) != 3 {
		t.Fatalf("suspend dry run: HTTP %d %s", code, body)
	}
	sreq["dry_run"] = false
	if code, body = bulk(f.auditor, sreq); code != 200 || count(body) != 3 {
		t.Fatalf("suspend: HTTP %d %s", code, body)
	}
	if got := statuses(other); string(got) != string([]uint8{2, 2, 2}) {
		t.Errorf("after bulk suspend: %v", got)
	}
	// issued_before in the past matches nothing.
	sreq["issued_before"] = "2000-01-01T00:00:00Z"
	sreq["agent_class"] = ""
	sreq["action"] = "revoke"
	if code, body = bulk(f.auditor, sreq); code != 200 || count(body) != 0 {
		t.Errorf("issued_before 2000: HTTP %d %s, want count 0", code, body)
	}
}

func TestConditionalAndNegotiatedStatusList(t *testing.T) {
	f := newStatusFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap")
	listPath := "/statuslists/" + c.ListID
	resp, _ := f.do(http.MethodGet, listPath, "", nil, nil)
	etag := resp.Header.Get("ETag")
	for name, tc := range map[string]struct {
		header string
		want   int
	}{
		"exact":        {etag, http.StatusNotModified},
		"weak":         {"W/" + etag, http.StatusNotModified},
		"in a list":    {`"other", ` + etag, http.StatusNotModified},
		"star":         {"*", http.StatusNotModified},
		"another etag": {`"other"`, http.StatusOK},
	} {
		resp, _ := f.do(http.MethodGet, listPath, "", nil, map[string]string{"If-None-Match": tc.header})
		if resp.StatusCode != tc.want {
			t.Errorf("If-None-Match %s (%q): %d, want %d", name, tc.header, resp.StatusCode, tc.want)
		}
	}
	resp, body := f.do(http.MethodHead, listPath, "", nil, nil)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Errorf("HEAD: %d, %d body bytes, etag %q", resp.StatusCode, len(body), resp.Header.Get("ETag"))
	}
	for accept, want := range map[string]string{
		"application/vc+jwt":                                   mediaVCJWT,
		"application/vc+jwt, */*;q=0.1":                        mediaVCJWT,
		"application/statuslist+jwt;q=0.5, application/vc+jwt": mediaVCJWT,
		"application/statuslist+jwt, application/vc+jwt;q=0.9": mediaStatusListJWT,
		"*/*":                    mediaStatusListJWT,
		"application/vc+jwt;q=0": mediaStatusListJWT,
		// The token takes the weight of the most specific range naming it.
		"application/vc+jwt;q=0.5, */*":                                       mediaStatusListJWT,
		"application/vc+jwt;q=0.5, application/*":                             mediaStatusListJWT,
		"application/vc+jwt;q=0.5, */*;q=0.1":                                 mediaVCJWT,
		"application/vc+jwt;q=0.5, application/*;q=0.1, */*":                  mediaVCJWT,
		"application/vc+jwt;q=0.5, application/statuslist+jwt;q=0.1, */*":     mediaVCJWT,
		"application/vc+jwt;q=0.5, application/statuslist+jwt;q=0.9, */*;q=0": mediaStatusListJWT,
		"application/vc+jwt;q=0.5, text/html":                                 mediaVCJWT,
	} {
		resp, _ := f.do(http.MethodGet, listPath, "", nil, map[string]string{"Accept": accept})
		if got := resp.Header.Get("Content-Type"); got != want {
			t.Errorf("Accept %q: %s, want %s", accept, got, want)
		}
	}
}

func TestIssuerReadsOnlyItsOwnRecords(t *testing.T) {
	f := newStatusFixture(t)
	a := f.issue(f.issuerA, "did:web:acme.example", "ap")
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"issuer A, its own", f.issuerA, http.StatusOK},
		{"issuer B, A's", f.issuerB, http.StatusNotFound},
		{"auditor", f.auditor, http.StatusOK},
	} {
		resp, body := f.do(http.MethodGet, "/v1/credentials/"+a.ID, tc.token, nil, nil)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
	}
}

func TestStatusListResignedAfterRotation(t *testing.T) {
	f := newStatusFixture(t)
	a := f.issue(f.issuerA, "did:web:acme.example", "ap")
	f.list(a.ListID) // the issuer now holds a token signed by the old key
	oldKID := f.keys.Active().KeyID()
	resp, _ := f.do(http.MethodPost, "/v1/admin/keys/rotate", f.admin, map[string]string{}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d", resp.StatusCode)
	}
	newKID := f.keys.Active().KeyID()
	if resp, body := f.do(http.MethodPost, "/v1/admin/keys/retire", f.admin, map[string]string{"kid": oldKID}, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("retire: %d %s", resp.StatusCode, body)
	}
	_, body := f.do(http.MethodGet, "/statuslists/"+a.ListID, "", nil, nil)
	hdr, _, _ := strings.Cut(string(body), ".")
	raw, err := base64.RawURLEncoding.DecodeString(hdr)
	if err != nil || !strings.Contains(string(raw), newKID) {
		t.Fatalf("after rotation and retirement the list must be signed by %s: header %s", newKID, raw)
	}
}

// TestStatusListRepeatedHeaderLines: If-None-Match and Accept sent on
// several field lines are one list each (RFC 9110 section 5.3), so a tag or
// a media type on the second line counts as much as one on the first.
func TestStatusListRepeatedHeaderLines(t *testing.T) {
	f := newStatusFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap")
	listPath := "/statuslists/" + c.ListID
	resp, _ := f.do(http.MethodGet, listPath, "", nil, nil)
	etag := resp.Header.Get("ETag")
	get := func(name string, lines ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, f.srv.URL+listPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			req.Header.Add(name, l)
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := get("If-None-Match", `"other"`, etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %q then %q: HTTP %d, want 304", `"other"`, etag, resp.StatusCode)
	}
	if resp := get("If-None-Match", `"other"`, `"another"`); resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match naming other tags on two lines: HTTP %d, want 200", resp.StatusCode)
	}
	if resp := get("Accept", "application/statuslist+jwt;q=0.5", "application/vc+jwt"); resp.Header.Get("Content-Type") != mediaVCJWT {
		t.Errorf("Accept ranking vc+jwt first on its second line: %s, want %s", resp.Header.Get("Content-Type"), mediaVCJWT)
	}
	if resp := get("Accept", "application/vc+jwt;q=0.5", "application/statuslist+jwt"); resp.Header.Get("Content-Type") != mediaStatusListJWT {
		t.Errorf("Accept ranking statuslist+jwt first on its second line: %s, want %s", resp.Header.Get("Content-Type"), mediaStatusListJWT)
	}
}
