package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// consoleClient is a browser's view of the console: a cookie jar (cookies
// go to 127.0.0.1 whatever the port, so both nodes get them, as behind a
// load balancer) and the CSRF token of the last page.
type consoleClient struct {
	t    *testing.T
	c    *http.Client
	csrf string
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func newConsoleClient(t *testing.T) *consoleClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a GET (form nil) or a POST of form, with the page's CSRF token,
// and returns the status, the Location and the body.
func (b *consoleClient) do(node *testServer, path string, form url.Values) (int, string, string) {
	b.t.Helper()
	method := http.MethodGet
	var body io.Reader
	if form != nil {
		form.Set("csrf", b.csrf)
		method, body = http.MethodPost, strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, node.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := consoleCSRF.FindSubmatch(page); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(page)
}

// TestScaleOutConsoleSessionOnBothNodes: an auditor signed in through node
// A is signed in on node B (the load balancer may send any request
// anywhere), B's activity counts on A, and a sign-out on B ends the
// session on A too.
func TestScaleOutConsoleSessionOnBothNodes(t *testing.T) {
	c := startCluster(t)
	b := newConsoleClient(t)
	if st, _, _ := b.do(c.a, "/console/signin", nil); st != http.StatusOK {
		t.Fatalf("GET /console/signin on A: HTTP %d", st)
	}
	if st, loc, page := b.do(c.a, "/console/signin", url.Values{"token": {c.audit}}); st != http.StatusSeeOther || loc != "/console" {
		t.Fatalf("sign-in on A: HTTP %d to %q\n%s", st, loc, page)
	}
	var session *http.Cookie
	u, _ := url.Parse(c.a.URL)
	for _, ck := range b.c.Jar.Cookies(u) {
		if ck.Name == "agentcert_console" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie after sign-in")
	}
	for _, node := range []*testServer{c.b, c.a, c.b} {
		if st, loc, _ := b.do(node, "/console/credentials", nil); st != http.StatusOK {
			t.Fatalf("GET /console/credentials on %s: HTTP %d to %q; the session is not known there", node.URL, st, loc)
		}
	}
	if st, loc, _ := b.do(c.b, "/console/signout", url.Values{}); st != http.StatusSeeOther || loc != "/console/signin?ended=signout" {
		t.Fatalf("sign-out on B: HTTP %d to %q", st, loc)
	}
	// The browser forgot the cookie; a copy of it is refused on A.
	b.c.Jar.SetCookies(u, []*http.Cookie{session})
	if st, loc, _ := b.do(c.a, "/console/credentials", nil); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/signin") {
		t.Fatalf("after sign-out on B, A answers HTTP %d to %q", st, loc)
	}
}
