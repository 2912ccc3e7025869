package sdjwt

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

const chainNow = 1_800_000_000

// chainFixture is an issuer, an agent (the root's holder) and delegates.
type chainFixture struct {
	issuer, issuerPub jwk.Key
	keys              []jwk.Key // keys[0] is the agent, keys[i] the i-th delegate
	root              string    // the issued SD-JWT, all disclosures
}

func newChainFixture(t testing.TB, delegates int) *chainFixture {
	t.Helper()
	f := &chainFixture{}
	f.issuer, f.issuerPub = testkeys.Pair(t, jwa.ES256, "issuer-key")
	for i := 0; i <= delegates; i++ {
		alg := jwa.ES256
		if i%2 == 1 {
			alg = jwa.EdDSA
		}
		k, _ := testkeys.Pair(t, alg, "")
		f.keys = append(f.keys, k)
	}
	claims := map[string]any{
		"iss": "https://issuer.example", "iat": chainNow - 60, "exp": chainNow + 3600,
		"vct": "urn:example:cert", "sub": "agent", "cnf": map[string]any{"jwk": testkeys.PublicJWK(t, f.keys[0])},
		"permissions": []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "payments:initiate"}},
	}
	var err error
	f.root, err = Issue(claims, []string{"/permissions/*"}, f.issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *chainFixture) hopPayload(t testing.TB, i int) map[string]any {
	return map[string]any{
		"sub": "delegate-" + string(rune('0'+i)), "iat": chainNow - 10, "exp": chainNow + 600,
		"cnf": map[string]any{"jwk": testkeys.PublicJWK(t, f.keys[i])},
	}
}

// chain builds a dSD-JWT of n hops (each with cnf) and, with aud set, the
// dSD-JWT+KB presented by the last delegate.
func (f *chainFixture) chain(t testing.TB, n int, link Link, aud string) string {
	t.Helper()
	s := f.root
	for i := 1; i <= n; i++ {
		var err error
		s, err = Delegate(s, f.hopPayload(t, i), DelegateOptions{Key: f.keys[i-1], IssuedAt: time.Unix(chainNow-5, 0), Link: link})
		if err != nil {
			t.Fatalf("hop %d: %v", i, err)
		}
	}
	if aud == "" {
		return s
	}
	out, err := PresentChain(s, nil, &KBOptions{Key: f.keys[n], Audience: aud, Nonce: "n-1", IssuedAt: time.Unix(chainNow, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *chainFixture) opts() ChainOptions {
	return ChainOptions{VerifyOptions: VerifyOptions{
		IssuerKey: staticKey(f.issuerPub), Now: fixedClock(chainNow), RequireKB: true, Audience: "https://rp.example", Nonce: "n-1",
	}}
}

func TestChainRoundTrip(t *testing.T) {
	for _, link := range []Link{LinkSDHash, LinkIssuerJWTHash} {
		for n := 1; n <= 3; n++ {
			f := newChainFixture(t, n)
			pres := f.chain(t, n, link, "https://rp.example")
			if got := strings.Count(pres, "~~"); got != n {
				t.Fatalf("%s/%d: %d \"~~\" joins, want %d", link, n, got, n)
			}
			res, err := VerifyChain(context.Background(), pres, f.opts())
			if err != nil {
				t.Fatalf("%s/%d hops: %v", link, n, err)
			}
			if len(res.Hops) != n || res.KeyBinding["nonce"] != "n-1" {
				t.Fatalf("%s/%d: %d hops, kb %v", link, n, len(res.Hops), res.KeyBinding)
			}
			for i, h := range res.Hops {
				if h.Delegate["sub"] != "delegate-"+string(rune('1'+i)) || h.Link != link || h.Header["typ"] != TypKBSDKB {
					t.Fatalf("hop %d: %v %s %v", i+1, h.Delegate, h.Link, h.Header)
				}
				if h.Payload["aud"] != h.Delegate["sub"] {
					t.Fatalf("hop %d aud %v, want the delegate", i+1, h.Payload["aud"])
				}
				// The disclosure that carried the delegate payload, by its exact bytes.
				if d := h.DelegateDisclosure; d == nil || !strings.Contains(pres, "~"+d.Raw+"~") || h.Payload[ClaimDelegatePayload].([]any)[0].(map[string]any)["sub"] != d.Value.(map[string]any)["sub"] {
					t.Fatalf("hop %d delegate disclosure %+v", i+1, h.DelegateDisclosure)
				}
			}
			if len(res.Root.Claims["permissions"].([]any)) != 2 {
				t.Fatalf("root claims %v", res.Root.Claims)
			}
		}
	}
}

// The draft's compact serializations: a dSD-JWT ends in "~" after its last
// KB-SD-JWT (whose typ is kb+sd-jwt), a dSD-JWT+KB ends in a KB-JWT after a
// kb+sd-jwt+kb hop.
func TestChainDraftShapes(t *testing.T) {
	f := newChainFixture(t, 2)
	// <SD-JWT>~~<KB-SD-JWT>~<D1>~: the last delegate holds no key.
	closed, err := Delegate(f.root, map[string]any{"sub": "task", "exp": chainNow + 60}, DelegateOptions{Key: f.keys[0]})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseChain(closed, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if c.KBJWT != "" || len(c.Hops) != 1 || len(c.Hops[0].Disclosures) != 1 || c.Hops[0].header["typ"] != TypKBSD || len(c.Root.Disclosures) != 2 {
		t.Fatalf("dSD-JWT parsed as %+v", c)
	}
	o := f.opts()
	o.RequireKB = false
	res, err := VerifyChain(context.Background(), closed, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyBinding != nil || res.Hops[0].Delegate["sub"] != "task" {
		t.Fatalf("%+v", res)
	}
	// A closed hop cannot be delegated further or presented with a KB-JWT.
	if _, err := Delegate(closed, f.hopPayload(t, 1), DelegateOptions{Key: f.keys[0]}); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("delegating past kb+sd-jwt: %v", err)
	}
	if _, err := PresentChain(closed, nil, &KBOptions{Key: f.keys[0], Audience: "a", Nonce: "n"}); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("presenting a kb+sd-jwt hop: %v", err)
	}
	// <SD-JWT>~~<KB-SD-JWT 1>~...~<KB-SD-JWT n>~<KB-JWT>
	pres := f.chain(t, 2, LinkSDHash, "https://rp.example")
	c, err = ParseChain(pres, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if c.KBJWT == "" || len(c.Hops) != 2 || strings.HasSuffix(pres, "~") {
		t.Fatalf("dSD-JWT+KB parsed as %+v", c)
	}
	// A dSD-JWT whose last hop is kb+sd-jwt+kb lacks its KB-JWT.
	_, err = VerifyChain(context.Background(), f.chain(t, 1, LinkSDHash, ""), o)
	testkit.WantCode(t, err, errcode.DelegationWrongTyp)
}

func TestChainIssuerJWTHashLetsPresenterChooseRootDisclosures(t *testing.T) {
	f := newChainFixture(t, 1)
	d := f.chain(t, 1, LinkIssuerJWTHash, "")
	pres, err := PresentChain(d, []string{"/permissions/0"}, &KBOptions{Key: f.keys[1], Audience: "https://rp.example", Nonce: "n-1", IssuedAt: time.Unix(chainNow, 0)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := VerifyChain(context.Background(), pres, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if perms := res.Root.Claims["permissions"].([]any); len(perms) != 1 {
		t.Fatalf("permissions %v, want only the one chosen", perms)
	}
	// With sd_hash the root's disclosures are fixed.
	d = f.chain(t, 1, LinkSDHash, "")
	if _, err := PresentChain(d, []string{"/permissions/0"}, &KBOptions{Key: f.keys[1], Audience: "a", Nonce: "n"}); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("got %v", err)
	}
	// Dropping a root disclosure by hand breaks the sd_hash link.
	c, _ := ParseChain(d, Limits{})
	cut := c.Root.IssuerJWT + "~" + c.Root.Disclosures[0].Raw + "~" + d[len(c.Root.sdHashInput):]
	pres, err = PresentChain(cut, nil, &KBOptions{Key: f.keys[1], Audience: "https://rp.example", Nonce: "n-1", IssuedAt: time.Unix(chainNow, 0)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = VerifyChain(context.Background(), pres, f.opts())
	testkit.WantCode(t, err, errcode.DelegationBadLink)
}

func TestDelegateRefusesWrongKeyAndBadInput(t *testing.T) {
	f := newChainFixture(t, 2)
	if _, err := Delegate(f.root, f.hopPayload(t, 1), DelegateOptions{Key: f.keys[1]}); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("signing with a key other than cnf: %v", err)
	}
	if _, err := Delegate(f.root, map[string]any{"_sd": []any{}, "sub": "x"}, DelegateOptions{Key: f.keys[0]}); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("reserved claim: %v", err)
	}
	if _, err := Delegate(f.root, map[string]any{"exp": 1}, DelegateOptions{Key: f.keys[0]}); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("no audience: %v", err)
	}
	pres := f.chain(t, 1, LinkSDHash, "https://rp.example")
	if _, err := Delegate(pres, f.hopPayload(t, 2), DelegateOptions{Key: f.keys[1]}); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("delegating a presentation: %v", err)
	}
	if _, err := Delegate(f.root, f.hopPayload(t, 1), DelegateOptions{Key: f.keys[0], Link: "other"}); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("unknown link: %v", err)
	}
}

// hostileHop signs a KB-SD-JWT with key over payload (delegate_payload set
// from the given disclosures unless payload has one) and appends it.
func hostileHop(t testing.TB, prev string, key jwk.Key, typ string, payload map[string]any, discs ...string) string {
	t.Helper()
	if _, ok := payload[ClaimDelegatePayload]; !ok {
		var elems []any
		for _, d := range discs {
			elems = append(elems, map[string]any{"...": SDHash(d)})
		}
		payload[ClaimDelegatePayload] = elems
	}
	alg := jwa.ES256
	if key.KeyType() == jwa.OKP {
		alg = jwa.EdDSA
	}
	jwt := testkeys.SignJWS(t, key, alg, map[string]any{"typ": typ}, payload)
	s := prev + "~" + jwt + "~"
	for _, d := range discs {
		s += d + "~"
	}
	return s
}

func TestChainNegative(t *testing.T) {
	f := newChainFixture(t, 3)
	other, _ := testkeys.Pair(t, jwa.ES256, "")
	kb := func(s string, key jwk.Key) string {
		t.Helper()
		out, err := PresentChain(s, nil, &KBOptions{Key: key, Audience: "https://rp.example", Nonce: "n-1", IssuedAt: time.Unix(chainNow, 0)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	hopDisc := func(i int) string { return disc(t, "salt-"+string(rune('0'+i)), f.hopPayload(t, i)) }
	base := func() map[string]any {
		return map[string]any{"iat": chainNow - 5, "aud": "delegate-1", "nonce": "x", "_sd_alg": "sha-256", "sd_hash": SDHash(f.root)}
	}
	withSD := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	good := hostileHop(t, f.root, f.keys[0], TypKBSDKB, base(), hopDisc(1))
	if _, err := VerifyChain(context.Background(), kb(good, f.keys[1]), f.opts()); err != nil {
		t.Fatalf("the hand-built hop should verify: %v", err)
	}
	twoHops := f.chain(t, 2, LinkSDHash, "")
	cases := []struct {
		name string
		pres string
		lim  Limits
		want errcode.Code
	}{
		{"missing ~~ separator", strings.Replace(f.chain(t, 1, LinkSDHash, "https://rp.example"), "~~", "~", 1), Limits{}, errcode.DelegationMalformed},
		{"empty hop", f.root + "~~", Limits{}, errcode.DelegationMalformed},
		{"hop not a JWS", f.root + "~abc~", Limits{}, errcode.DelegationMalformed},
		{"hop signed by another key", kb(hostileHop(t, f.root, other, TypKBSDKB, base(), hopDisc(1)), f.keys[1]), Limits{}, errcode.DelegationBadSignature},
		{"sd_hash over the wrong bytes", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, withSD(base(), "sd_hash", SDHash(f.root+"x")), hopDisc(1)), f.keys[1]), Limits{}, errcode.DelegationBadLink},
		{"issuer_jwt_hash over the wrong bytes", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, withSD(base(), "sd_hash", nil, "issuer_jwt_hash", SDHash(f.root)), hopDisc(1)), f.keys[1]), Limits{}, errcode.DelegationBadLink},
		{"no link", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, withSD(base(), "sd_hash", nil), hopDisc(1)), f.keys[1]), Limits{}, errcode.DelegationBadLink},
		{"two disclosed delegate_payload elements", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, base(), hopDisc(1), disc(t, "s2", f.hopPayload(t, 1))), f.keys[1]), Limits{}, errcode.DelegationPayloadCount},
		{"no disclosed delegate_payload element", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, withSD(base(), ClaimDelegatePayload, []any{map[string]any{"...": SDHash("nothing")}})), f.keys[1]), Limits{}, errcode.DelegationPayloadCount},
		{"two elements in clear", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, withSD(base(), ClaimDelegatePayload, []any{f.hopPayload(t, 1), f.hopPayload(t, 1)})), f.keys[1]), Limits{}, errcode.DelegationMalformed},
		{"delegate_payload not an array", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, withSD(base(), ClaimDelegatePayload, f.hopPayload(t, 1))), f.keys[1]), Limits{}, errcode.DelegationMalformed},
		{"delegate payload not an object", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, base(), disc(t, "s", "text")), f.keys[1]), Limits{}, errcode.DelegationMalformed},
		{"hop typ kb+jwt", presentWith(t, hostileHop(t, f.root, f.keys[0], TypKB, base(), hopDisc(1)), f.keys[1]), Limits{}, errcode.DelegationWrongTyp},
		{"intermediate hop typ kb+sd-jwt", presentWith(t, hostileHop(t, f.root, f.keys[0], TypKBSD, base(), hopDisc(1)), f.keys[1]), Limits{}, errcode.DelegationWrongTyp},
		{"kb+sd-jwt+kb without cnf", presentWith(t, hostileHop(t, f.root, f.keys[0], TypKBSDKB, base(), disc(t, "s", map[string]any{"sub": "x"})), f.keys[1]), Limits{}, errcode.KBNoHolderKey},
		{"no aud", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, withSD(base(), "aud", nil), hopDisc(1)), f.keys[1]), Limits{}, errcode.DelegationMalformed},
		{"no nonce", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, withSD(base(), "nonce", nil), hopDisc(1)), f.keys[1]), Limits{}, errcode.DelegationMalformed},
		{"no iat", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, withSD(base(), "iat", nil), hopDisc(1)), f.keys[1]), Limits{}, errcode.DelegationMalformed},
		{"hop iat in the future", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, withSD(base(), "iat", chainNow+600), hopDisc(1)), f.keys[1]), Limits{}, errcode.NotYetValid},
		{"delegate payload expired", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, base(), disc(t, "s", withSD(f.hopPayload(t, 1), "exp", chainNow-1))), f.keys[1]), Limits{}, errcode.Expired},
		{"hop alg none", f.root + "~" + "eyJhbGciOiJub25lIiwidHlwIjoia2Irc2Qtand0In0.e30.~", Limits{}, errcode.UnsupportedAlg},
		{"crit header", kb(hostileHopHdr(t, f.root, f.keys[0], map[string]any{"typ": TypKBSDKB, "crit": []string{"x"}, "x": 1}, base(), hopDisc(1)), f.keys[1]), Limits{}, errcode.UnknownCrit},
		{"unreferenced hop disclosure", kb(hostileHop(t, f.root, f.keys[0], TypKBSDKB, base(), hopDisc(1))+disc(t, "s", "extra")+"~", f.keys[1]), Limits{}, errcode.DisclosureNotReferenced},
		{"second hop signed by the agent, not the delegate", kb(hostileHop(t, twoHops[:strings.LastIndex(twoHops[:len(twoHops)-1], "~~")+1], f.keys[0], TypKBSDKB, withSD(base(), "sd_hash", "x"), hopDisc(2)), f.keys[2]), Limits{}, errcode.DelegationBadSignature},
		{"final KB-JWT by the agent", presentWith(t, f.chain(t, 1, LinkSDHash, ""), f.keys[0]), Limits{}, errcode.KBBadSignature},
		{"final KB-JWT sd_hash over another hop", swapKB(t, f.chain(t, 1, LinkSDHash, "https://rp.example"), f.chain(t, 1, LinkSDHash, "https://rp.example")), Limits{}, errcode.KBSDHashMismatch},
		{"no final KB-JWT", f.chain(t, 1, LinkSDHash, ""), Limits{}, errcode.DelegationWrongTyp},
		{"depth over the limit", f.chain(t, 3, LinkSDHash, "https://rp.example"), Limits{MaxHops: 2}, errcode.DelegationDepth},
		{"too large", f.chain(t, 3, LinkSDHash, "https://rp.example"), Limits{MaxPresentationBytes: 1000}, errcode.TooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := f.opts()
			o.Limits = c.lim
			_, err := VerifyChain(context.Background(), c.pres, o)
			testkit.WantCode(t, err, c.want)
		})
	}
}

func hostileHopHdr(t testing.TB, prev string, key jwk.Key, hdr, payload map[string]any, discs ...string) string {
	t.Helper()
	var elems []any
	for _, d := range discs {
		elems = append(elems, map[string]any{"...": SDHash(d)})
	}
	payload[ClaimDelegatePayload] = elems
	s := prev + "~" + testkeys.SignJWS(t, key, jwa.ES256, hdr, payload) + "~"
	for _, d := range discs {
		s += d + "~"
	}
	return s
}

// presentWith signs the final KB-JWT with key, whatever cnf says.
func presentWith(t testing.TB, chain string, key jwk.Key) string {
	t.Helper()
	c, err := ParseChain(chain, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	kbJWT, err := signKB(c.Hops[len(c.Hops)-1].sdHashInput, &KBOptions{Key: key, Audience: "https://rp.example", Nonce: "n-1", IssuedAt: time.Unix(chainNow, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return chain + kbJWT
}

// swapKB puts b's final KB-JWT on a's chain (same keys, other hop).
func swapKB(t testing.TB, a, b string) string {
	t.Helper()
	return a[:strings.LastIndexByte(a, '~')+1] + b[strings.LastIndexByte(b, '~')+1:]
}

// The AP2 v0.2 SDK's published Delegate SD-JWT vectors (see
// testdata/vectors/delegate-sd-jwt/README.md): roots carry their claims in a
// delegate_payload of their own, hops end without a final KB-JWT.
func TestAP2DelegateVectors(t *testing.T) {
	dir := filepath.Join(testkit.VectorsDir(), "delegate-sd-jwt", "ap2")
	doc := readJSON(t, filepath.Join(dir, "vectors.json")).(map[string]any)
	iat, _ := doc["kb_iat"].(json.Number).Int64()
	for _, e := range doc["vectors"].([]any) {
		v := e.(map[string]any)
		t.Run(v["id"].(string), func(t *testing.T) {
			s := v["compact_serialization"].(string)
			joins, _ := v["double_tilde_joins"].(json.Number).Int64()
			if got := strings.Count(s, "~~"); int64(got) != joins {
				t.Fatalf("%d joins, want %d", got, joins)
			}
			pub := keyFromMap(t, v["root_public_jwk"])
			vo := VerifyOptions{IssuerKey: staticKey(pub), AcceptTyp: []string{doc["root_typ"].(string)}, Now: fixedClock(iat + 60)}
			var payloads []any
			if joins == 0 {
				if IsChain(s) {
					t.Fatal("a single SD-JWT reads as a chain")
				}
				res, err := Verify(context.Background(), s, vo)
				if err != nil {
					t.Fatal(err)
				}
				payloads = res.Claims[ClaimDelegatePayload].([]any)
			} else {
				vo.Audience, _ = v["expected_aud"].(string)
				res, err := VerifyChain(context.Background(), s, ChainOptions{VerifyOptions: vo, RootDelegatePayload: true})
				if err != nil {
					t.Fatal(err)
				}
				payloads = []any{res.RootDelegate}
				for _, h := range res.Hops {
					payloads = append(payloads, h.Delegate)
				}
				last := res.Hops[len(res.Hops)-1].Payload
				if last["aud"] != v["expected_aud"] || last["nonce"] != v["expected_nonce"] {
					t.Fatalf("terminal hop aud/nonce %v/%v", last["aud"], last["nonce"])
				}
				// One altered byte in any signature fails.
				bad := []byte(s)
				i := strings.LastIndex(s, "~~") + 2
				i = i + strings.LastIndexByte(s[i:strings.Index(s[i:], "~")+i], '.') + 3
				bad[i] ^= 1
				if _, err := VerifyChain(context.Background(), string(bad), ChainOptions{VerifyOptions: vo, RootDelegatePayload: true}); err == nil {
					t.Fatal("a corrupted terminal hop verified")
				}
			}
			if n, _ := v["hop_count"].(json.Number).Int64(); int64(len(payloads)) != n {
				t.Fatalf("%d payloads, want %d", len(payloads), n)
			}
			for _, a := range v["payload_assertions"].([]any) {
				checkAssertion(t, payloads, a.(map[string]any))
			}
		})
	}
}

func checkAssertion(t *testing.T, payloads []any, a map[string]any) {
	t.Helper()
	var cur any = payloads
	found := true
	for _, p := range a["path"].([]any) {
		switch k := p.(type) {
		case json.Number:
			i, _ := k.Int64()
			cur = cur.([]any)[i]
		case string:
			m, _ := cur.(map[string]any)
			cur, found = m[k]
		}
		if !found {
			break
		}
	}
	switch {
	case a["absent"] == true:
		if found {
			t.Fatalf("%v present: %v", a["path"], cur)
		}
	case a["present"] == true:
		if !found {
			t.Fatalf("%v absent", a["path"])
		}
	default:
		if !found || !reflect.DeepEqual(testkit.Canon(t, cur), testkit.Canon(t, a["equals"])) {
			t.Fatalf("%v = %v, want %v", a["path"], cur, a["equals"])
		}
	}
}

// FuzzVerifyChain feeds arbitrary strings, seeded with real chains (the
// AP2 vectors and chains built here), through ParseChain and VerifyChain:
// every failure must carry a code, and a chain that verifies must re-parse
// into the same number of hops.
func FuzzVerifyChain(f *testing.F) {
	doc := readJSON(f, filepath.Join(testkit.VectorsDir(), "delegate-sd-jwt", "ap2", "vectors.json")).(map[string]any)
	for _, e := range doc["vectors"].([]any) {
		f.Add(e.(map[string]any)["compact_serialization"].(string))
	}
	fx := newChainFixture(f, 2)
	f.Add(fx.chain(f, 2, LinkSDHash, "https://rp.example"))
	f.Add(fx.chain(f, 1, LinkIssuerJWTHash, ""))
	f.Add("a.b.c~~d.e.f~")
	f.Add("~~~")
	o := fx.opts()
	o.RequireKB = false
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChain(s, Limits{})
		if err != nil {
			if errcode.CodeOf(err) == errcode.Internal {
				t.Fatalf("uncoded error: %v", err)
			}
			return
		}
		res, err := VerifyChain(context.Background(), s, o)
		if err != nil {
			if errcode.CodeOf(err) == errcode.Internal {
				t.Fatalf("uncoded error: %v", err)
			}
			return
		}
		if len(res.Hops) != len(c.Hops) {
			t.Fatalf("%d hops verified, %d parsed", len(res.Hops), len(c.Hops))
		}
	})
}

// HolderKey's fast path gives the key a full JWK parse gives, and leaves
// every other shape to the full parse.
func TestHolderKeyFastPath(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		priv, _ := testkeys.Pair(t, alg, "k-1")
		m := testkeys.PublicJWK(t, priv)
		fast, ok := simplePublicKey(m)
		if !ok {
			t.Fatalf("%s: %v not taken by the fast path", alg, m)
		}
		b, _ := json.Marshal(m)
		full, err := jwk.ParseKey(b)
		if err != nil {
			t.Fatal(err)
		}
		if !keyutil.SameKey(full, priv) || !keyutil.SameKey(fast, priv) || fast.KeyID() != "k-1" || fast.Algorithm().String() != string(alg) {
			t.Fatalf("%s: fast %v full %v", alg, fast, full)
		}
		for name, mutate := range map[string]func(map[string]any){
			"private":     func(m map[string]any) { m["d"] = "AAAA" },
			"other use":   func(m map[string]any) { m["use"] = "enc" },
			"extra":       func(m map[string]any) { m["key_ops"] = []any{"verify"} },
			"short x":     func(m map[string]any) { m["x"] = "AAAA" },
			"not base64":  func(m map[string]any) { m["x"] = "!!" },
			"wrong curve": func(m map[string]any) { m["crv"] = "P-384" },
		} {
			c := map[string]any{}
			for k, v := range m {
				c[k] = v
			}
			mutate(c)
			if _, ok := simplePublicKey(c); ok {
				t.Errorf("%s %s: taken by the fast path", alg, name)
			}
		}
		if _, err := HolderKey(map[string]any{"cnf": map[string]any{"jwk": withMember(m, "d", m["x"])}}); errcode.CodeOf(err) != errcode.KBNoHolderKey {
			t.Errorf("%s: a private cnf.jwk: %v", alg, err)
		}
	}
	// A P-256 point off the curve is refused.
	if _, ok := simplePublicKey(map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(make([]byte, 32)), "y": b64.EncodeToString(make([]byte, 32))}); ok {
		t.Fatal("off-curve point taken")
	}
}

func withMember(m map[string]any, k string, v any) map[string]any {
	c := map[string]any{}
	for a, b := range m {
		c[a] = b
	}
	c[k] = v
	return c
}

// BenchmarkVerifyChainOverRaw alternates, in every iteration, one
// VerifyChain of a 2-hop dSD-JWT+KB (root, two KB-SD-JWTs, final KB-JWT)
// and the four signature checks it contains done with jws.Verify alone, so
// that machine load hits both sides alike. It reports the mean of each, the
// ratio of the means, and the ratio of the medians.
func BenchmarkVerifyChainOverRaw(b *testing.B) {
	f := newChainFixture(b, 2)
	pres := f.chain(b, 2, LinkSDHash, "https://rp.example")
	opts := f.opts()
	c, err := ParseChain(pres, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	jwts := [][]byte{[]byte(c.Root.IssuerJWT), []byte(c.Hops[0].IssuerJWT), []byte(c.Hops[1].IssuerJWT), []byte(c.KBJWT)}
	keys := []jwk.Key{f.issuerPub, f.keys[0], f.keys[1], f.keys[2]}
	var vopts []jws.VerifyOption
	for i, k := range keys {
		pub, err := k.PublicKey()
		if err != nil {
			b.Fatal(err)
		}
		alg := jwa.ES256
		if pub.KeyType() == jwa.OKP {
			alg = jwa.EdDSA
		}
		vopts = append(vopts, jws.WithKey(alg, pub))
		if _, err := jws.Verify(jwts[i], vopts[i]); err != nil {
			b.Fatalf("raw %d: %v", i, err)
		}
	}
	ctx := context.Background()
	var chain, raw []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := VerifyChain(ctx, pres, opts); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for i := range jwts {
			if _, err := jws.Verify(jwts[i], vopts[i]); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		chain = append(chain, t1.Sub(t0))
		raw = append(raw, t2.Sub(t1))
	}
	var sc, sr time.Duration
	for i := range chain {
		sc += chain[i]
		sr += raw[i]
	}
	b.ReportMetric(float64(sc.Nanoseconds())/float64(len(chain)), "chain-ns/op")
	b.ReportMetric(float64(sr.Nanoseconds())/float64(len(raw)), "raw4-ns/op")
	b.ReportMetric(float64(sc)/float64(sr), "ratio")
	slices.Sort(chain)
	slices.Sort(raw)
	b.ReportMetric(float64(chain[len(chain)/2])/float64(raw[len(raw)/2]), "median-ratio")
}

// Hops cannot be reordered, repeated or moved onto another chain: each is
// signed by the cnf key of the component before it and linked to that
// component's exact bytes.
func TestChainHopsCannotBeReorderedOrReused(t *testing.T) {
	f := newChainFixture(t, 2)
	split := func(s string) (parts []string, kb string) {
		last := strings.LastIndexByte(s, '~')
		return strings.Split(s[:last], "~~"), s[last+1:]
	}
	join := func(parts []string, kb string) string { return strings.Join(parts, "~~") + "~" + kb }
	two, kb := split(f.chain(t, 2, LinkSDHash, "https://rp.example"))
	// The same key delegating to itself: a repeated hop is signed by the
	// right key, but its link names the root, not the hop before it.
	self, err := Delegate(f.root, f.hopPayload(t, 0), DelegateOptions{Key: f.keys[0], IssuedAt: time.Unix(chainNow-5, 0)})
	if err != nil {
		t.Fatal(err)
	}
	selfParts, _ := split(self + "x")
	selfPres, err := PresentChain(self, nil, &KBOptions{Key: f.keys[0], Audience: "https://rp.example", Nonce: "n-1", IssuedAt: time.Unix(chainNow, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyChain(context.Background(), selfPres, f.opts()); err != nil {
		t.Fatalf("a self-delegation: %v", err)
	}
	repeated := append(append([]string(nil), selfParts...), selfParts[1])
	// Another credential of the same issuer for the same agent key.
	otherRoot, err := Issue(map[string]any{
		"iss": "https://issuer.example", "iat": chainNow - 60, "exp": chainNow + 3600,
		"vct": "urn:example:cert", "sub": "agent", "cnf": map[string]any{"jwk": testkeys.PublicJWK(t, f.keys[0])},
		"permissions": []any{map[string]any{"action": "payments:*"}},
	}, nil, f.issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		pres string
		want errcode.Code
	}{
		"hops swapped":           {join([]string{two[0], two[2], two[1]}, kb), errcode.DelegationBadSignature},
		"first hop dropped":      {join([]string{two[0], two[2]}, kb), errcode.DelegationBadSignature},
		"a hop repeated":         {presentWith(t, strings.Join(repeated, "~~")+"~", f.keys[0]), errcode.DelegationBadLink},
		"hop on another root":    {join([]string{otherRoot[:len(otherRoot)-1], two[1], two[2]}, kb), errcode.DelegationBadLink},
		"hop 2 on another hop 1": {join([]string{two[0], strings.TrimSuffix(f.chainHop(t, 1), "~"), two[2]}, kb), errcode.DelegationBadLink},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := VerifyChain(context.Background(), c.pres, f.opts())
			testkit.WantCode(t, err, c.want)
		})
	}
}

// chainHop is a fresh first hop to delegate 1 (another salt and nonce than
// any chain's), as "<JWT>~<D>~".
func (f *chainFixture) chainHop(t testing.TB, i int) string {
	t.Helper()
	s, err := Delegate(f.root, f.hopPayload(t, i), DelegateOptions{Key: f.keys[i-1], IssuedAt: time.Unix(chainNow-5, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return s[len(f.root)+1:]
}

// TestChainRootDisclosures: for a delegation chain, DisclosurePaths are
// those of its root, and ChainRoot says whether the first hop fixed them
// (sd_hash) or left the root's disclosures to the presenter.
func TestChainRootDisclosures(t *testing.T) {
	f := newChainFixture(t, 2)
	want, err := DisclosurePaths(f.root)
	if err != nil || len(want) != 2 {
		t.Fatalf("root paths %v, %v", want, err)
	}
	for _, link := range []Link{LinkSDHash, LinkIssuerJWTHash} {
		pres := f.chain(t, 2, link, "https://rp.example")
		got, err := DisclosurePaths(pres)
		if err != nil || len(got) != len(want) || got[0].String() != want[0].String() || got[1].String() != want[1].String() {
			t.Fatalf("%s: chain paths %v, %v; want the root's %v", link, got, err, want)
		}
		root, fixed, err := ChainRoot(f.chain(t, 2, link, ""))
		if err != nil || fixed != (link == LinkSDHash) || len(root.Disclosures) != 2 {
			t.Fatalf("%s: ChainRoot fixed=%v, %d disclosures, %v", link, fixed, len(root.Disclosures), err)
		}
	}
	if _, _, err := ChainRoot(f.root); errcode.CodeOf(err) != errcode.DelegationMalformed {
		t.Fatalf("ChainRoot of a plain SD-JWT: %v", err)
	}
}
