package inspect

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

var now = time.Unix(1_800_000_000, 0)

// chainFixture is a certification of an agent and the keys of two
// delegates after it.
type chainFixture struct {
	root string
	keys []jwk.Key
	dids []string
}

func newChainFixture(t testing.TB) *chainFixture {
	t.Helper()
	f := &chainFixture{}
	issuer, issDID := testkeys.DIDKey(t, jwa.ES256)
	for _, alg := range []jwa.SignatureAlgorithm{jwa.EdDSA, jwa.ES256, jwa.EdDSA} {
		k, id := testkeys.DIDKey(t, alg)
		f.keys, f.dids = append(f.keys, k), append(f.dids, id)
	}
	claims := map[string]any{
		"iss": issDID, "vct": schemas.AgentCertificationV1, "sub": f.dids[0], "cnf": map[string]any{"jwk": f.jwkMap(t, 0)},
		"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(24 * time.Hour).Unix(),
		"status":       map[string]any{"status_list": map[string]any{"idx": 7, "uri": "https://issuer.example/statuslists/1"}},
		"permissions":  []any{map[string]any{"action": "invoices:*", "resource": "invoices/2026/*"}},
		"prohibitions": []any{"payments:approve"},
	}
	var err error
	if f.root, err = sdjwt.Issue(claims, []string{"/permissions/*"}, issuer, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *chainFixture) jwkMap(t testing.TB, i int) map[string]any {
	m := testkeys.PublicJWK(t, f.keys[i])
	delete(m, "kid")
	return m
}

// hop is delegate i's payload; withKey adds its cnf (so it may delegate on
// or present).
func (f *chainFixture) hop(t testing.TB, i int, withKey bool) map[string]any {
	p := map[string]any{
		"vct": schemas.DelegationV1, "sub": f.dids[i],
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Duration(40-10*i) * time.Minute).Unix(),
		"permissions":  []any{map[string]any{"action": "invoices:read", "resource": fmt.Sprintf("invoices/2026/0%d/*", i)}},
		"prohibitions": []any{"payments:approve", "vendors:*"},
		"task":         map[string]any{"id": fmt.Sprintf("T-%d", i), "purpose": "pay one invoice"},
		"on_behalf_of": map[string]any{"id": "did:web:acme.example"},
	}
	if withKey {
		p["cnf"] = map[string]any{"jwk": f.jwkMap(t, i)}
	}
	return p
}

func (f *chainFixture) delegate(t testing.TB, prev string, from int, payload map[string]any, link sdjwt.Link) string {
	t.Helper()
	out, err := sdjwt.Delegate(prev, payload, sdjwt.DelegateOptions{Key: f.keys[from], IssuedAt: now.Add(-time.Minute), Link: link})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInspectChainHopByHop: a 2-hop dSD-JWT+KB (the first hop linked by
// sd_hash, the second by issuer_jwt_hash) shows each hop's delegator and
// delegate, authority, task, times and link, and the final KB-JWT.
func TestInspectChainHopByHop(t *testing.T) {
	f := newChainFixture(t)
	s := f.delegate(t, f.root, 0, f.hop(t, 1, true), sdjwt.LinkSDHash)
	s = f.delegate(t, s, 1, f.hop(t, 2, true), sdjwt.LinkIssuerJWTHash)
	pres, err := sdjwt.PresentChain(s, nil, &sdjwt.KBOptions{Key: f.keys[2], Audience: "https://shop.example", Nonce: "n-7", IssuedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	in, err := Decode(pres, now)
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != "delegation_presentation" || len(in.Hops) != 2 || in.Credential == nil || in.KeyBinding == nil || !in.KeyBinding.SDHashMatches {
		t.Fatalf("%+v", in)
	}
	if got := in.Credential.Claims["sub"]; got != f.dids[0] {
		t.Fatalf("root sub %v", got)
	}
	for i, h := range in.Hops {
		n := i + 1
		wantLink := []string{"sd_hash", "issuer_jwt_hash"}[i]
		if h.Delegator != f.dids[i] || h.Subject != f.dids[n] || h.Link != wantLink || !h.LinkMatches || h.DelegatePayloads != 1 || h.TypExpected != sdjwt.TypKBSDKB || h.Header["typ"] != sdjwt.TypKBSDKB {
			t.Fatalf("hop %d: %+v", n, h)
		}
		if exp := h.Times.Expires; exp == nil || !exp.Equal(now.Add(time.Duration(40-10*n)*time.Minute)) || h.Times.Expired {
			t.Fatalf("hop %d times %+v", n, h.Times)
		}
		if task, _ := h.Claims["task"].(map[string]any); task["id"] != fmt.Sprintf("T-%d", n) {
			t.Fatalf("hop %d task %v", n, h.Claims["task"])
		}
	}
	var b strings.Builder
	if err := Print(&b, in); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"NOT VERIFIED: decoded only",
		"kind:        delegation chain (dSD-JWT+KB: 2 hops and a final KB-JWT)",
		"root credential:",
		"sub:         " + f.dids[0],
		"hop 1:       typ kb+sd-jwt+kb\n",
		"  delegator:    " + f.dids[0] + "\n  delegate:     " + f.dids[1] + "\n  link:         sd_hash matches the component before",
		"hop 2:       typ kb+sd-jwt+kb\n",
		"  delegator:    " + f.dids[1] + "\n  delegate:     " + f.dids[2] + "\n  link:         issuer_jwt_hash matches the component before",
		"  vct:          " + schemas.DelegationV1,
		"  expires:      " + now.Add(20*time.Minute).UTC().Format(time.RFC3339),
		`  permissions:  [{"action":"invoices:read","resource":"invoices/2026/02/*"}]`,
		`  prohibitions: ["payments:approve","vendors:*"]`,
		`  task:         {"id":"T-2","purpose":"pay one invoice"}`,
		`  on behalf of: {"id":"did:web:acme.example"}`,
		"key binding: aud https://shop.example, nonce n-7",
		"sd_hash matches",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	// The JSON form carries the same hops.
	js, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Kind string `json:"kind"`
		Hops []struct {
			Delegator, Sub, Link string
			LinkMatches          bool `json:"link_matches"`
		} `json:"hops"`
	}
	if err := json.Unmarshal(js, &back); err != nil || back.Kind != "delegation_presentation" || len(back.Hops) != 2 || back.Hops[1].Sub != f.dids[2] || back.Hops[1].Delegator != f.dids[1] || !back.Hops[0].LinkMatches {
		t.Fatalf("%v %+v", err, back)
	}
}

// TestInspectChainWithoutKB: a dSD-JWT whose last delegate holds no key
// says there is no final KB-JWT and that the delegate cannot go on.
func TestInspectChainWithoutKB(t *testing.T) {
	f := newChainFixture(t)
	s := f.delegate(t, f.root, 0, f.hop(t, 1, false), "")
	in, err := Decode(s, now)
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != "delegation" || len(in.Hops) != 1 || in.KeyBinding != nil || in.Hops[0].TypExpected != sdjwt.TypKBSD || in.Hops[0].Header["typ"] != sdjwt.TypKBSD {
		t.Fatalf("%+v %+v", in, in.Hops)
	}
	var b strings.Builder
	_ = Print(&b, in)
	for _, want := range []string{"kind:        delegation chain (dSD-JWT: 1 hops, no final KB-JWT)", "hop 1:       typ kb+sd-jwt\n", "holder key:   none", "key binding: none (a dSD-JWT: no final KB-JWT)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	// Expired hops say so.
	in, _ = Decode(s, now.Add(time.Hour))
	b.Reset()
	_ = Print(&b, in)
	if !in.Hops[0].Times.Expired || !strings.Contains(b.String(), "EXPIRED") {
		t.Fatalf("an expired hop:\n%s", b.String())
	}
}

// TestInspectChainBrokenLinks: inspect checks no signature but does show
// a hop whose link does not cover what precedes it, and a hop at a
// position its typ does not fit.
func TestInspectChainBrokenLinks(t *testing.T) {
	f := newChainFixture(t)
	s := f.delegate(t, f.root, 0, f.hop(t, 1, true), sdjwt.LinkSDHash)
	// Drop one of the root's disclosures: sd_hash no longer covers it.
	root := f.root[:len(f.root)-1]
	cut := root[:strings.LastIndexByte(root, '~')+1]
	dropped := cut + s[len(f.root):]
	in, err := Decode(dropped, now)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = Print(&b, in)
	if in.Hops[0].LinkMatches || !strings.Contains(b.String(), "link:         sd_hash DOES NOT match the component before") {
		t.Fatalf("a broken sd_hash:\n%s", b.String())
	}
	// A kb+sd-jwt+kb hop ending a chain without a KB-JWT is out of place.
	b.Reset()
	in, _ = Decode(s, now)
	_ = Print(&b, in)
	if !strings.Contains(b.String(), "hop 1:       typ kb+sd-jwt+kb (this position requires kb+sd-jwt)") {
		t.Fatalf("a misplaced typ:\n%s", b.String())
	}
}

// TestInspectMalformedChains: a chain that does not decode is refused with
// a code and names what is wrong, never a panic.
func TestInspectMalformedChains(t *testing.T) {
	f := newChainFixture(t)
	s := f.delegate(t, f.root, 0, f.hop(t, 1, true), "")
	hopJWT := strings.Split(s[len(f.root)+1:], "~")[0]
	deep := s
	for i := 0; i < 20; i++ {
		deep += "~" + hopJWT + "~"
	}
	for _, c := range []struct {
		name, in string
		code     errcode.Code
		msg      string
	}{
		{"only separators", "~~", errcode.DelegationMalformed, "empty"},
		{"a hop that is not a JWS", f.root + "~not-a-jws~", errcode.DelegationMalformed, "hop 1"},
		{"an empty hop", f.root + "~~", errcode.DelegationMalformed, "empty"},
		{"a bad hop disclosure", s + "%%%~", errcode.DisclosureMalformed, ""},
		{"a bad root", "x.y.z~~" + s[len(f.root)+1:], errcode.Malformed, ""},
		{"too many hops", deep, errcode.DelegationDepth, "hops"},
	} {
		in, err := Decode(c.in, now)
		if err == nil {
			t.Errorf("%s: decoded %+v", c.name, in)
			continue
		}
		testkit.WantCode(t, err, c.code, c.name)
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v does not say %q", c.name, err, c.msg)
		}
	}
}

// TestInspectAP2Vectors: each chain published by AP2 decodes hop by hop
// with every link matching.
func TestInspectAP2Vectors(t *testing.T) {
	var set struct {
		Vectors []struct {
			ID      string `json:"id"`
			Joins   int    `json:"double_tilde_joins"`
			Compact string `json:"compact_serialization"`
		} `json:"vectors"`
	}
	testkit.LoadVector(t, "delegate-sd-jwt/ap2/vectors.json", &set)
	chains := 0
	for _, v := range set.Vectors {
		in, err := Decode(v.Compact, now)
		if err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		if v.Joins == 0 {
			continue
		}
		chains++
		if len(in.Hops) != v.Joins || !strings.HasPrefix(in.Kind, "delegation") {
			t.Fatalf("%s: kind %s, %d hops, want %d", v.ID, in.Kind, len(in.Hops), v.Joins)
		}
		for i, h := range in.Hops {
			if !h.LinkMatches || h.DelegatePayloads != 1 || h.Claims == nil {
				t.Fatalf("%s hop %d: %+v", v.ID, i+1, h)
			}
		}
		var b strings.Builder
		if err := Print(&b, in); err != nil || !strings.Contains(b.String(), fmt.Sprintf("hop %d:", v.Joins)) {
			t.Fatalf("%s: %v\n%s", v.ID, err, b.String())
		}
	}
	if chains == 0 {
		t.Fatal("no chain among the vectors")
	}
}
