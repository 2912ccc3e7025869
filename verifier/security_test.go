package verifier

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// secFixture is an issuer, an agent and a verifier that trusts the issuer,
// checks no status and may have Nonces.
type secFixture struct {
	t      *testing.T
	iss    jwk.Key
	issDID string
	agent  jwk.Key
	sub    string
	now    time.Time
}

func newSecFixture(t *testing.T) *secFixture {
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	agent, sub := testkeys.DIDKey(t, jwa.EdDSA)
	return &secFixture{t: t, iss: iss, issDID: issDID, agent: agent, sub: sub, now: time.Now()}
}

func (f *secFixture) claims(holder jwk.Key) map[string]any {
	f.t.Helper()
	cnf := testkeys.PublicJWK(f.t, holder)
	return map[string]any{
		"iss": f.issDID, "vct": schemas.AgentCertificationV1, "iat": f.now.Unix(), "exp": f.now.Add(time.Hour).Unix(),
		"sub": f.sub, "cnf": map[string]any{"jwk": cnf},
		"permissions":  []any{map[string]any{"action": "payments:initiate"}},
		"prohibitions": []any{}, "task": nil,
	}
}

func (f *secFixture) verifier(p Policy, nonces *Nonces) *Verifier {
	f.t.Helper()
	p.Trusted[f.issDID] = []string{schemas.AgentCertificationV1}
	p.CheckStatus = false
	opts := []Option{WithResolver(did.NewResolver(nil)), WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
		return nil, errors.New("no network in this test")
	})}
	if nonces != nil {
		opts = append(opts, WithNonces(nonces))
	}
	v, err := New(p, opts...)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *secFixture) present(claims map[string]any, sd, disclose []string, holder jwk.Key, nonce string) string {
	f.t.Helper()
	cred, err := sdjwt.Issue(claims, sd, f.iss, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	var kb *sdjwt.KBOptions
	if holder != nil {
		kb = &sdjwt.KBOptions{Key: holder, Audience: "https://verifier.example", Nonce: nonce, IssuedAt: f.now}
	}
	pres, err := sdjwt.Present(cred, disclose, kb)
	if err != nil {
		f.t.Fatal(err)
	}
	return pres
}

func wantResult(t *testing.T, what string, r *Result, code errcode.Code) {
	t.Helper()
	if code == "" {
		if !r.Verified {
			t.Fatalf("%s: not verified: %+v", what, r.Error)
		}
		return
	}
	if r.Verified || r.Code() != code {
		t.Fatalf("%s: verified=%v %+v, want %s", what, r.Verified, r.Error, code)
	}
}

// TestSec01SubjectKeyBinding: a credential whose did:key or did:jwk subject
// is not its cnf.jwk is refused (subject_key_mismatch), even when the key
// binding verifies with the holder's own key: a victim's DID cannot be
// claimed with an attacker's key.
func TestSec01SubjectKeyBinding(t *testing.T) {
	f := newSecFixture(t)
	v := f.verifier(DefaultPolicy(), nil)
	attacker, _ := testkeys.DIDKey(t, jwa.ES256)
	good := f.present(f.claims(f.agent), nil, nil, f.agent, "n")
	wantResult(t, "subject's own key", v.Verify(context.Background(), Request{Presentation: good, Audience: "https://verifier.example", Nonce: "n"}), "")

	stolen := f.present(f.claims(attacker), nil, nil, attacker, "n")
	r := v.Verify(context.Background(), Request{Presentation: stolen, Audience: "https://verifier.example", Nonce: "n"})
	wantResult(t, "did:key victim, attacker's cnf", r, errcode.SubjectKeyMismatch)

	// did:jwk subjects are held to the same rule.
	pub, _ := keyutil.Public(f.agent)
	jwkDID, err := did.JWKDID(pub)
	if err != nil {
		t.Fatal(err)
	}
	c := f.claims(attacker)
	c["sub"] = jwkDID
	r = v.Verify(context.Background(), Request{Presentation: f.present(c, nil, nil, attacker, "n"), Audience: "https://verifier.example", Nonce: "n"})
	wantResult(t, "did:jwk victim, attacker's cnf", r, errcode.SubjectKeyMismatch)
	c = f.claims(f.agent)
	c["sub"] = jwkDID
	r = v.Verify(context.Background(), Request{Presentation: f.present(c, nil, nil, f.agent, "n"), Audience: "https://verifier.example", Nonce: "n"})
	wantResult(t, "did:jwk subject, its own key", r, "")

	// Without key binding the mismatch is refused all the same.
	p := DefaultPolicy()
	p.RequireKB = false
	r = f.verifier(p, nil).Verify(context.Background(), Request{Presentation: f.present(f.claims(attacker), nil, nil, nil, "")})
	wantResult(t, "no KB, attacker's cnf", r, errcode.SubjectKeyMismatch)
}

// TestSec02OwnNoncesSingleUseWhateverRequireNonce: with require_nonce off
// (the shipped dev and verifier-only configs), a nonce this verifier
// minted is still single-use; a foreign nonce the caller names is still
// accepted, as many times as the caller asks.
func TestSec02OwnNoncesSingleUseWhateverRequireNonce(t *testing.T) {
	f := newSecFixture(t)
	nonces, err := NewNonces(nil, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := DefaultPolicy()
	p.RequireNonce = false
	v := f.verifier(p, nonces)
	ours, _, _ := nonces.Issue()
	pres := f.present(f.claims(f.agent), nil, nil, f.agent, ours)
	req := Request{Presentation: pres, Audience: "https://verifier.example", Nonce: ours}
	wantResult(t, "first use", v.Verify(context.Background(), req), "")
	wantResult(t, "replay", v.Verify(context.Background(), req), errcode.NonceReplayed)
	req.Nonce = "" // the caller need not repeat our nonce for it to be spent
	wantResult(t, "replay without naming the nonce", v.Verify(context.Background(), req), errcode.NonceReplayed)

	foreign := f.present(f.claims(f.agent), nil, nil, f.agent, "caller-nonce-1")
	freq := Request{Presentation: foreign, Audience: "https://verifier.example", Nonce: "caller-nonce-1"}
	wantResult(t, "foreign nonce", v.Verify(context.Background(), freq), "")
	wantResult(t, "foreign nonce again (the caller's business)", v.Verify(context.Background(), freq), "")
	freq.Nonce = ""
	wantResult(t, "foreign nonce not named", v.Verify(context.Background(), freq), errcode.KBWrongNonce)

	// An expired nonce of ours is refused even with require_nonce off: once
	// it has left the spent set, accepting it would allow a replay.
	clock := time.Now()
	short, _ := NewNonces(nil, time.Second, func() time.Time { return clock })
	v2 := f.verifier(p, short)
	n, _, _ := short.Issue()
	clock = clock.Add(2 * time.Second)
	r := v2.Verify(context.Background(), Request{Presentation: f.present(f.claims(f.agent), nil, nil, f.agent, n), Audience: "https://verifier.example", Nonce: n})
	wantResult(t, "expired own nonce", r, errcode.NonceExpired)
}

// TestSec03RestartCannotReviveSpentNonce: with fixed nonce secrets, a
// nonce spent before a restart does not verify after it: the in-memory
// spent set is gone, and so is the epoch the nonce was minted under.
func TestSec03RestartCannotReviveSpentNonce(t *testing.T) {
	secrets := [][]byte{[]byte("fixed-secret-0123456789")}
	before, err := NewNonces(secrets, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, _, _ := before.Issue()
	if err := before.Check(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	after, _ := NewNonces(secrets, time.Minute, nil) // the restarted process
	if c := errcode.CodeOf(after.Check(context.Background(), n)); c != errcode.NonceExpired {
		t.Fatalf("a spent nonce after a restart: %q, want nonce_expired", c)
	}
	fresh, _, _ := after.Issue()
	if err := after.Check(context.Background(), fresh); err != nil {
		t.Fatalf("a nonce of the new process: %v", err)
	}
	// A caller that records spent nonces in durable storage itself (Open)
	// gets nonces without an epoch: they survive the restart.
	d1, _ := NewNonces(secrets, time.Minute, nil, WithDurableSpending())
	d, _, _ := d1.Issue()
	d2, _ := NewNonces(secrets, time.Minute, nil, WithDurableSpending())
	if _, _, err := d2.Open(d); err != nil {
		t.Fatalf("WithDurableSpending: a nonce after a restart: %v", err)
	}
	// A store that outlives the process carries no epoch: replicas and
	// restarts share it, and it remembers what was spent.
	shared := &recordingStore{seen: map[string]bool{}}
	a, _ := NewNonces(secrets, time.Minute, nil, WithSpentStore(shared))
	b, _ := NewNonces(secrets, time.Minute, nil, WithSpentStore(shared))
	m, _, _ := a.Issue()
	if err := b.Check(context.Background(), m); err != nil {
		t.Fatalf("a shared store across replicas: %v", err)
	}
	if c := errcode.CodeOf(a.Check(context.Background(), m)); c != errcode.NonceReplayed {
		t.Fatalf("replay on the other replica: %q", c)
	}
}

type recordingStore struct {
	seen map[string]bool
	err  error
}

func (s *recordingStore) Spend(_ context.Context, id string, _ time.Time) (bool, error) {
	if s.err != nil {
		return false, s.err
	}
	if s.seen[id] {
		return false, nil
	}
	s.seen[id] = true
	return true, nil
}

// TestSec04SpentStoreFailsClosed: a store that cannot answer refuses the
// nonce (nonce_store_unavailable), and the presentation does not verify.
func TestSec04SpentStoreFailsClosed(t *testing.T) {
	f := newSecFixture(t)
	store := &recordingStore{seen: map[string]bool{}, err: errors.New("connection refused")}
	nonces, _ := NewNonces(nil, time.Minute, nil, WithSpentStore(store))
	n, _, _ := nonces.Issue()
	if c := errcode.CodeOf(nonces.Check(context.Background(), n)); c != errcode.NonceStoreUnavailable {
		t.Fatalf("store error: %q", c)
	}
	v := f.verifier(DefaultPolicy(), nonces)
	r := v.Verify(context.Background(), Request{Presentation: f.present(f.claims(f.agent), nil, nil, f.agent, n), Audience: "https://verifier.example", Nonce: n})
	wantResult(t, "store down", r, errcode.NonceStoreUnavailable)
	store.err = nil
	r = v.Verify(context.Background(), Request{Presentation: f.present(f.claims(f.agent), nil, nil, f.agent, n), Audience: "https://verifier.example", Nonce: n})
	wantResult(t, "store back: the nonce was never spent", r, "")
}

// TestSec04MemorySpentStoreExpiresInOrder: entries leave the set when
// their second has passed, never before, whatever order they were spent
// in; a full set of live entries refuses (rate_limited).
func TestSec04MemorySpentStoreExpiresInOrder(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := NewMemorySpentStore(4, func() time.Time { return now })
	ctx := context.Background()
	for i, exp := range []time.Duration{30 * time.Second, 10 * time.Second, 20*time.Second + time.Millisecond, 10 * time.Second} {
		if fresh, err := m.Spend(ctx, strconv.Itoa(i), now.Add(exp)); !fresh || err != nil {
			t.Fatalf("spend %d: %v %v", i, fresh, err)
		}
	}
	if _, err := m.Spend(ctx, "x", now.Add(time.Minute)); errcode.CodeOf(err) != errcode.RateLimited {
		t.Fatalf("full set: %v", err)
	}
	if fresh, _ := m.Spend(ctx, "1", now.Add(10*time.Second)); fresh {
		t.Fatal("a spent id was fresh again")
	}
	now = now.Add(10 * time.Second) // ids 1 and 3 expire
	if fresh, err := m.Spend(ctx, "x", now.Add(time.Minute)); !fresh || err != nil || m.Len() != 3 {
		t.Fatalf("after expiry: %v %v len %d", fresh, err, m.Len())
	}
	now = now.Add(10 * time.Second) // id 2 expires at +20.001s: not yet
	if fresh, _ := m.Spend(ctx, "2", now.Add(time.Second)); fresh {
		t.Fatal("an entry was dropped before it expired")
	}
	now = now.Add(time.Second)
	if fresh, _ := m.Spend(ctx, "2", now.Add(time.Second)); !fresh {
		t.Fatal("an expired entry was kept")
	}
	if fresh, err := m.Spend(ctx, "past", now.Add(-time.Second)); !fresh || err != nil {
		t.Fatalf("an already expired id: %v %v", fresh, err)
	}
	if m.Epoch() == 0 || m.Epoch() == NewMemorySpentStore(1, nil).Epoch() {
		t.Fatal("epochs must be random and non-zero")
	}
}

// TestSec13TaskCannotBeWithheld: task, like prohibitions, is a restricting
// claim: a credential whose task was made selectively disclosable is
// refused whether the holder shows it or withholds it, and one without
// task verifies only when nothing at the top level is withheld.
func TestSec13TaskCannotBeWithheld(t *testing.T) {
	f := newSecFixture(t)
	p := DefaultPolicy()
	p.RequireKB = false
	v := f.verifier(p, nil)
	scoped := f.claims(f.agent)
	scoped["task"] = map[string]any{"id": "t-1", "expires": f.now.Add(-time.Minute).Unix()}
	scoped["principal"] = map[string]any{"id": "did:web:acme.example", "name": "ACME"}
	nulled := f.claims(f.agent)
	nulled["principal"] = map[string]any{"id": "did:web:acme.example", "name": "ACME"}
	for name, tc := range map[string]struct {
		claims       map[string]any
		sd, disclose []string
		code         errcode.Code
	}{
		"task withheld":                 {scoped, []string{"/task"}, nil, errcode.MissingClaim},
		"task disclosed but SD":         {scoped, []string{"/task"}, []string{""}, errcode.MissingClaim},
		"task expiry withheld":          {scoped, []string{"/task/expires"}, nil, errcode.MissingClaim},
		"task in clear":                 {scoped, nil, nil, ""},
		"task null, principal withheld": {nulled, []string{"/principal"}, nil, ""},
	} {
		t.Run(name, func(t *testing.T) {
			r := v.Verify(context.Background(), Request{Presentation: f.present(tc.claims, tc.sd, tc.disclose, nil, ""), Action: "payments:initiate"})
			wantResult(t, name, r, tc.code)
			if tc.code == "" && (tc.claims["task"] != nil) == r.Decision.Allowed {
				t.Fatalf("decision %+v: an expired task must deny, task null must not", r.Decision)
			}
		})
	}
	// No task claim at all: acceptable only when nothing is withheld.
	bare := f.claims(f.agent)
	delete(bare, "task")
	bare["principal"] = map[string]any{"id": "did:web:acme.example", "name": "ACME"}
	wantResult(t, "no task, nothing withheld", v.Verify(context.Background(), Request{Presentation: f.present(bare, []string{"/principal"}, []string{"/principal"}, nil, "")}), "")
	wantResult(t, "no task, principal withheld", v.Verify(context.Background(), Request{Presentation: f.present(bare, []string{"/principal"}, nil, nil, "")}), errcode.MissingClaim)
}
