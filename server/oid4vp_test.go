package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/redisvp"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/oid4vp"
	"github.com/agentcert/agentcert/verifier"
)

// TestPresentationRequestsNeedATokenWhenRequired: with
// verifier.require_token the counterparty's calls need a bearer token,
// while the wallet's protocol endpoints stay open.
func TestPresentationRequestsNeedATokenWhenRequired(t *testing.T) {
	env := NewTestEnv(t, func(c *config.Config) { c.Verifier.RequireToken = true })
	secret, _, err := tokens.Create(t.Context(), env.Store, tokens.RoleAuditor, "counterparty", "test", env.Server.now())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"dcql_query":{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:agentcert:agent-certification:v1"]}}]}}`
	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		env.Server.Handler().ServeHTTP(rec, r)
		return rec
	}
	if rec := call(http.MethodPost, "/v1/presentation-requests", "", body); rec.Code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d %s", rec.Code, rec.Body)
	}
	if rec := call(http.MethodGet, "/v1/presentation-requests/x", "", ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("result without a token: %d %s", rec.Code, rec.Body)
	}
	rec := call(http.MethodPost, "/v1/presentation-requests", secret, body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("with a token: %d %s", rec.Code, rec.Body)
	}
	if rec := call(http.MethodGet, "/oid4vp/requests/unknown", "", ""); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"code":"not_found"`) {
		t.Fatalf("request object endpoint: %d %s", rec.Code, rec.Body)
	}
}

// TestPresentationCallbackIsGuarded: verifier.presentation_callback is
// posted through the outbound guard: a loopback callback is refused (the
// outcome waits to be fetched) unless fetch.allow_hosts names it.
func TestPresentationCallbackIsGuarded(t *testing.T) {
	var hits atomic.Int32
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer cb.Close()
	host := strings.TrimPrefix(cb.URL, "http://")
	for _, allowed := range []bool{false, true} {
		var fc did.FetcherConfig
		if allowed {
			fc.AllowHosts = []string{host}
		}
		cfg := config.Default()
		cfg.PublicURL, cfg.Verifier.PresentationCallback = "https://verifier.example", cb.URL+"/outcomes"
		nonces, err := verifier.NewNonces(nil, time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := verifier.New(verifier.DefaultPolicy(), verifier.WithNonces(nonces))
		if err != nil {
			t.Fatal(err)
		}
		vp, err := NewOID4VP(cfg, nil, v, nonces, nil, nil, did.NewFetcher(fc), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := vp.Create(t.Context(), oid4vp.CreateRequest{DCQLQuery: json.RawMessage(`{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:x"]}}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		params, err := oid4vp.ParseLink(c.Link)
		if err != nil {
			t.Fatal(err)
		}
		r, err := oid4vp.ResolveRequest(t.Context(), params, oid4vp.WalletOptions{})
		if err != nil {
			t.Fatal(err)
		}
		form, err := r.Decline("", "")
		if err != nil {
			t.Fatal(err)
		}
		_, ref, _ := strings.Cut(c.Request.ResponseURI, oid4vp.ResponsePath)
		before := hits.Load()
		_, err = vp.Respond(t.Context(), ref, form)
		testkit.WantCode(t, err, errcode.PresentationDeclined)
		if delivered := hits.Load() > before; delivered != allowed {
			t.Fatalf("allowed=%v: delivered=%v", allowed, delivered)
		}
		res, err := vp.Result(t.Context(), c.ID)
		if allowed {
			testkit.WantCode(t, err, errcode.NotFound, "a delivered outcome")
		} else if err != nil || res.Status != oid4vp.StatusDeclined {
			t.Fatalf("an undelivered outcome: %+v, %v", res, err)
		}
	}
}

// TestPresentationEndpointsRedisDown: while the Redis that holds the
// requests does not answer, the wallet's endpoints answer 503
// nonce_store_unavailable (a fault of ours; try again later), as the
// counterparty's do, not 400 invalid_request, which tells a wallet its
// response was wrong.
func TestPresentationEndpointsRedisDown(t *testing.T) {
	env := NewTestEnv(t, nil)
	st, err := redisvp.New("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := verifier.New(verifier.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if env.Server.vp, err = oid4vp.New(oid4vp.Config{BaseURL: "https://verifier.example"}, st, v, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, ctype, body string }{
		{http.MethodPost, "/v1/presentation-requests", "application/json", `{"dcql_query":{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:x"]}}]}}`},
		{http.MethodGet, "/v1/presentation-requests/some-id", "", ""},
		{http.MethodGet, oid4vp.RequestPath + "some-ref", "", ""},
		{http.MethodPost, oid4vp.ResponsePath + "some-ref", "application/x-www-form-urlencoded", "vp_token=%7B%7D&state=s"},
	} {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			r.Header.Set("Content-Type", tc.ctype)
		}
		rec := httptest.NewRecorder()
		env.Server.Handler().ServeHTTP(rec, r)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"code":"nonce_store_unavailable"`) {
			t.Errorf("%s %s with Redis down: %d %s", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
}
