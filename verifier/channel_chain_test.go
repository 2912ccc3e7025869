package verifier_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/agentclient"
	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// A delegation chain on the signed-request channel: the session key is the
// last delegate's, and the session ends when the shortest hop does.
func TestChannelWithDelegationChain(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	agentKey, agentDID := testkeys.DIDKey(t, jwa.EdDSA)
	subKey, subDID := testkeys.DIDKey(t, jwa.ES256)
	cnf := func(k jwk.Key) map[string]any {
		m := testkeys.PublicJWK(t, k)
		delete(m, "kid")
		return map[string]any{"jwk": m}
	}
	list, _ := revocation.NewList(131072, 2)
	cert, err := sdjwt.Issue(map[string]any{
		"iss": issDID, "sub": agentDID, "vct": schemas.AgentCertificationV1, "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(), "cnf": cnf(agentKey),
		"status":      map[string]any{"status_list": map[string]any{"idx": 1, "uri": statusURI}},
		"permissions": []any{map[string]any{"action": "invoices:*"}}, "prohibitions": []any{"payments:initiate"},
	}, []string{"/permissions/*"}, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := sdjwt.Delegate(cert, map[string]any{
		"vct": schemas.DelegationV1, "sub": subDID, "cnf": cnf(subKey), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"permissions": []any{map[string]any{"action": "invoices:read"}}, "prohibitions": []any{"payments:initiate"},
	}, sdjwt.DelegateOptions{Key: agentKey, IssuedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	p := verifier.DefaultPolicy()
	p.Trusted[issDID] = []string{schemas.AgentCertificationV1}
	p.MaxStatusAge = 2 * time.Hour
	v, err := verifier.New(p, verifier.WithResolver(did.NewResolver(nil)), verifier.WithClock(clock),
		verifier.WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
			n := clock()
			tok, err := revocation.SignToken(list, revocation.TokenClaims{Subject: statusURI, Issuer: issDID, IssuedAt: n, Expires: n.Add(3 * time.Hour), TTL: time.Minute}, iss)
			return []byte(tok), err
		}))
	if err != nil {
		t.Fatal(err)
	}
	nonces, _ := verifier.NewNonces(nil, time.Minute, clock)
	srv := httptest.NewUnstartedServer(nil)
	defer srv.Close()
	ch, err := verifier.NewChannel(v, verifier.ChannelOptions{SessionLifetime: time.Hour, Authorities: []string{srv.Listener.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	// GET /invoices/{verb} needs invoices:{verb}: the root allows every
	// invoices action, the delegate only invoices:read.
	action := func(r *http.Request) (string, map[string]any) { return "invoices:" + path.Base(r.URL.Path), nil }
	mw, err := verifier.Middleware(v, verifier.MiddlewareOptions{Audience: "aud", Nonces: nonces, Channel: ch, Action: action})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := verifier.ResultFrom(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]any{"hops": len(res.Chain)})
	}))
	srv.Start()
	nonceSrv := httptest.NewServer(nonces.Handler())
	defer nonceSrv.Close()
	tr, err := agentclient.New(agentclient.Options{Credential: chain, Key: subKey, Audience: func(*http.Request) string { return "aud" }, Now: clock, Base: srv.Client().Transport,
		NonceURL: func(*http.Request) string { return nonceSrv.URL }})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: tr}
	get := func(verb string) (int, map[string]any) {
		resp, err := c.Get(srv.URL + "/invoices/" + verb)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	// Actions are decided on the last delegate's authority, not the
	// root's: invoices:approve is the root's to do, not the sub-agent's,
	// whether the request presents the chain or rides its session.
	denied := func(when string) {
		t.Helper()
		if status, m := get("approve"); status != http.StatusForbidden || m["code"] != string(errcode.ActionNotPermitted) {
			t.Fatalf("an action only the root may take, %s: %d %v", when, status, m)
		}
	}
	denied("presenting the chain")
	for i := 0; i < 2; i++ {
		if status, m := get("read"); status != http.StatusOK || m["hops"] != float64(1) {
			t.Fatalf("request %d: %d %v", i, status, m)
		}
	}
	denied("over the session")
	// Past the hop's exp (the root and the session lifetime are far off):
	// the session is gone and the chain no longer verifies.
	mu.Lock()
	now = now.Add(11 * time.Minute)
	mu.Unlock()
	if status, m := get("read"); status != http.StatusUnauthorized || m["code"] != string(errcode.Expired) {
		t.Fatalf("after the hop expired: %d %v", status, m)
	}
}
