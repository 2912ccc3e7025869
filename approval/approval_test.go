package approval

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func newKey(t testing.TB, kid string) (priv, pub jwk.Key) {
	t.Helper()
	p, s, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err = jwk.FromRaw(s)
	if err != nil {
		t.Fatal(err)
	}
	pub, err = jwk.FromRaw(p)
	if err != nil {
		t.Fatal(err)
	}
	_ = priv.Set(jwk.KeyIDKey, kid)
	_ = pub.Set(jwk.KeyIDKey, kid)
	return priv, pub
}

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
	priv, pub := newKey(t, "alice")
	otherPriv, otherPub := newKey(t, "mallory")
	roster := Roster{principal: {pub}, "did:web:other.example": {otherPub}}
	req, err := NewRequest("payments.create", pay(250), aud, principal, agent, 5*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	good, err := Sign(req, "mailto:alice@acme.example", priv, now)
	if err != nil {
		t.Fatal(err)
	}
	want := Expect{Action: "payments.create", Params: pay(250), Audience: aud, Principal: principal, Subject: agent}

	// Member order and number spelling do not change the digest (JCS).
	reordered := want
	reordered.Params = json.RawMessage(`{"currency":"EUR","counterparty":"shop.example","amount":250.0}`)

	byOther, _ := Sign(req, "mailto:mallory@other.example", otherPriv, now)
	forged := good[:len(good)-4] + "AAAA"
	if forged == good {
		t.Fatal("forgery equals original")
	}
	shortReq := req
	shortReq.Expiry = now.Add(time.Minute).Unix()
	short, _ := Sign(shortReq, "mailto:alice@acme.example", priv, now)

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
	replay := NewMemoryReplay()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.token, tc.want, roster, replay, tc.now)
			if got := errcode.CodeOf(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
		})
	}
	// Refusals above did not burn the nonce: the right request passes once.
	c, err := Verify(good, reordered, roster, replay, now)
	if err != nil {
		t.Fatalf("valid approval refused: %v", err)
	}
	if c.Issuer != "mailto:alice@acme.example" || c.Digest != req.Digest {
		t.Fatalf("claims %+v", c)
	}
	if _, err := Verify(good, want, roster, replay, now); errcode.CodeOf(err) != errcode.ApprovalReplayed {
		t.Fatalf("second use: %v, want approval_replayed", err)
	}
}

func TestWrongTyp(t *testing.T) {
	// A JWT with another typ (for example a KB-JWT) is never an approval.
	priv, _ := newKey(t, "alice")
	now := time.Unix(1_800_000_000, 0)
	req, _ := NewRequest("a", nil, aud, principal, agent, time.Minute, now)
	tok, err := Sign(req, "x", priv, now)
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
	priv, _ := newKey(t, "alice")
	now := time.Unix(1_800_000_000, 0)
	req, _ := NewRequest("a", nil, aud, principal, agent, time.Minute, now)
	if _, err := Sign(req, "x", priv, now.Add(time.Hour)); errcode.CodeOf(err) != errcode.ApprovalExpired {
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
	priv, _ := newKey(f, "alice")
	now := time.Unix(1_800_000_000, 0)
	req, _ := NewRequest("payments.create", pay(250), aud, principal, agent, time.Minute, now)
	tok, _ := Sign(req, "x", priv, now)
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
