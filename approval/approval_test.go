package approval

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

const (
	principal = "did:web:acme.example"
	agent     = "did:key:z6MkAgent"
	aud       = "https://shop.example"
)

func pay(amount int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"amount": amount, "currency": "EUR", "counterparty": "shop.example"})
	return b
}

func TestVerifyCodes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	priv, pub := testkeys.Pair(t, jwa.EdDSA, "alice")
	otherPriv, otherPub := testkeys.Pair(t, jwa.EdDSA, "mallory")
	roster := Roster{principal: {pub}, "did:web:other.example": {otherPub}}
	req, err := NewRequest("payments.create", pay(250), aud, principal, agent, 5*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	good, err := Sign(req, "mailto:alice@acme.example", priv, "", now)
	if err != nil {
		t.Fatal(err)
	}
	want := Expect{Action: "payments.create", Params: pay(250), Audience: aud, Principal: principal, Subject: agent}

	// Member order and number spelling do not change the digest (JCS).
	reordered := want
	reordered.Params = json.RawMessage(`{"currency":"EUR","counterparty":"shop.example","amount":250.0}`)

	byOther, _ := Sign(req, "mailto:mallory@other.example", otherPriv, "", now)
	forged := good[:len(good)-4] + "AAAA"
	if forged == good {
		t.Fatal("forgery equals original")
	}
	shortReq := req
	shortReq.Expiry = now.Add(time.Minute).Unix()
	short, _ := Sign(shortReq, "mailto:alice@acme.example", priv, "", now)

	cases := []struct {
		name  string
		token string
		want  Expect
		now   time.Time
		code  errcode.Code
	}{
		{"substituted amount", good, func() Expect { w := want; w.Params = pay(900); return w }(), now, errcode.ApprovalDigestMismatch},
		{"other action", good, func() Expect { w := want; w.Action = "payments.refund"; return w }(), now, errcode.ApprovalDigestMismatch},
		{"wrong audience", good, func() Expect { w := want; w.Audience = "https://evil.example"; return w }(), now, errcode.ApprovalWrongAudience},
		{"other agent", good, func() Expect { w := want; w.Subject = "did:key:z6MkOther"; return w }(), now, errcode.ApprovalUnauthorized},
		{"other principal", good, func() Expect { w := want; w.Principal = "did:web:other.example"; return w }(), now, errcode.ApprovalUnauthorized},
		{"key of another principal", byOther, want, now, errcode.ApprovalUnauthorized},
		{"bad signature", forged, want, now, errcode.ApprovalBadSignature},
		{"expired", short, want, now.Add(2 * time.Minute), errcode.ApprovalExpired},
		{"garbage", "not-a-jwt", want, now, errcode.ApprovalMalformed},
		{"too large", string(make([]byte, MaxTokenSize+1)), want, now, errcode.TooLarge},
	}
	replay := spent{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(context.Background(), tc.token, tc.want, roster, replay, tc.now)
			if got := errcode.CodeOf(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
		})
	}
	// Refusals above did not burn the nonce: the right request passes once.
	c, err := Verify(context.Background(), good, reordered, roster, replay, now)
	if err != nil {
		t.Fatalf("valid approval refused: %v", err)
	}
	if c.Issuer != "mailto:alice@acme.example" || c.Digest != req.Digest {
		t.Fatalf("claims %+v", c)
	}
	if _, err := Verify(context.Background(), good, want, roster, replay, now); errcode.CodeOf(err) != errcode.ApprovalReplayed {
		t.Fatalf("second use: %v, want approval_replayed", err)
	}
}

func TestWrongTyp(t *testing.T) {
	// A JWT with another typ (for example a KB-JWT) is never an approval.
	priv, _ := testkeys.Pair(t, jwa.EdDSA, "alice")
	now := time.Unix(1_800_000_000, 0)
	req, _ := NewRequest("a", nil, aud, principal, agent, time.Minute, now)
	tok, err := Sign(req, "x", priv, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Parse(tok); err != nil {
		t.Fatal(err)
	}
	other, err := signRaw(priv, "kb+jwt", tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Parse(other); errcode.CodeOf(err) != errcode.ApprovalMalformed {
		t.Fatalf("wrong typ: %v", err)
	}
}

func TestSignRefusesExpiredRequest(t *testing.T) {
	priv, _ := testkeys.Pair(t, jwa.EdDSA, "alice")
	now := time.Unix(1_800_000_000, 0)
	req, _ := NewRequest("a", nil, aud, principal, agent, time.Minute, now)
	if _, err := Sign(req, "x", priv, "", now.Add(time.Hour)); errcode.CodeOf(err) != errcode.ApprovalExpired {
		t.Fatalf("got %v", err)
	}
	if _, err := NewRequest("", nil, aud, principal, agent, time.Minute, now); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("got %v", err)
	}
	if _, err := NewRequest("a", json.RawMessage(`{`), aud, principal, agent, time.Minute, now); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	priv, _ := testkeys.Pair(f, jwa.EdDSA, "alice")
	now := time.Unix(1_800_000_000, 0)
	req, _ := NewRequest("payments.create", pay(250), aud, principal, agent, time.Minute, now)
	tok, _ := Sign(req, "x", priv, "", now)
	f.Add(tok)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		c, _, err := Parse(s)
		if err == nil && (c.Digest == "" || c.Nonce == "") {
			t.Fatalf("accepted approval without digest or nonce: %q", s)
		}
		if err != nil && errcode.CodeOf(err) == errcode.Internal {
			t.Fatalf("internal error for client input: %v", err)
		}
	})
}

func TestParseRequest(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	req, err := NewRequest("payments:initiate", pay(250), aud, principal, agent, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(req)
	got, err := ParseRequest(b)
	if err != nil || got.Digest != req.Digest {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if d := Describe(got); !strings.Contains(d, "250 EUR") || !strings.Contains(d, "shop.example") || !strings.Contains(d, "payments:initiate") {
		t.Fatalf("description does not say what is approved:\n%s", d)
	}
	// Params changed under the same digest: what would be shown is not
	// what would be signed.
	tampered := req
	tampered.Params = pay(25)
	tb, _ := json.Marshal(tampered)
	if _, err := ParseRequest(tb); errcode.CodeOf(err) != errcode.ApprovalDigestMismatch {
		t.Fatalf("tampered params: %v", err)
	}
	priv, _ := testkeys.Pair(t, jwa.EdDSA, "alice")
	if _, err := Sign(tampered, "x", priv, "", now); errcode.CodeOf(err) != errcode.ApprovalDigestMismatch {
		t.Fatalf("signing a tampered request: %v", err)
	}
	for name, in := range map[string]string{
		"unknown member": `{"action":"a:b","digest":"x","aud":"a","nonce":"n","exp":1,"principal":"p","sub":"s","extra":1}`,
		"no nonce":       strings.Replace(string(b), `"nonce"`, `"nonce_"`, 1),
		"too large":      string(make([]byte, MaxRequestSize+1)),
		"not JSON":       "{",
	} {
		if _, err := ParseRequest([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDigestNormalizesParams(t *testing.T) {
	a, _ := Digest("a:b", nil)
	b, _ := Digest("a:b", map[string]any{})
	c, _ := Digest("a:b", json.RawMessage("null"))
	d, _ := Digest("a:b", map[string]any{"amount": 1})
	if a != b || a != c || a == d {
		t.Fatalf("digests %s %s %s %s", a, b, c, d)
	}
	e, _ := Digest("a:b", map[string]any{"amount": json.Number("1.0")})
	if d != e {
		t.Fatalf("1 and 1.0 differ: %s %s", d, e)
	}
}

func FuzzParseRequest(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	req, _ := NewRequest("payments:initiate", pay(250), aud, principal, agent, time.Minute, now)
	b, _ := json.Marshal(req)
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"action":"a:b","params":[1e400]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseRequest(in)
		if err != nil {
			if errcode.CodeOf(err) == errcode.Internal {
				t.Fatalf("internal error for client input: %v", err)
			}
			return
		}
		var params any
		if len(r.Params) > 0 {
			params = r.Params
		}
		if d, err := Digest(r.Action, params); err != nil || d != r.Digest {
			t.Fatalf("accepted a request whose digest is not its own: %q", in)
		}
	})
}

// TestSignAlgorithmFromKey: the algorithm comes from jose.SigningAlg, the
// mapping every signer uses: ES256 only for a P-256 key, EdDSA for
// Ed25519; a P-384 or P-521 key (which the old type-only mapping labelled
// ES256), a public key or an HMAC key signs nothing.
func TestSignAlgorithmFromKey(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	req, _ := NewRequest("a", nil, aud, principal, agent, time.Minute, now)
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		tok, err := Sign(req, "x", testkeys.New(t, alg, "k"), "", now)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if _, h, err := Parse(tok); err != nil || h.Algorithm() != alg {
			t.Fatalf("%s: header alg %v, %v", alg, h, err)
		}
	}
	ecKey := func(c elliptic.Curve, alg jwa.SignatureAlgorithm) jwk.Key {
		raw, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := jwk.FromRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		_ = k.Set(jwk.KeyIDKey, "k")
		if alg != "" {
			_ = k.Set(jwk.AlgorithmKey, alg)
		}
		return k
	}
	_, pub := testkeys.Pair(t, jwa.ES256, "k")
	for _, tc := range []struct {
		name string
		key  jwk.Key
		code errcode.Code
	}{
		{"P-384 without alg", ecKey(elliptic.P384(), ""), errcode.InvalidInput},
		{"P-384 labelled ES384", ecKey(elliptic.P384(), jwa.ES384), errcode.UnsupportedAlg},
		{"P-521 without alg", ecKey(elliptic.P521(), ""), errcode.InvalidInput},
		{"P-384 labelled ES256", ecKey(elliptic.P384(), jwa.ES256), errcode.InvalidInput},
		{"public key", pub, errcode.InvalidInput},
		{"HMAC", testkeys.New(t, jwa.HS256, "k"), errcode.UnsupportedAlg},
	} {
		tok, err := Sign(req, "x", tc.key, "", now)
		if tok != "" || errcode.CodeOf(err) != tc.code {
			t.Errorf("%s: Sign = %q, %v; want no token, %s", tc.name, tok, err, tc.code)
		}
	}
	// An approver key on the roster that does not fit the token's alg is
	// refused before any signature check.
	tok, err := Sign(req, "x", testkeys.New(t, jwa.ES256, "k"), "", now)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecKey(elliptic.P384(), "").PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	want := Expect{Action: "a", Audience: aud, Principal: principal, Subject: agent}
	if _, err := Verify(context.Background(), tok, want, Roster{principal: {p384}}, spent{}, now); errcode.CodeOf(err) != errcode.ApprovalBadSignature || !strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("P-384 roster key for an ES256 approval: %v", err)
	}
}

// TestCriticalHeaderRefused: an approval whose protected header names
// critical extensions (crit), or asks for an unencoded payload (b64,
// RFC 7797), is not one this verifier understands; it is refused, as
// every other JWT of the service is, rather than verified with the
// extension ignored.
func TestCriticalHeaderRefused(t *testing.T) {
	priv, pub := testkeys.Pair(t, jwa.EdDSA, "alice")
	now := time.Unix(1_800_000_000, 0)
	req, _ := NewRequest("payments:initiate", pay(250), aud, principal, agent, time.Minute, now)
	good, err := Sign(req, "x", priv, "", now)
	if err != nil {
		t.Fatal(err)
	}
	_, h, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := Expect{Action: req.Action, Params: pay(250), Audience: aud, Principal: principal, Subject: agent}
	for name, extra := range map[string]map[string]any{
		"crit": {"crit": []string{"only_if_human"}, "only_if_human": true},
		"b64":  {"b64": true},
	} {
		hdr := map[string]any{jws.TypeKey: Typ, jws.KeyIDKey: h.KeyID()}
		for k, v := range extra {
			hdr[k] = v
		}
		tok, err := jose.Sign(payload.Payload(), jwa.EdDSA, priv, hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := Parse(string(tok)); errcode.CodeOf(err) != errcode.ApprovalMalformed {
			t.Errorf("%s: Parse: %v, want approval_malformed", name, err)
		}
		if _, err := Verify(context.Background(), string(tok), want, Roster{principal: {pub}}, spent{}, now); errcode.CodeOf(err) != errcode.ApprovalMalformed {
			t.Errorf("%s: Verify: %v, want approval_malformed", name, err)
		}
	}
}

// TestDescribeShowsControlCharactersEscaped: what the approver is shown
// comes from whoever made the request (the agent's request attributes, a
// link); a terminal control sequence or a bidirectional override in it
// could redraw or reorder the lines above it (the amount) and show the
// approver something other than what is signed. Describe escapes every
// character that is not printable.
func TestDescribeShowsControlCharactersEscaped(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	params, _ := json.Marshal(map[string]any{"amount": 9000, "currency": "EUR\u202e",
		"counterparty": "shop.example\x1b[1A\x1b[2K  amount:        90 EUR\x1b[8m", "memo": "\u009b2J"})
	req, err := NewRequest("payments:initiate", json.RawMessage(params), aud+"\r", principal+"\x1b]0;x\x07", agent+"\n", time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	d := Describe(req)
	for _, r := range d {
		if r != '\n' && !unicode.IsPrint(r) {
			t.Fatalf("the description carries %U:\n%q", r, d)
		}
	}
	if strings.Count(d, "\n") != 8 || !strings.Contains(d, "9000 EUR") || !strings.Contains(d, `\x1b[1A`) {
		t.Fatalf("description:\n%s", d)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"shop.example": "shop.example", "Zürich 250 €": "Zürich 250 €", "a\x1b[2Kb": `a\x1b[2Kb`,
		"\u202eEUR": `\u202eEUR`, "a\nb": `a\nb`, "\x9b2J": `\x9b2J`, "\u009b": `\u009b`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLifetimeBoundsWithoutOverflow: exp-iat is bounded however far apart
// the two are: an iat near the smallest int64 must not wrap the difference
// around to a negative one and make an approval valid for a year, and an
// iat after exp is no lifetime of at most MaxLifetime either.
func TestLifetimeBoundsWithoutOverflow(t *testing.T) {
	priv, pub := testkeys.Pair(t, jwa.EdDSA, "alice")
	now := time.Unix(1_800_000_000, 0)
	req, _ := NewRequest("payments:initiate", pay(250), aud, principal, agent, time.Minute, now)
	want := Expect{Action: req.Action, Params: pay(250), Audience: aud, Principal: principal, Subject: agent}
	sign := func(iat, exp int64) string {
		c := Claims{Issuer: "x", Subject: agent, Audience: aud, Principal: principal, Action: req.Action, Digest: req.Digest,
			Nonce: req.Nonce, IssuedAt: iat, Expiry: exp}
		b, _ := json.Marshal(c)
		tok, err := jose.Sign(b, jwa.EdDSA, priv, map[string]any{jws.TypeKey: Typ, jws.KeyIDKey: priv.KeyID()})
		if err != nil {
			t.Fatal(err)
		}
		return string(tok)
	}
	year := now.Add(365 * 24 * time.Hour).Unix()
	for name, tok := range map[string]string{
		"iat near the smallest int64": sign(math.MinInt64+1, year),
		"iat after exp":               sign(now.Add(30*time.Second).Unix(), now.Add(10*time.Second).Unix()),
	} {
		if _, err := Verify(context.Background(), tok, want, Roster{principal: {pub}}, spent{}, now); errcode.CodeOf(err) != errcode.ApprovalExpired {
			t.Errorf("%s: %v, want approval_expired", name, err)
		}
	}
	if _, err := Verify(context.Background(), sign(now.Unix(), now.Add(MaxLifetime).Unix()), want, Roster{principal: {pub}}, spent{}, now); err != nil {
		t.Fatalf("a lifetime of MaxLifetime: %v", err)
	}
}

// TestNonceSpentPerPrincipal: an approver of another principal who learns
// a nonce cannot use it up for the principal it was asked of, by signing an
// approval of its own request with the same nonce; within one principal the
// nonce stays single use.
func TestNonceSpentPerPrincipal(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	priv, pub := testkeys.Pair(t, jwa.EdDSA, "alice")
	otherPriv, otherPub := testkeys.Pair(t, jwa.EdDSA, "mallory")
	const other = "did:web:other.example"
	roster := Roster{principal: {pub}, other: {otherPub}}
	victim, err := NewRequest("payments.create", pay(250), aud, principal, agent, 5*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	own, err := NewRequest("payments.create", pay(1), aud, other, "did:key:z6MkMallorysAgent", 5*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	own.Nonce = victim.Nonce // learnt from the victim's approval request
	stolen, err := Sign(own, "mailto:mallory@other.example", otherPriv, "", now)
	if err != nil {
		t.Fatal(err)
	}
	good, err := Sign(victim, "mailto:alice@acme.example", priv, "", now)
	if err != nil {
		t.Fatal(err)
	}
	replay := spent{}
	if _, err := Verify(context.Background(), stolen, Expect{Action: "payments.create", Params: pay(1), Audience: aud, Principal: other, Subject: "did:key:z6MkMallorysAgent"}, roster, replay, now); err != nil {
		t.Fatalf("the other principal's own approval: %v", err)
	}
	want := Expect{Action: "payments.create", Params: pay(250), Audience: aud, Principal: principal, Subject: agent}
	if _, err := Verify(context.Background(), good, want, roster, replay, now); err != nil {
		t.Fatalf("the victim's approval after another principal used its nonce: %v", err)
	}
	if _, err := Verify(context.Background(), good, want, roster, replay, now); errcode.CodeOf(err) != errcode.ApprovalReplayed {
		t.Fatalf("second use: %v, want approval_replayed", err)
	}
}

// forgetful is a spent set that began to record at since, as an in-memory
// set does when its process starts.
type forgetful struct {
	spent
	since time.Time
}

func (f forgetful) RemembersSince() time.Time { return f.since }

// TestApprovalFromBeforeARestartRefused: a store that remembers spent
// nonces only since it started cannot tell whether an approval issued
// before then was used in the process before; it is refused, and one
// issued after it passes once. One issued within the second the record
// began is taken (iat has whole seconds).
func TestApprovalFromBeforeARestartRefused(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	priv, pub := testkeys.Pair(t, jwa.EdDSA, "alice")
	roster := Roster{principal: {pub}}
	want := Expect{Action: "payments.create", Params: pay(250), Audience: aud, Principal: principal, Subject: agent}
	approve := func(at time.Time) string {
		req, err := NewRequest(want.Action, pay(250), aud, principal, agent, 5*time.Minute, at)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := Sign(req, "mailto:alice@acme.example", priv, "", at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	restarted := now.Add(-30 * time.Second).Add(400 * time.Millisecond)
	replay := forgetful{spent{}, restarted}
	for name, iat := range map[string]time.Time{
		"issued before the restart":      restarted.Add(-10 * time.Second),
		"issued in the second before it": restarted.Truncate(time.Second).Add(-time.Second),
	} {
		_, err := Verify(context.Background(), approve(iat), want, roster, replay, now)
		if errcode.CodeOf(err) != errcode.ApprovalReplayed || !strings.Contains(err.Error(), "ask for a new one") {
			t.Errorf("%s: %v, want approval_replayed", name, err)
		}
	}
	after := approve(restarted.Truncate(time.Second))
	if _, err := Verify(context.Background(), after, want, roster, replay, now); err != nil {
		t.Fatalf("issued after the restart: %v", err)
	}
	if _, err := Verify(context.Background(), after, want, roster, replay, now); errcode.CodeOf(err) != errcode.ApprovalReplayed {
		t.Fatalf("second use: %v, want approval_replayed", err)
	}
	// A store that forgets nothing (zero) takes the old approval.
	if _, err := Verify(context.Background(), approve(restarted.Add(-10*time.Second)), want, roster, forgetful{spent{}, time.Time{}}, now); err != nil {
		t.Fatalf("a store that remembers everything: %v", err)
	}
}

// TestDigestRefusesNumbersJCSWouldChange: JCS writes numbers as doubles, so
// params whose numbers a double cannot hold exactly would share a digest
// with others (an approval of invoice 9007199254740993 would approve
// 9007199254740992): they are refused, and numbers a double holds are not.
func TestDigestRefusesNumbersJCSWouldChange(t *testing.T) {
	for _, n := range []string{"9007199254740993", "18446744073709551615", "12345678901234567890.5", "1e400", "0.30000000000000000001"} {
		if _, err := Digest("payments:initiate", json.RawMessage(`{"invoice":`+n+`}`)); errcode.CodeOf(err) != errcode.InvalidInput {
			t.Errorf("%s: %v, want invalid_input", n, err)
		}
		if _, err := NewRequest("payments:initiate", json.RawMessage(`{"invoice":[`+n+`]}`), aud, principal, agent, time.Minute, time.Unix(1_800_000_000, 0)); errcode.CodeOf(err) != errcode.InvalidInput {
			t.Errorf("request with %s: %v, want invalid_input", n, err)
		}
	}
	for _, n := range []string{"9007199254740992", "0.1", "1.0", "250", "-12.75", "1e300", "0"} {
		if _, err := Digest("payments:initiate", json.RawMessage(`{"amount":`+n+`}`)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	a, _ := Digest("payments:initiate", json.RawMessage(`{"invoice":"9007199254740993"}`))
	b, _ := Digest("payments:initiate", json.RawMessage(`{"invoice":"9007199254740992"}`))
	if a == "" || a == b {
		t.Fatal("identifiers sent as strings share a digest")
	}
}
