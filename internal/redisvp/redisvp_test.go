package redisvp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/redisvp"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/internal/testsvc"
	"github.com/agentcert/agentcert/oid4vp"
	"github.com/agentcert/agentcert/oid4vp/dcql"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

func newRedis(t *testing.T, clk *testkit.Clock) *redisvp.Store {
	t.Helper()
	u, prefix := testsvc.Redis(t)
	s, err := redisvp.New(u, redisvp.WithPrefix(prefix), redisvp.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// storeNames are the implementations held to one contract: the memory
// store and the Redis store.
var storeNames = []string{"memory", "redis"}

func newStore(t *testing.T, name string, clk *testkit.Clock) oid4vp.Store {
	t.Helper()
	if name == "memory" {
		return oid4vp.NewMemoryStore(clk.Now)
	}
	return newRedis(t, clk)
}

func record(t *testing.T, clk *testkit.Clock, n int, ttl time.Duration) *oid4vp.Record {
	t.Helper()
	k, err := keyutil.Generate(jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	q, err := dcql.Parse(json.RawMessage(`{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:x"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	return &oid4vp.Record{ID: fmt.Sprintf("id-%d", n), Ref: fmt.Sprintf("ref-%d", n), ClientID: "x509_san_dns:v.example", Nonce: "n", State: "s",
		Mode: oid4vp.ModeDirectPostJWT, Query: q, TransactionData: []string{"e30"}, Action: "payments:initiate",
		Attributes: map[string]any{"amount": json.Number("9007199254740993"), "currency": "EUR"}, EncryptionKey: k,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
}

// TestStoreContract: both stores keep, claim, finish and hand out requests
// alike.
func TestStoreContract(t *testing.T) {
	for _, name := range storeNames {
		t.Run(name, func(t *testing.T) {
			clk := testkit.NewClock(time.Now().Truncate(time.Millisecond))
			st := newStore(t, name, clk)
			ctx := context.Background()
			r := record(t, clk, 1, time.Minute)
			if err := st.Create(ctx, r, 10); err != nil {
				t.Fatal(err)
			}
			testkit.WantCode(t, st.Create(ctx, r, 10), errcode.Conflict, "the same request again")
			dupID := record(t, clk, 1, time.Minute)
			dupID.Ref = "ref-other"
			testkit.WantCode(t, st.Create(ctx, dupID, 10), errcode.Conflict, "a request with a taken id")

			got, err := st.ByRef(ctx, r.Ref)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != r.ID || got.Answered || got.Result != nil || got.EncryptionKey == nil || !keyutil.SameKey(got.EncryptionKey, r.EncryptionKey) ||
				got.Attributes["amount"] != json.Number("9007199254740993") || got.Query == nil || len(got.Query.Credentials) != 1 ||
				!got.ExpiresAt.Equal(r.ExpiresAt) || got.TransactionData[0] != "e30" {
				t.Fatalf("ByRef: %+v", got)
			}
			_, err = st.ByRef(ctx, "nope")
			testkit.WantCode(t, err, errcode.NotFound, "ByRef of an unknown reference")

			// Not answered yet: Take returns it and keeps it.
			if got, err := st.Take(ctx, r.ID, clk.Now()); err != nil || got.Result != nil || got.Answered {
				t.Fatalf("Take while pending: %+v, %v", got, err)
			}
			if err := st.Claim(ctx, r.Ref); err != nil {
				t.Fatal(err)
			}
			testkit.WantCode(t, st.Claim(ctx, r.Ref), errcode.RequestAnswered, "a second claim")
			testkit.WantCode(t, st.Claim(ctx, "nope"), errcode.NotFound, "a claim of an unknown reference")
			// Answered and expired, no result yet: kept (its response is
			// being checked).
			clk.Advance(2 * time.Minute)
			if got, err := st.Take(ctx, r.ID, clk.Now()); err != nil || !got.Answered || got.Result != nil {
				t.Fatalf("Take while checked: %+v, %v", got, err)
			}
			res := &oid4vp.Result{ID: r.ID, Status: oid4vp.StatusVerified, Verified: true, ExpiresAt: r.ExpiresAt}
			if err := st.Finish(ctx, r.Ref, res); err != nil {
				t.Fatal(err)
			}
			testkit.WantCode(t, st.Finish(ctx, "nope", res), errcode.NotFound, "Finish of an unknown reference")
			if got, _ := st.ByRef(ctx, r.Ref); got.EncryptionKey != nil {
				t.Fatal("the decryption key outlived the response")
			}
			got, err = st.Take(ctx, r.ID, clk.Now())
			if err != nil || got.Result == nil || got.Result.Status != oid4vp.StatusVerified || !got.Answered {
				t.Fatalf("Take of the result: %+v, %v", got, err)
			}
			_, err = st.Take(ctx, r.ID, clk.Now())
			testkit.WantCode(t, err, errcode.NotFound, "a result taken twice")

			// Unanswered and expired: Take hands it out once, then it is gone.
			r2 := record(t, clk, 2, time.Minute)
			if err := st.Create(ctx, r2, 10); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Minute)
			if got, err := st.Take(ctx, r2.ID, clk.Now()); err != nil || got.Answered {
				t.Fatalf("Take of an expired request: %+v, %v", got, err)
			}
			_, err = st.Take(ctx, r2.ID, clk.Now())
			testkit.WantCode(t, err, errcode.NotFound, "an expired request taken twice")
		})
	}
}

// TestStoreBound: at max requests the next is refused (rate_limited);
// unanswered ones stop counting when they expire, answered ones only
// ResultRetention later.
func TestStoreBound(t *testing.T) {
	for _, name := range storeNames {
		t.Run(name, func(t *testing.T) {
			clk := testkit.NewClock(time.Now().Truncate(time.Millisecond))
			st := newStore(t, name, clk)
			ctx := context.Background()
			a, b := record(t, clk, 1, time.Minute), record(t, clk, 2, time.Minute)
			for _, r := range []*oid4vp.Record{a, b} {
				if err := st.Create(ctx, r, 2); err != nil {
					t.Fatal(err)
				}
			}
			testkit.WantCode(t, st.Create(ctx, record(t, clk, 3, time.Minute), 2), errcode.RateLimited, "a third of two")
			if err := st.Claim(ctx, a.Ref); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Minute) // b expired unanswered; a answered
			if err := st.Create(ctx, record(t, clk, 4, time.Minute), 2); err != nil {
				t.Fatalf("after b expired: %v", err)
			}
			testkit.WantCode(t, st.Create(ctx, record(t, clk, 5, time.Minute), 2), errcode.RateLimited, "the answered request still counts")
			if got, err := st.ByRef(ctx, a.Ref); err != nil || !got.Answered {
				t.Fatalf("the answered request: %+v, %v", got, err)
			}
		})
	}
}

// TestClaimOnceAcrossReplicas: two stores on one Redis (two replicas)
// claiming one request concurrently: exactly one wins.
func TestClaimOnceAcrossReplicas(t *testing.T) {
	clk := testkit.NewClock(time.Now())
	u, prefix := testsvc.Redis(t)
	var replicas []*redisvp.Store
	for range 2 {
		s, err := redisvp.New(u, redisvp.WithPrefix(prefix), redisvp.WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		replicas = append(replicas, s)
	}
	ctx := context.Background()
	for i := range 20 {
		r := record(t, clk, i, time.Minute)
		if err := replicas[0].Create(ctx, r, 100); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, s := range replicas {
			wg.Add(1)
			go func() { defer wg.Done(); errs[j] = s.Claim(ctx, r.Ref) }()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("request %d: claims %v and %v, want exactly one", i, errs[0], errs[1])
		}
	}
}

// TestRedisDownFailsClosed: a Redis that does not answer is an error, never
// a request made or a response accepted.
func TestRedisDownFailsClosed(t *testing.T) {
	clk := testkit.NewClock(time.Now())
	s, err := redisvp.New("redis://127.0.0.1:1/0", redisvp.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Create(ctx, record(t, clk, 1, time.Minute), 10); errcode.CodeOf(err) != errcode.NonceStoreUnavailable {
		t.Fatalf("Create with Redis down: %v", err)
	}
	if err := s.Claim(ctx, "ref-1"); errcode.CodeOf(err) != errcode.NonceStoreUnavailable {
		t.Fatalf("Claim with Redis down: %v", err)
	}
	if _, err := s.Take(ctx, "id-1", clk.Now()); errcode.CodeOf(err) != errcode.NonceStoreUnavailable {
		t.Fatalf("Take with Redis down: %v", err)
	}
	if _, err := redisvp.New("http://x"); err == nil {
		t.Fatal("a non-Redis URL was accepted")
	}
}

// TestPresentationAcrossReplicas: one OpenID4VP service makes the request,
// the wallet fetches its request object from a second and posts the
// response there, and the counterparty reads the result on the first.
func TestPresentationAcrossReplicas(t *testing.T) {
	clk := testkit.NewClock(time.Now())
	u, prefix := testsvc.Redis(t)
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	agent, _ := testkeys.DIDKey(t, jwa.EdDSA)
	apub, _ := agent.PublicKey()
	now := clk.Now()
	cred, err := sdjwt.Issue(map[string]any{
		"iss": issDID, "vct": "urn:x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"cnf": map[string]any{"jwk": apub}, "principal": map[string]any{"id": "did:web:acme.example"},
		"permissions": []any{map[string]any{"action": "invoices:read"}},
	}, []string{"/permissions/*"}, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	vk, vdid := testkeys.DIDKey(t, jwa.ES256)
	var svcs []*oid4vp.Service
	for range 2 {
		p := verifier.DefaultPolicy()
		p.CheckStatus = false
		p.Trusted[issDID] = []string{"urn:x"}
		v, err := verifier.New(p, verifier.WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		st, err := redisvp.New(u, redisvp.WithPrefix(prefix), redisvp.WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		svc, err := oid4vp.New(oid4vp.Config{BaseURL: "https://verifier.example", ClientDID: vdid, SigningKey: vk}, st, v, clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	maker, other := svcs[0], svcs[1]
	ctx := context.Background()
	c, err := maker.Create(ctx, oid4vp.CreateRequest{ResponseMode: oid4vp.ModeDirectPostJWT, Action: "invoices:read",
		DCQLQuery: json.RawMessage(`{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:x"]},"claims":[{"path":["permissions",null,"action"],"values":["invoices:read"]}]}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	params, err := oid4vp.ParseLink(c.Link)
	if err != nil {
		t.Fatal(err)
	}
	opts := oid4vp.WalletOptions{Resolver: did.NewResolver(nil), Now: clk.Now, Fetch: func(ctx context.Context, uri string) ([]byte, error) {
		ref, _ := strings.CutPrefix(uri, "https://verifier.example"+oid4vp.RequestPath)
		jwt, err := other.RequestObject(ctx, ref)
		return []byte(jwt), err
	}}
	r, err := oid4vp.ResolveRequest(ctx, params, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.Answer([]oid4vp.Held{{SDJWT: cred}}, agent, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, ref, _ := strings.Cut(c.Request.ResponseURI, oid4vp.ResponsePath)
	if _, err := other.Respond(ctx, ref, a.Form); err != nil {
		t.Fatalf("the response on the other replica: %v", err)
	}
	if _, err := other.Respond(ctx, ref, url.Values(a.Form)); errcode.CodeOf(err) != errcode.RequestAnswered {
		t.Fatalf("the same response again: %v", err)
	}
	res, err := maker.Result(ctx, c.ID)
	if err != nil || res.Status != oid4vp.StatusVerified || !res.Allowed {
		t.Fatalf("the result on the replica that made the request: %+v, %v", res, err)
	}
	if _, err := other.Result(ctx, c.ID); errcode.CodeOf(err) != errcode.NotFound {
		t.Fatalf("the result fetched twice: %v", err)
	}
}
