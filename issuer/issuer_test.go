package issuer_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestIssueSignsAndRecords(t *testing.T) {
	e := newEnv(t)
	e.clock.Advance(300 * time.Millisecond) // iat is truncated to the second
	agent, _ := newAgentDID(t, jwa.EdDSA)
	out := e.mustIssue(issuerActor, request(agent))

	c, hdr := e.verify(out.Credential)
	if hdr["typ"] != "dc+sd-jwt" || hdr["kid"] != e.kr.Active().KeyID() || hdr["alg"] != "ES256" {
		t.Fatalf("header %v", hdr)
	}
	wantClaims := map[string]string{
		"iss": testIssuer, "sub": agent, "vct": "urn:agentcert:agent-certification:v1",
		"iat": fmt.Sprint(t0.Unix()), "nbf": fmt.Sprint(t0.Unix()), "exp": fmt.Sprint(t0.Add(defaultValid).Unix()),
	}
	for k, want := range wantClaims {
		if got := fmt.Sprint(c[k]); got != want {
			t.Errorf("claim %s = %s, want %s", k, got, want)
		}
	}
	st, _ := c["status"].(map[string]any)
	sl, _ := st["status_list"].(map[string]any)
	if fmt.Sprint(sl["idx"]) != fmt.Sprint(out.Status.Idx) || sl["uri"] != out.Status.URI || !strings.HasPrefix(out.Status.URI, testPublicURL+"/statuslists/") {
		t.Fatalf("status %v, answer %+v", st, out.Status)
	}
	if !out.ExpiresAt.Equal(t0.Add(defaultValid)) {
		t.Fatalf("expires_at %v", out.ExpiresAt)
	}

	// The record holds the credential digest, never the credential.
	rec, err := e.svc.Get(context.Background(), out.ID)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := sdjwt.CredentialDigest(out.Credential)
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.JWTHash) != string(sum[:]) || rec.Subject != agent || rec.TokenID != issuerActor.TokenID ||
		rec.PrincipalID != "did:web:acme.example" || rec.AgentClass != "accounts-payable-assistant" ||
		rec.Idx != out.Status.Idx || e.svc.StatusURI(rec.ListID) != out.Status.URI || rec.Status != store.StatusValid {
		t.Fatalf("record %+v does not match %+v", rec, out)
	}
	audit, err := e.st.Audit(context.Background(), store.AuditFilter{Action: "credential.issue", Target: out.ID})
	if err != nil || len(audit) != 1 || audit[0].Actor != issuerActor.TokenID {
		t.Fatalf("audit entries %+v, %v", audit, err)
	}
	_, err = e.svc.Get(context.Background(), "urn:uuid:nope")
	testkit.WantCode(t, err, errcode.NotFound, "Get unknown")
}

func TestIssueExpiry(t *testing.T) {
	e := newEnv(t)
	agent, _ := newAgentDID(t, jwa.ES256)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	for _, tc := range []struct {
		name      string
		expiresAt *time.Time
		validFor  string
		want      time.Time // zero: want invalid_input
	}{
		{name: "default", want: t0.Add(defaultValid)},
		{name: "valid_for", validFor: "1h30m", want: t0.Add(90 * time.Minute)},
		{name: "expires_at", expiresAt: at(2 * time.Hour), want: t0.Add(2 * time.Hour)},
		{name: "expires_at truncated to the second", expiresAt: at(2*time.Hour + 999*time.Millisecond), want: t0.Add(2 * time.Hour)},
		{name: "expires_at in another zone", expiresAt: func() *time.Time { v := t0.Add(time.Hour).In(time.FixedZone("X", 3600*5)); return &v }(), want: t0.Add(time.Hour)},
		{name: "exactly the maximum", validFor: maxValid.String(), want: t0.Add(maxValid)},
		{name: "both", expiresAt: at(time.Hour), validFor: "1h"},
		{name: "over the maximum (valid_for)", validFor: (maxValid + time.Second).String()},
		{name: "over the maximum (expires_at)", expiresAt: at(maxValid + time.Second)},
		{name: "not a duration", validFor: "one week"},
		{name: "days are not a Go duration", validFor: "30d"},
		{name: "negative", validFor: "-1h"},
		{name: "zero", validFor: "0s"},
		{name: "expires now", expiresAt: at(0)},
		{name: "expired", expiresAt: at(-time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(agent)
			req.ExpiresAt, req.ValidFor = tc.expiresAt, tc.validFor
			out, err := e.svc.Issue(context.Background(), issuerActor, req, "", nil)
			if tc.want.IsZero() {
				testkit.WantCode(t, err, errcode.InvalidInput, tc.name)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, _ := e.verify(out.Credential)
			if !out.ExpiresAt.Equal(tc.want) || fmt.Sprint(c["exp"]) != fmt.Sprint(tc.want.Unix()) {
				t.Fatalf("expires_at %v, exp %v; want %v", out.ExpiresAt, c["exp"], tc.want)
			}
		})
	}
}

// TestIssueExpirySubSecond: exp is a whole second (JWT NumericDate), so the
// expiry the API reports must be the one signed.
func TestIssueExpirySubSecond(t *testing.T) {
	e := newEnv(t)
	agent, _ := newAgentDID(t, jwa.EdDSA)
	req := request(agent)
	req.ValidFor = "1h500ms"
	out, err := e.svc.Issue(context.Background(), issuerActor, req, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.verify(out.Credential)
	if fmt.Sprint(c["exp"]) != fmt.Sprint(out.ExpiresAt.Unix()) || out.ExpiresAt.Nanosecond() != 0 {
		t.Fatalf("expires_at %v, signed exp %v", out.ExpiresAt, c["exp"])
	}
	req.ValidFor = "500ms"
	_, err = e.svc.Issue(context.Background(), issuerActor, req, "", nil)
	testkit.WantCode(t, err, errcode.InvalidInput, "valid_for 500ms")
}

func TestIssueRefusesRegisteredClaims(t *testing.T) {
	e := newEnv(t)
	agent, _ := newAgentDID(t, jwa.EdDSA)
	for _, name := range []string{"iss", "iat", "nbf", "exp", "vct", "sub", "cnf", "status", "_sd", "_sd_alg"} {
		req := request(agent)
		req.Claims[name] = "x"
		_, err := e.svc.Issue(context.Background(), issuerActor, req, "", nil)
		testkit.WantCode(t, err, errcode.InvalidInput, name)
		if !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("%s: error %q does not name the claim", name, err)
		}
	}
	req := request(agent)
	req.Claims = nil
	_, err := e.svc.Issue(context.Background(), issuerActor, req, "", nil)
	testkit.WantCode(t, err, errcode.InvalidInput, "no claims")
	if n := e.countFor(agent); n != 0 {
		t.Fatalf("%d records after refused requests", n)
	}
}

func TestIssueHolderKey(t *testing.T) {
	edDID, edPub := newAgentDID(t, jwa.EdDSA)
	p256DID, p256Pub := newAgentDID(t, jwa.ES256)
	jwkDID, err := did.JWKDID(p256Pub)
	if err != nil {
		t.Fatal(err)
	}
	const webAgent = "did:web:agents.example:a1"
	webDoc, webPub := newWebAgent(t, webAgent)
	const bareAgent = "did:web:agents.example:bare"
	// A document that publishes a private key, by reference and embedded.
	const leakyAgent, leakyEmbedded = "did:web:agents.example:leaky", "did:web:agents.example:leaky2"
	leakKey, _ := keyutil.Generate(jwa.ES256)
	leakJSON, _ := keyutil.Marshal(leakKey)
	leakyDoc := &did.Document{ID: leakyAgent,
		VerificationMethod: []did.VerificationMethod{{ID: leakyAgent + "#k1", Type: "JsonWebKey2020", Controller: leakyAgent, PublicKeyJwk: leakJSON}},
		Authentication:     []did.Relationship{{Ref: leakyAgent + "#k1"}}}
	leakyEmbeddedDoc := &did.Document{ID: leakyEmbedded,
		Authentication: []did.Relationship{{Embedded: &did.VerificationMethod{ID: leakyEmbedded + "#k1", Type: "JsonWebKey2020", Controller: leakyEmbedded, PublicKeyJwk: leakJSON}}}}
	resolver := did.ResolverFunc(func(ctx context.Context, d string) (*did.Document, error) {
		switch d {
		case webAgent:
			return webDoc, nil
		case bareAgent:
			return &did.Document{ID: bareAgent}, nil
		case leakyAgent:
			return leakyDoc, nil
		case leakyEmbedded:
			return leakyEmbeddedDoc, nil
		}
		return nil, errcode.Wrap(errcode.DIDResolutionFailed, errNoNetwork, "cannot resolve %s", d)
	})
	e := newEnv(t, withResolver(resolver))

	holderKey, _ := keyutil.Generate(jwa.EdDSA)
	holderPub, _ := keyutil.Public(holderKey)
	holderPubJSON, _ := keyutil.Marshal(holderPub)
	holderPrivJSON, _ := keyutil.Marshal(holderKey)
	edPubJSON, _ := keyutil.Marshal(edPub)
	webPubJSON, _ := keyutil.Marshal(webPub)

	for _, tc := range []struct {
		name      string
		subject   string
		holderJWK string
		want      jwk.Key      // nil: want code
		code      errcode.Code // default invalid_input
	}{
		{"did:key Ed25519", edDID, "", edPub, ""},
		{"did:key P-256", p256DID, "", p256Pub, ""},
		{"did:jwk", jwkDID, "", p256Pub, ""},
		{"did:web resolved", webAgent, "", webPub, ""},
		{"holder_jwk that is the did:key's key", edDID, string(edPubJSON), edPub, ""},
		{"holder_jwk among the did:web's keys", webAgent, string(webPubJSON), webPub, ""},
		// A caller may not certify someone else's DID with its own key.
		{"holder_jwk other than the did:key's key", edDID, string(holderPubJSON), nil, errcode.SubjectKeyMismatch},
		{"holder_jwk other than the did:jwk's key", jwkDID, string(holderPubJSON), nil, errcode.SubjectKeyMismatch},
		{"holder_jwk not among the did:web's keys", webAgent, string(holderPubJSON), nil, errcode.SubjectKeyMismatch},
		{"holder_jwk for an unresolvable did:web", "did:web:unresolvable.example", string(holderPubJSON), nil, ""},
		{"private holder_jwk", edDID, string(holderPrivJSON), nil, ""},
		{"symmetric holder_jwk", edDID, `{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQ"}`, nil, ""},
		{"holder_jwk not JSON", edDID, `"nope"`, nil, ""},
		{"did:web not resolvable", "did:web:unresolvable.example", "", nil, ""},
		{"did:web without authentication key", bareAgent, "", nil, ""},
		// cnf.jwk would carry the private key into the credential.
		{"did:web document publishing a private key", leakyAgent, "", nil, ""},
		{"did:web document embedding a private key", leakyEmbedded, "", nil, ""},
		{"malformed did:key", "did:key:zNotAKey", "", nil, ""},
		{"not a DID", "agent-7", "", nil, ""},
		{"empty subject", "", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(tc.subject)
			if tc.holderJWK != "" {
				req.HolderJWK = json.RawMessage(tc.holderJWK)
			}
			out, err := e.svc.Issue(context.Background(), issuerActor, req, "", nil)
			if tc.want == nil {
				if tc.code == "" {
					tc.code = errcode.InvalidInput
				}
				testkit.WantCode(t, err, tc.code, tc.name)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, _ := e.verify(out.Credential)
			got := cnfKey(t, c)
			if thumbprint(t, got) != thumbprint(t, tc.want) || keyutil.IsPrivate(got) || c["sub"] != tc.subject {
				t.Fatalf("cnf.jwk %v, sub %v; want the key of %s", c["cnf"], c["sub"], tc.name)
			}
		})
	}
}

func TestIssueDisclosability(t *testing.T) {
	e := newEnv(t)
	agent, _ := newAgentDID(t, jwa.EdDSA)
	for _, tc := range []struct {
		pointers []string
		code     errcode.Code
	}{
		{[]string{"/prohibitions"}, errcode.NotDisclosable},
		{[]string{"/prohibitions/0"}, errcode.NotDisclosable},
		{[]string{"/permissions"}, errcode.NotDisclosable},
		{[]string{"/cnf/jwk"}, errcode.NotDisclosable},
		{[]string{"/autonomy"}, errcode.NotDisclosable},
		{[]string{"permissions"}, errcode.InvalidInput},
		{[]string{"/_sd"}, errcode.InvalidInput},
	} {
		req := request(agent)
		req.SelectivelyDisclosable = tc.pointers
		_, err := e.svc.Issue(context.Background(), issuerActor, req, "", nil)
		testkit.WantCode(t, err, tc.code, strings.Join(tc.pointers, ","))
	}

	// Allowed pointers become disclosures; prohibitions stay in clear.
	req := request(agent)
	req.SelectivelyDisclosable = []string{"/permissions/*", "/principal/name"}
	out := e.mustIssue(issuerActor, req)
	parts := strings.Split(out.Credential, "~")
	if n := len(parts) - 2; n != 3 { // two permissions and principal.name
		t.Fatalf("%d disclosures, want 3: %s", n, out.Credential)
	}
	c, _ := e.verify(out.Credential)
	if fmt.Sprint(c["prohibitions"]) != "[payments:initiate]" {
		t.Fatalf("prohibitions %v", c["prohibitions"])
	}
}

// TestDisclosablePointerToAbsentClaim: a selectively_disclosable pointer
// that addresses no claim of the request is invalid_input for Check (the
// OpenID4VCI offer's check) as for Issue, and Issue refuses it before it
// opens a status list or spends an index. Check passed such a request,
// and Issue refused it only at signing.
func TestDisclosablePointerToAbsentClaim(t *testing.T) {
	e := newEnv(t)
	agent, _ := newAgentDID(t, jwa.EdDSA)
	for _, p := range []string{"/on_behalf_of", "/agent/operator", "/principal/name/0", "/agent/*", "/permissions/0/x"} {
		req := request(agent)
		req.SelectivelyDisclosable = []string{"/permissions/*", p}
		testkit.WantCode(t, e.svc.Check(context.Background(), req), errcode.InvalidInput, "check "+p)
		_, err := e.svc.Issue(context.Background(), issuerActor, req, "", nil)
		testkit.WantCode(t, err, errcode.InvalidInput, "issue "+p)
	}
	if lists, err := e.st.StatusLists(context.Background()); err != nil || len(lists) != 0 {
		t.Fatalf("status lists after refused requests: %v, %v", lists, err)
	}
	// An index the "always" pointer /permissions/* covers is dropped, not
	// refused, as before.
	req := request(agent)
	req.SelectivelyDisclosable = []string{"/permissions/*", "/permissions/5", "/principal/name"}
	e.mustIssue(issuerActor, req)
}

func TestIssueSchemaInvalid(t *testing.T) {
	e := newEnv(t)
	agent, _ := newAgentDID(t, jwa.EdDSA)
	for _, tc := range []struct {
		name  string
		edit  func(c map[string]any)
		paths []string
	}{
		{"bad autonomy", func(c map[string]any) { c["autonomy"] = "unsupervised" }, []string{"/autonomy"}},
		{"no principal", func(c map[string]any) { delete(c, "principal") }, []string{"/principal"}},
		{"bad action", func(c map[string]any) { c["permissions"] = []any{map[string]any{"action": "read everything"}} }, []string{"/permissions/0/action"}},
		{"two problems", func(c map[string]any) {
			c["autonomy"] = 3
			c["agent"] = map[string]any{"class": "x", "colour": "blue"}
		}, []string{"/agent/colour", "/autonomy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(agent)
			tc.edit(req.Claims)
			_, err := e.svc.Issue(context.Background(), issuerActor, req, "", nil)
			testkit.WantCode(t, err, errcode.SchemaInvalid, tc.name)
			var ve *schemas.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%v does not wrap a *schemas.ValidationError", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Path)
			}
			for _, want := range tc.paths {
				if !strings.Contains(strings.Join(got, " ")+" ", want+" ") {
					t.Fatalf("problems at %v, want one at %s", got, want)
				}
			}
		})
	}
	// Refused requests use up no status list index.
	lists, err := e.st.StatusLists(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lists {
		if l.Used != 0 {
			t.Fatalf("list %s has %d used indexes after refused requests only", l.ID, l.Used)
		}
	}
}

// TestIssueIndexesUnique issues concurrently across several (small) status
// lists and a restart: no (list, index) is given twice.
func TestIssueIndexesUnique(t *testing.T) {
	const size, perRound, workers = 64, 60, 6
	e := newEnv(t, withListSize(size))
	agent, _ := newAgentDID(t, jwa.EdDSA)
	seen := map[issuer.StatusRef]string{}
	var mu sync.Mutex
	round := func() {
		var wg sync.WaitGroup
		errs := make(chan error, perRound)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perRound/workers; i++ {
					out, err := e.svc.Issue(context.Background(), issuerActor, request(agent), "", nil)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					if prev, dup := seen[out.Status]; dup {
						errs <- fmt.Errorf("%+v given to %s and %s", out.Status, prev, out.ID)
					}
					seen[out.Status] = out.ID
					mu.Unlock()
					if out.Status.Idx < 0 || out.Status.Idx >= size {
						errs <- fmt.Errorf("index %d outside a list of %d", out.Status.Idx, size)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	round()
	e.open() // a restart resumes from the store's used indexes
	round()

	if len(seen) != 2*perRound || e.countFor(agent) != 2*perRound {
		t.Fatalf("%d distinct status refs, %d records; want %d", len(seen), e.countFor(agent), 2*perRound)
	}
	lists, err := e.st.StatusLists(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, l := range lists {
		if l.Used > size/2 {
			t.Errorf("list %s filled to %d of %d", l.ID, l.Used, size)
		}
		used += l.Used
	}
	if len(lists) < 2*perRound/(size/2) || used != 2*perRound {
		t.Fatalf("%d lists with %d used indexes; want at least %d lists and %d", len(lists), used, 2*perRound/(size/2), 2*perRound)
	}
}

func TestIssueIdempotency(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	req := request(agent)
	hashA, hashB := sha256.Sum256([]byte("body A")), sha256.Sum256([]byte("body B"))

	first, err := e.svc.Issue(ctx, issuerActor, req, "key-1", hashA[:])
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.Issue(ctx, issuerActor, req, "key-1", hashA[:])
	if err != nil {
		t.Fatal(err)
	}
	if !sameIssued(again, first) {
		t.Fatalf("replay %+v differs from %+v", again, first)
	}
	_, err = e.svc.Issue(ctx, issuerActor, req, "key-1", hashB[:])
	testkit.WantCode(t, err, errcode.Conflict, "same key, other body")

	// The replay survives a restart (the answer is sealed under the KEK).
	e.open()
	e.clock.Advance(time.Hour)
	again, err = e.svc.Issue(ctx, issuerActor, req, "key-1", hashA[:])
	if err != nil || !sameIssued(again, first) {
		t.Fatalf("replay after restart: %+v %v", again, err)
	}
	if n := e.countFor(agent); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}

	// Keys are per token; a new key is a new credential.
	other, err := e.svc.Issue(ctx, issuer.Actor{TokenID: "tok-issuer-b", Role: "issuer"}, req, "key-1", hashA[:])
	if err != nil || other.ID == first.ID {
		t.Fatalf("same key under another token: %+v %v", other, err)
	}
	if out, err := e.svc.Issue(ctx, issuerActor, req, "key-2", hashA[:]); err != nil || out.ID == first.ID {
		t.Fatalf("new key: %+v %v", out, err)
	}
	if n := e.countFor(agent); n != 3 {
		t.Fatalf("%d records, want 3", n)
	}
	// A refused request records no key: the same key then works.
	bad := request(agent)
	bad.ValidFor = "forever"
	_, err = e.svc.Issue(ctx, issuerActor, bad, "key-3", hashB[:])
	testkit.WantCode(t, err, errcode.InvalidInput, "refused with a key")
	if _, err := e.svc.Issue(ctx, issuerActor, req, "key-3", hashA[:]); err != nil {
		t.Fatalf("key of a refused request: %v", err)
	}
}

// TestIssueIdempotencyConcurrent: concurrent requests with one key give one
// credential.
func TestIssueIdempotencyConcurrent(t *testing.T) {
	e := newEnv(t)
	agent, _ := newAgentDID(t, jwa.EdDSA)
	hash := sha256.Sum256([]byte("body"))
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.svc.Issue(context.Background(), issuerActor, request(agent), "same-key", hash[:])
			errs[i] = err
			if err == nil {
				ids[i] = out.ID
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d: %q %v; request 0: %q", i, ids[i], errs[i], ids[0])
		}
	}
	if c := e.countFor(agent); c != 1 {
		t.Fatalf("%d records, want 1", c)
	}
}

// TestIssueIdempotencyLookupFailsFast: the store refuses the credential for
// its Idempotency-Key, which another request recorded meanwhile, and reading
// that record back then fails (its created_at is no number). Issue fails at
// once with the lookup's error; it drew index after index before (33 in
// all). With lists of 16 (8 draws each) the next credential still comes
// from the first list. The other request's record is written, over a
// second connection to the database file, while the subject's DID is
// resolved: after Issue's first lookup, before its insert.
func TestIssueIdempotencyLookupFailsFast(t *testing.T) {
	const webAgent = "did:web:agents.example:a1"
	webDoc, _ := newWebAgent(t, webAgent)
	var meanwhile func() error
	e := newEnv(t, withListSize(16), withResolver(did.ResolverFunc(func(ctx context.Context, d string) (*did.Document, error) {
		if f := meanwhile; f != nil {
			meanwhile = nil
			if err := f(); err != nil {
				return nil, err
			}
		}
		return webDoc, nil
	})))
	ctx := context.Background()
	raw, err := sql.Open("sqlite3", "file:"+e.path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	first := e.mustIssue(issuerActor, request(mustAgent(t)))
	meanwhile = func() error {
		_, err := raw.ExecContext(ctx, `INSERT INTO idempotency (token_id, key, request_hash, credential_id, response, created_at)
			VALUES (?, 'key-1', x'00', ?, x'00', 'not a number')`, issuerActor.TokenID, first.ID)
		return err
	}
	hash := sha256.Sum256([]byte("body"))
	out, err := e.svc.Issue(ctx, issuerActor, request(webAgent), "key-1", hash[:])
	if meanwhile != nil {
		t.Fatal("the DID was not resolved")
	}
	if err == nil || out != nil || !strings.Contains(err.Error(), "idempotency lookup") {
		t.Fatalf("issue whose key record cannot be read: %+v %v", out, err)
	}
	if errcode.CodeOf(err) != errcode.Internal || errors.Is(err, store.ErrConflict) {
		t.Fatalf("a store failure answered as %s: %v", errcode.CodeOf(err), err)
	}
	next := e.mustIssue(issuerActor, request(mustAgent(t)))
	if next.Status.URI != first.Status.URI {
		t.Fatalf("the next credential is in %s, not in the first list %s: the failed issuance drew index after index", next.Status.URI, first.Status.URI)
	}
}

// TestIssueStoreFailure: when the store refuses the record, nothing is
// returned (nothing acknowledged that is not durable).
func TestIssueStoreFailure(t *testing.T) {
	e := newEnv(t)
	agent, _ := newAgentDID(t, jwa.EdDSA)
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := e.svc.Issue(context.Background(), issuerActor, request(agent), "", nil)
	if err == nil || out != nil || !errors.Is(err, store.ErrClosed) {
		t.Fatalf("issue on a closed store: %+v %v", out, err)
	}
}

// TestIssueTooLargeUsesNoIndex: a request whose credential would be too
// large for verifiers (256 permissions with 512-character resources) is
// refused, too_large, by Issue and by Check before a status index is drawn.
// Lists of 8 open the next list after 4 draws: after the first credential
// and four refusals, the next credential still comes from the first list.
func TestIssueTooLargeUsesNoIndex(t *testing.T) {
	e := newEnv(t, withListSize(8))
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	first := e.mustIssue(issuerActor, request(agent))
	perms := make([]any, 256)
	for i := range perms {
		perms[i] = map[string]any{"action": "files:read", "resource": fmt.Sprintf("files/%03d/%s", i, strings.Repeat("r", 502))}
	}
	big := request(agent)
	big.Claims["permissions"] = perms
	for _, sd := range [][]string{{"/permissions/*"}, nil} {
		big.SelectivelyDisclosable = sd
		for range 2 {
			_, err := e.svc.Issue(ctx, issuerActor, big, "", nil)
			testkit.WantCode(t, err, errcode.TooLarge, "issue with disclosable ", sd)
		}
		testkit.WantCode(t, e.svc.Check(ctx, big), errcode.TooLarge, "check with disclosable ", sd)
	}
	next := e.mustIssue(issuerActor, request(agent))
	if next.Status.URI != first.Status.URI {
		t.Fatalf("the credential after the refusals is in %s, not in the first list %s: the refusals drew indexes", next.Status.URI, first.Status.URI)
	}
	lists, err := e.st.StatusLists(ctx)
	if err != nil || len(lists) != 1 || lists[0].Used != 2 {
		t.Fatalf("status lists %+v, %v; want one with 2 used", lists, err)
	}
}

func sameIssued(a, b *issuer.Issued) bool {
	return a.ID == b.ID && a.Credential == b.Credential && a.Status == b.Status && a.ExpiresAt.Equal(b.ExpiresAt)
}

// TestIssueTwoServicesOneStore: two issuance services over one store, as two
// nodes on one database, resume the same status list and draw from it at
// once. Indexes the other gave first are refused by the store and drawn
// again: every issuance succeeds and no (list, index) is given twice.
func TestIssueTwoServicesOneStore(t *testing.T) {
	e := newEnv(t, withListSize(64))
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	e.mustIssue(issuerActor, request(agent)) // opens the list both resume
	second, err := issuer.New(ctx, issuer.Config{
		PublicURL: testPublicURL, VCT: config.AgentCertificationVCT, ListSize: 64,
		DefaultValidity: defaultValid, MaxValidity: maxValid,
	}, e.st, e.kr, e.reg, e.resolver, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	const each = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for _, svc := range []*issuer.Service{e.svc, second} {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each / 4 {
					if _, err := svc.Issue(ctx, issuerActor, request(agent), "", nil); err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Issue: %v", err)
	}
	seen := map[string]bool{}
	all, err := e.st.Credentials(ctx, store.CredentialFilter{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2*each+1 {
		t.Fatalf("%d credentials recorded, want %d", len(all), 2*each+1)
	}
	for _, c := range all {
		k := fmt.Sprintf("%s/%d", c.ListID, c.Idx)
		if seen[k] {
			t.Fatalf("index %s given twice", k)
		}
		seen[k] = true
	}
}

func TestIssueApproverCertification(t *testing.T) {
	e := newEnv(t)
	approver, _ := newAgentDID(t, jwa.EdDSA)
	req := issuer.IssueRequest{Subject: approver, VCT: schemas.ApproverV1, Claims: map[string]any{
		"principal": map[string]any{"id": "did:web:acme.example", "name": "ACME"},
		"approver":  map[string]any{"name": "Dana Smith", "role": "Head of Finance"},
	}}
	out := e.mustIssue(issuerActor, req)
	c, _ := e.verify(out.Credential)
	if c["vct"] != schemas.ApproverV1 || c["sub"] != approver || c["status"] == nil {
		t.Fatalf("claims %v", c)
	}
	rec, err := e.svc.Get(context.Background(), out.ID)
	if err != nil || rec.VCT != schemas.ApproverV1 || rec.PrincipalID != "did:web:acme.example" {
		t.Fatalf("record %+v, %v", rec, err)
	}
	audit, err := e.st.Audit(context.Background(), store.AuditFilter{Action: "approver.certify", Target: out.ID})
	if err != nil || len(audit) != 1 || audit[0].Actor != issuerActor.TokenID {
		t.Fatalf("audit entries %+v, %v", audit, err)
	}
	// An approver claim the schema does not know, a disclosable claim, and
	// a type the issuer does not issue are refused.
	bad := req
	bad.Claims = map[string]any{"principal": map[string]any{"id": "did:web:acme.example"}, "approver": map[string]any{"name": "D"}, "permissions": []any{}}
	_, err = e.svc.Issue(context.Background(), issuerActor, bad, "", nil)
	testkit.WantCode(t, err, errcode.SchemaInvalid, "approver credential with permissions")
	bad = req
	bad.SelectivelyDisclosable = []string{"/approver"}
	_, err = e.svc.Issue(context.Background(), issuerActor, bad, "", nil)
	if err == nil {
		t.Fatal("a disclosable approver claim was accepted")
	}
	bad = req
	bad.VCT = "urn:example:other"
	_, err = e.svc.Issue(context.Background(), issuerActor, bad, "", nil)
	testkit.WantCode(t, err, errcode.InvalidInput, "unknown vct")
}
