package oid4vci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/store/postgres"
	"github.com/agentcert/agentcert/internal/testsvc"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/oid4vci"
	"github.com/agentcert/agentcert/verifier"
)

const testAud = "https://issuer.example"

// countingIssuer accepts every request and counts the credentials issued.
type countingIssuer struct{ n atomic.Int64 }

func (c *countingIssuer) Check(context.Context, issuer.IssueRequest) error { return nil }

func (c *countingIssuer) Issue(context.Context, issuer.Actor, issuer.IssueRequest, string, []byte) (*issuer.Issued, error) {
	c.n.Add(1)
	return &issuer.Issued{Credential: "credential"}, nil
}

// node is one issuer node: its own connection to the shared state, the
// secrets every node shares.
func node(t *testing.T, st oid4vci.State, iss oid4vci.Issuer) *oid4vci.Service {
	t.Helper()
	nonces, err := verifier.NewNonces([][]byte{bytes.Repeat([]byte{1}, 32)}, oid4vci.DefaultProofMaxAge, nil, verifier.WithDurableSpending())
	if err != nil {
		t.Fatal(err)
	}
	s, err := oid4vci.New(oid4vci.Config{CredentialIssuer: testAud, VCT: "urn:test:v1", Secret: bytes.Repeat([]byte{2}, 32)}, st, iss, nonces, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var offerClaims = map[string]any{"principal": map[string]any{"id": "did:web:acme.example"}}

// race runs fn(i) for i < n at once and returns the error codes they got
// ("" for success).
func race(n int, fn func(i int) error) map[errcode.Code]int {
	var mu sync.Mutex
	got := map[errcode.Code]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := fn(i)
			mu.Lock()
			got[errcode.CodeOf(err)]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}

func proofFor(t *testing.T, nonce string) string {
	t.Helper()
	k, err := keyutil.Generate(jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	p, err := oid4vci.SignProof(k, testAud, nonce, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func credentialBody(proofs ...string) []byte {
	b, _ := json.Marshal(map[string]any{"credential_configuration_id": oid4vci.DefaultConfigurationID, "proofs": map[string]any{"jwt": proofs}})
	return b
}

// runConcurrency holds the single-use properties of the flow under
// concurrent requests spread over the nodes.
func runConcurrency(t *testing.T, nodes []*oid4vci.Service, iss *countingIssuer) {
	ctx := context.Background()
	const n = 12
	at := func(i int) *oid4vci.Service { return nodes[i%len(nodes)] }
	form := func(code string, kv ...string) url.Values {
		v := url.Values{"grant_type": {oid4vci.GrantPreAuthorizedCode}, "pre-authorized_code": {code}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	offer := func(req oid4vci.OfferRequest) *oid4vci.CreatedOffer {
		t.Helper()
		req.Claims = offerClaims
		o, err := nodes[0].CreateOffer(ctx, issuer.Actor{TokenID: "tok", Role: "issuer"}, req)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	token := func(o *oid4vci.CreatedOffer) string {
		t.Helper()
		tok, err := nodes[0].Token(ctx, form(o.CredentialOffer.Grants.PreAuthorizedCode.Code))
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	nonce := func() string {
		t.Helper()
		r, err := nodes[0].Nonce()
		if err != nil {
			t.Fatal(err)
		}
		return r.CNonce
	}

	t.Run("CodeRedeemedOnce", func(t *testing.T) {
		o := offer(oid4vci.OfferRequest{})
		code := o.CredentialOffer.Grants.PreAuthorizedCode.Code
		got := race(n, func(i int) error { _, err := at(i).Token(ctx, form(code)); return err })
		if got[""] != 1 || got[errcode.CodeUsed] != n-1 {
			t.Fatalf("concurrent redemptions of one code: %v, want one token and %d pre_authorized_code_used", got, n-1)
		}
	})

	t.Run("TxCodeAttemptsCounted", func(t *testing.T) {
		o := offer(oid4vci.OfferRequest{TxCode: &oid4vci.TxCode{}})
		code := o.CredentialOffer.Grants.PreAuthorizedCode.Code
		wrong := "000000"
		if o.TxCode == wrong {
			wrong = "111111"
		}
		got := race(n, func(i int) error { _, err := at(i).Token(ctx, form(code, "tx_code", wrong)); return err })
		if got[errcode.TxCodeWrong] != oid4vci.DefaultMaxTxCodeAttempts-1 || got[errcode.TxCodeAttemptsExceeded] != n-oid4vci.DefaultMaxTxCodeAttempts+1 {
			t.Fatalf("concurrent wrong tx_codes: %v, want %d tx_code_wrong and the rest tx_code_attempts_exceeded", got, oid4vci.DefaultMaxTxCodeAttempts-1)
		}
		if _, err := at(1).Token(ctx, form(code, "tx_code", o.TxCode)); errcode.CodeOf(err) != errcode.TxCodeAttemptsExceeded {
			t.Fatalf("the right tx_code after the lock: %v", err)
		}
	})

	t.Run("AccessTokenUsedOnce", func(t *testing.T) {
		tok := token(offer(oid4vci.OfferRequest{}))
		before := iss.n.Load()
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = credentialBody(proofFor(t, nonce()))
		}
		got := race(n, func(i int) error { _, err := at(i).Credential(ctx, tok, bodies[i]); return err })
		if got[""] != 1 || got[errcode.InvalidToken] != n-1 || iss.n.Load()-before != 1 {
			t.Fatalf("concurrent credential requests on one access token: %v, %d issued; want one", got, iss.n.Load()-before)
		}
	})

	t.Run("NonceSpentOnce", func(t *testing.T) {
		c := nonce()
		toks := make([]string, n)
		bodies := make([][]byte, n)
		for i := range toks {
			toks[i] = token(offer(oid4vci.OfferRequest{}))
			bodies[i] = credentialBody(proofFor(t, c))
		}
		got := race(n, func(i int) error { _, err := at(i).Credential(ctx, toks[i], bodies[i]); return err })
		if got[""] != 1 || got[errcode.NonceReplayed] != n-1 {
			t.Fatalf("one c_nonce on %d access tokens at once: %v, want one success and the rest nonce_replayed", n, got)
		}
	})
}

// makerToken stores the issuer token "tok" the offers are made with: an
// offer issues only while the token that made it is not revoked.
func makerToken(t *testing.T, st store.Store) {
	t.Helper()
	if err := st.CreateToken(context.Background(), store.Token{ID: "tok", Role: "issuer", Hash: []byte("tok-hash")}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrencySQLite: pre-authorized codes, transaction code attempts,
// access tokens and c_nonces hold under concurrent requests on SQLite.
func TestConcurrencySQLite(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "agentcert.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	makerToken(t, st)
	iss := &countingIssuer{}
	runConcurrency(t, []*oid4vci.Service{node(t, st, iss)}, iss)
}

// TestConcurrencyPostgres is TestConcurrencySQLite on PostgreSQL, with the
// requests spread over three nodes, each with its own connection pool.
func TestConcurrencyPostgres(t *testing.T) {
	url := testsvc.Schema(t, testsvc.Postgres(t))
	iss := &countingIssuer{}
	var nodes []*oid4vci.Service
	for range 3 {
		st, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if len(nodes) == 0 {
			makerToken(t, st)
		}
		nodes = append(nodes, node(t, st, iss))
	}
	runConcurrency(t, nodes, iss)
}
