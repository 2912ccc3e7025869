package issuer_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// t0 is the tests' "now": whole seconds, so that iat is exact.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testIssuer    = "did:web:issuer.example"
	testPublicURL = "https://issuer.example"
	defaultValid  = 720 * time.Hour
	maxValid      = 8784 * time.Hour
)

// env is an issuer wired to a real SQLite store in a temporary directory.
type env struct {
	t        testing.TB
	path     string
	kek      []byte
	st       *store.SQLite
	reg      *schemas.Registry
	clock    *testkit.Clock
	resolver did.Resolver
	kr       *issuer.KeyRing
	svc      *issuer.Service
	statuses *issuer.Statuses
	listSize int
}

type envOption func(*env)

func withListSize(n int) envOption { return func(e *env) { e.listSize = n } }

func withResolver(r did.Resolver) envOption { return func(e *env) { e.resolver = r } }

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	e := &env{
		t:        t,
		path:     filepath.Join(t.TempDir(), "issuer.db"),
		kek:      make([]byte, issuer.KEKSize),
		clock:    testkit.NewClock(t0),
		listSize: config.MinStatusListSize,
		resolver: did.ResolverFunc(func(ctx context.Context, d string) (*did.Document, error) {
			return nil, errcode.New(errcode.DIDResolutionFailed, "no network in tests")
		}),
	}
	for i := range e.kek {
		e.kek[i] = byte(i + 1)
	}
	for _, o := range opts {
		o(e)
	}
	var err error
	if e.reg, err = schemas.New(); err != nil {
		t.Fatal(err)
	}
	if e.st, err = store.Open(context.Background(), e.path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	e.open()
	return e
}

// open (re)opens the key ring, service and status service on the store, as
// a restart would.
func (e *env) open() {
	e.t.Helper()
	ctx := context.Background()
	var err error
	if e.kr, err = issuer.NewKeyRing(ctx, e.st, e.kek, "web", testIssuer, jwa.ES256, e.clock.Now); err != nil {
		e.t.Fatal(err)
	}
	e.svc, err = issuer.New(ctx, issuer.Config{
		PublicURL: testPublicURL, VCT: config.AgentCertificationVCT, ListSize: e.listSize,
		DefaultValidity: defaultValid, MaxValidity: maxValid,
	}, e.st, e.kr, e.reg, e.resolver, e.clock.Now)
	if err != nil {
		e.t.Fatal(err)
	}
	e.statuses = issuer.NewStatuses(e.st, e.kr, e.svc.StatusURI, 2*time.Minute, 24*time.Hour, e.clock.Now)
}

// claims returns a valid set of certification claims.
func claims() map[string]any {
	return map[string]any{
		"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
		"agent":        map[string]any{"class": "accounts-payable-assistant", "version": "1.4.0"},
		"permissions":  []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}},
		"prohibitions": []any{"payments:initiate"},
		"autonomy":     "supervised",
	}
}

// newAgentDID returns a fresh agent did:key (alg ES256 or EdDSA) and its public key.
func newAgentDID(t testing.TB, alg jwa.SignatureAlgorithm) (string, jwk.Key) {
	t.Helper()
	k, d := testkeys.DIDKey(t, alg)
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return d, pub
}

// newWebAgent is a did:web agent with one ES256 key (kid key-1): its DID
// document and its public key.
func newWebAgent(t testing.TB, id string) (*did.Document, jwk.Key) {
	t.Helper()
	k, err := keyutil.Generate(jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := keyutil.Public(k)
	_ = pub.Set(jwk.KeyIDKey, "key-1")
	doc, err := did.NewWebDocument(id, []jwk.Key{pub})
	if err != nil {
		t.Fatal(err)
	}
	return doc, pub
}

func request(subject string) issuer.IssueRequest {
	return issuer.IssueRequest{Subject: subject, Claims: claims(), SelectivelyDisclosable: []string{"/permissions/*"}}
}

var issuerActor = issuer.Actor{TokenID: "tok-issuer-a", Role: tokens.RoleIssuer}

// mustIssue issues req and fails the test on error.
func (e *env) mustIssue(actor issuer.Actor, req issuer.IssueRequest) *issuer.Issued {
	e.t.Helper()
	out, err := e.svc.Issue(context.Background(), actor, req, "", nil)
	if err != nil {
		e.t.Fatalf("issue: %v", err)
	}
	return out
}

// verify checks the credential's signature with the key ring's published
// keys and returns its processed claims and protected header.
func (e *env) verify(cred string) (claims, header map[string]any) {
	e.t.Helper()
	res, err := sdjwt.Verify(context.Background(), cred, sdjwt.VerifyOptions{
		IssuerKey: publishedKey(e.kr),
		Now:       e.clock.Now,
	})
	if err != nil {
		e.t.Fatalf("issued credential does not verify: %v", err)
	}
	return res.Claims, res.Header
}

// publishedKey finds the key ring's published key named by the header's kid.
func publishedKey(kr *issuer.KeyRing) sdjwt.KeyFunc {
	return func(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
		if iss != kr.Issuer() {
			return nil, errcode.New(errcode.UntrustedIssuer, "iss %q", iss)
		}
		for _, k := range kr.PublicKeys() {
			if k.KeyID() == hdr.KeyID() {
				return k, nil
			}
		}
		return nil, errcode.New(errcode.KeyNotFound, "kid %q not published", hdr.KeyID())
	}
}

// thumbprint of a key, for comparing keys whatever their kid and alg.
func thumbprint(t testing.TB, k jwk.Key) string {
	t.Helper()
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return string(tp)
}

// cnfKey returns the cnf.jwk of processed claims as a key.
func cnfKey(t testing.TB, c map[string]any) jwk.Key {
	t.Helper()
	cnf, _ := c["cnf"].(map[string]any)
	b, err := json.Marshal(cnf["jwk"])
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.ParseKey(b)
	if err != nil {
		t.Fatalf("cnf.jwk %s: %v", b, err)
	}
	return k
}

// countFor returns how many credential records the store has for subject.
func (e *env) countFor(subject string) int {
	e.t.Helper()
	cs, err := e.st.Credentials(context.Background(), store.CredentialFilter{Subject: subject, Limit: store.MaxLimit})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(cs)
}

var errNoNetwork = errors.New("no network")

// sdjwtVerify verifies cred against the key ring's published keys.
func sdjwtVerify(e *env, cred string) (map[string]any, error) {
	res, err := sdjwt.Verify(context.Background(), cred, sdjwt.VerifyOptions{IssuerKey: publishedKey(e.kr), Now: e.clock.Now})
	if err != nil {
		return nil, err
	}
	return res.Claims, nil
}

func decodeB64(t testing.TB, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
