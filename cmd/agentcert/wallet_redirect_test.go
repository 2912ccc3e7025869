package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWalletRedirects: the wallet posts a response (or a token request)
// only where it was told to, never re-posting it where an answer
// redirects, and follows a GET's redirect only to a URL it would fetch
// itself (https, or http to a loopback host).
func TestWalletRedirects(t *testing.T) {
	var hits atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer elsewhere.Close()
	var target atomic.Value
	target.Store(elsewhere.URL + "/cb")
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusTemporaryRedirect
		if r.URL.Path == "/303" {
			code = http.StatusSeeOther
		}
		http.Redirect(w, r, target.Load().(string), code)
	}))
	defer redirector.Close()
	w := &wallet{http: newWalletHTTPClient(5 * time.Second), now: time.Now}
	ctx := context.Background()
	form := []byte("vp_token=secret&state=s")

	for _, path := range []string{"/307", "/303"} {
		if _, err := w.do(ctx, http.MethodPost, redirector.URL+path, "", "application/x-www-form-urlencoded", form); err == nil {
			t.Errorf("POST answered with a redirect (%s) was taken as posted", path)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the response was sent to the redirect's target %d time(s)", n)
	}

	// A GET (a request_uri, metadata) follows a redirect to a URL the
	// wallet would fetch...
	if _, err := w.do(ctx, http.MethodGet, redirector.URL+"/get", "", "", nil); err != nil || hits.Load() != 1 {
		t.Fatalf("GET redirected to a loopback URL: %v (hits %d)", err, hits.Load())
	}
	// ... and no other.
	target.Store("http://verifier.invalid/request")
	_, err := w.do(ctx, http.MethodGet, redirector.URL+"/get", "", "", nil)
	if err == nil || !strings.Contains(err.Error(), "only https") {
		t.Fatalf("GET redirected to plain http on a non-loopback host: %v", err)
	}
}
