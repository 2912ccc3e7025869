package sdjwt

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// detReader is a deterministic byte stream for salts and decoys in tests.
type detReader struct {
	seed [32]byte
	buf  []byte
}

func (r *detReader) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		r.seed = sha256.Sum256(r.seed[:])
		r.buf = append(r.buf, r.seed[:]...)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

const rtNow = 1800000000

// agentClaims is an agent certification shaped like the project's vct.
func agentClaims(t testing.TB, holderJWK map[string]any) map[string]any {
	return map[string]any{
		"iss": "did:web:issuer.example",
		"iat": rtNow - 60,
		"nbf": rtNow - 60,
		"exp": rtNow + 86400,
		"vct": "urn:agentcert:agent-certification:v1",
		"sub": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
		"cnf": map[string]any{"jwk": holderJWK},
		"principal": map[string]any{
			"id": "did:web:acme.example", "name": "ACME GmbH", "type": "organization",
		},
		"agent": map[string]any{"class": "invoice-bot", "version": "1.4.2", "operator": "ACME IT", "model": "m-large"},
		"permissions": []any{
			map[string]any{"action": "invoices:read"},
			map[string]any{"action": "invoices:approve", "constraints": map[string]any{"max_amount": 1000, "currency": "EUR"}},
			map[string]any{"action": "vendors:read"},
			map[string]any{"action": "payments:read", "resource": "acct-1"},
			map[string]any{"action": "reports:*"},
		},
		"prohibitions": []any{"payments:initiate"},
		"autonomy":     "supervised",
		"tags":         []any{"a", "b", "c"},
	}
}

var agentDisclosable = []string{
	"/principal", "/principal/name", // recursive: the name inside the principal disclosure
	"/agent/model",
	"/permissions/*",
	"/permissions/1/constraints", // inside an array-element disclosure
	"/autonomy",
	"/tags/1",
}

func TestRoundTrip(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			issuer, issuerPub := testkeys.Pair(t, alg, "issuer-"+string(alg))
			holder, _ := testkeys.Pair(t, alg, "holder-"+string(alg))
			claims := agentClaims(t, testkeys.PublicJWK(t, holder))
			sdjwt, err := Issue(claims, agentDisclosable, issuer, &IssueOptions{Decoys: 5})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := Parse(sdjwt, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			// 1 principal + 1 name + 1 model + 5 permissions + 1 constraints + 1 autonomy + 1 tag
			if len(tok.Disclosures) != 11 || tok.KBJWT != "" {
				t.Fatalf("%d disclosures, KB %q", len(tok.Disclosures), tok.KBJWT)
			}
			hdr := tok.UnverifiedHeader()
			if hdr["typ"] != TypVC || hdr["alg"] != string(alg) || hdr["kid"] != "issuer-"+string(alg) {
				t.Fatalf("header %v", hdr)
			}
			if tok.UnverifiedPayload()["_sd_alg"] != SDAlgSHA256 {
				t.Fatal("no _sd_alg")
			}
			digests := countDigests(testkit.Canon(t, tok.UnverifiedPayload()))
			for _, d := range tok.Disclosures {
				digests += countDigests(testkit.Canon(t, d.Value))
			}
			if digests != 11+5 {
				t.Fatalf("%d digests in payload and disclosures, want 11 + 5 decoys", digests)
			}
			for _, d := range tok.Disclosures {
				salt, ok := decodeB64(d.Salt)
				if !ok || len(salt) != 16 {
					t.Fatalf("salt %q is not 128 bits", d.Salt)
				}
			}
			for _, c := range []string{"principal", "autonomy", "permissions"} {
				if _, ok := tok.UnverifiedPayload()[c]; ok && c != "permissions" {
					t.Fatalf("%s in clear", c)
				}
			}

			opts := VerifyOptions{
				IssuerKey: staticKey(issuerPub),
				Now:       fixedClock(rtNow),
				Audience:  "https://rp.example",
				Nonce:     "nonce-1",
			}
			res, err := Verify(context.Background(), sdjwt, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, res.Claims, claims) {
				t.Fatalf("full issuance:\n%s\nwant\n%s", mustJSON(t, res.Claims), mustJSON(t, claims))
			}

			pres, err := Present(sdjwt, []string{"/permissions/0", "/permissions/1/constraints/max_amount", "/principal/name"},
				&KBOptions{Key: holder, Audience: "https://rp.example", Nonce: "nonce-1", IssuedAt: time.Unix(rtNow-5, 0)})
			if err != nil {
				t.Fatal(err)
			}
			opts.RequireKB = true
			res, err = Verify(context.Background(), pres, opts)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{}
			for _, k := range []string{"iss", "iat", "nbf", "exp", "vct", "sub", "cnf", "prohibitions"} {
				want[k] = claims[k]
			}
			want["principal"] = map[string]any{"id": "did:web:acme.example", "type": "organization", "name": "ACME GmbH"}
			want["agent"] = map[string]any{"class": "invoice-bot", "version": "1.4.2", "operator": "ACME IT"}
			want["permissions"] = []any{
				map[string]any{"action": "invoices:read"},
				map[string]any{"action": "invoices:approve", "constraints": map[string]any{"max_amount": 1000, "currency": "EUR"}},
			}
			want["tags"] = []any{"a", "c"}
			if !jsonEqual(t, res.Claims, want) {
				t.Fatalf("presentation:\n%s\nwant\n%s", mustJSON(t, res.Claims), mustJSON(t, want))
			}
			if res.KeyBinding["aud"] != "https://rp.example" || res.KeyBinding["nonce"] != "nonce-1" {
				t.Fatalf("KB %v", res.KeyBinding)
			}
			if len(res.Disclosures) != 5 { // permissions 0 and 1, constraints, principal, name
				t.Fatalf("%d disclosures presented", len(res.Disclosures))
			}
			var kbHdr map[string]any
			kbParts := strings.Split(pres[strings.LastIndexByte(pres, '~')+1:], ".")
			b, _ := decodeB64(kbParts[0])
			_ = json.Unmarshal(b, &kbHdr)
			if kbHdr["typ"] != TypKB || kbHdr["alg"] != string(alg) {
				t.Fatalf("KB header %v", kbHdr)
			}

			// "/*" presents every permission; no pointer presents none.
			all, err := Present(sdjwt, []string{"/permissions/*"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			opts.RequireKB = false
			res, err = Verify(context.Background(), all, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, res.Claims["permissions"], claims["permissions"]) || res.Claims["principal"] != nil {
				t.Fatalf("got %v", res.Claims)
			}
			none, err := Present(sdjwt, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err = Verify(context.Background(), none, opts)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(res.Claims["permissions"].([]any)); n != 0 || len(res.Disclosures) != 0 {
				t.Fatalf("%d permissions without disclosures", n)
			}
		})
	}
}

func TestPresentExactDisclosures(t *testing.T) {
	issuer, _ := testkeys.Pair(t, jwa.EdDSA, "i")
	holder, _ := testkeys.Pair(t, jwa.EdDSA, "h")
	sdjwt, err := Issue(agentClaims(t, testkeys.PublicJWK(t, holder)), agentDisclosable, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := func(pres string) []string {
		tok, err := Parse(pres, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range tok.Disclosures {
			if d.IsArrayElement {
				out = append(out, "[]")
			} else {
				out = append(out, d.Name)
			}
		}
		return out
	}
	for _, c := range []struct {
		ptrs []string
		want string
	}{
		{[]string{"/principal/name"}, "name,principal"},
		{[]string{"/principal"}, "name,principal"}, // a pointer reveals the whole value
		{[]string{"/principal/id"}, "principal"},   // a clear claim inside a disclosure
		{[]string{"/permissions/1/constraints"}, "constraints,[]"},
		{[]string{"/permissions/1/constraints", "/permissions/1"}, "constraints,[]"},
		{[]string{"/agent"}, "model"},
		{[]string{"/prohibitions"}, ""},
		{[]string{"/tags/1"}, "[]"},
	} {
		pres, err := Present(sdjwt, c.ptrs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(names(pres), ","); got != c.want {
			t.Errorf("%v: disclosed %s, want %s", c.ptrs, got, c.want)
		}
	}
}

func TestIssueDeterministic(t *testing.T) {
	issuer, _ := testkeys.Pair(t, jwa.EdDSA, "i") // Ed25519 signatures are deterministic
	claims := agentClaims(t, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
	a, err := Issue(claims, agentDisclosable, issuer, &IssueOptions{Rand: &detReader{}, Decoys: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Issue(claims, agentDisclosable, issuer, &IssueOptions{Rand: &detReader{}, Decoys: 3})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("same Rand, different output")
	}
	c, err := Issue(claims, agentDisclosable, issuer, &IssueOptions{Rand: &detReader{seed: [32]byte{1}}, Decoys: 3})
	if err != nil {
		t.Fatal(err)
	}
	if a == c {
		t.Fatal("different Rand, same output")
	}
}

func TestIssueDecoysSpread(t *testing.T) {
	issuer, _ := testkeys.Pair(t, jwa.ES256, "i")
	claims := map[string]any{"a": map[string]any{"x": 1, "y": 2}, "b": 3}
	for _, n := range []int{0, 1, 2, 7} {
		s, err := Issue(claims, []string{"/a/x", "/b"}, issuer, &IssueOptions{Decoys: n, Typ: "example+sd-jwt", Header: map[string]any{"x-test": "1"}})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := Parse(s, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		p := tok.UnverifiedPayload()
		top := len(p["_sd"].([]any))
		inner := len(p["a"].(map[string]any)["_sd"].([]any))
		if top+inner != 2+n || top < inner || top-(1+n/2+n%2) != 0 {
			t.Errorf("decoys %d: top %d, inner %d", n, top, inner)
		}
		if tok.UnverifiedHeader()["typ"] != "example+sd-jwt" || tok.UnverifiedHeader()["x-test"] != "1" {
			t.Errorf("header %v", tok.UnverifiedHeader())
		}
		for _, sd := range [][]any{p["_sd"].([]any), p["a"].(map[string]any)["_sd"].([]any)} {
			for i := 1; i < len(sd); i++ {
				if sd[i-1].(string) > sd[i].(string) {
					t.Errorf("_sd not sorted: %v", sd)
				}
			}
		}
	}
	// Decoys with no selectively disclosable claim go to the top level.
	s, err := Issue(map[string]any{"a": 1}, nil, issuer, &IssueOptions{Decoys: 2})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := Parse(s, Limits{})
	if len(tok.UnverifiedPayload()["_sd"].([]any)) != 2 {
		t.Fatalf("payload %v", tok.UnverifiedPayload())
	}
}

func TestIssueRejects(t *testing.T) {
	issuer, issuerPub := testkeys.Pair(t, jwa.ES256, "i")
	ctx := map[string]any{"a": map[string]any{"b": 1}, "list": []any{1, 2}, "s": "x"}
	cases := []struct {
		name   string
		claims map[string]any
		ptrs   []string
		opts   *IssueOptions
		key    any
		want   errcode.Code
	}{
		{"missing_claim", ctx, []string{"/nope"}, nil, nil, errcode.InvalidInput},
		{"missing_nested", ctx, []string{"/a/c"}, nil, nil, errcode.InvalidInput},
		{"below_scalar", ctx, []string{"/s/x"}, nil, nil, errcode.InvalidInput},
		{"index_out_of_range", ctx, []string{"/list/2"}, nil, nil, errcode.InvalidInput},
		{"non_canonical_index", ctx, []string{"/list/01"}, nil, nil, errcode.InvalidInput},
		{"root", ctx, []string{""}, nil, nil, errcode.InvalidInput},
		{"no_slash", ctx, []string{"a"}, nil, nil, errcode.InvalidInput},
		{"bad_escape", ctx, []string{"/a~2"}, nil, nil, errcode.InvalidInput},
		{"reserved_sd", map[string]any{"_sd": []any{}}, nil, nil, nil, errcode.InvalidInput},
		{"reserved_ellipsis", map[string]any{"x": map[string]any{"...": 1}}, nil, nil, nil, errcode.InvalidInput},
		{"reserved_sd_alg", map[string]any{"_sd_alg": "sha-256"}, nil, nil, nil, errcode.InvalidInput},
		{"header_alg", ctx, nil, &IssueOptions{Header: map[string]any{"alg": "none"}}, nil, errcode.InvalidInput},
		{"header_crit", ctx, nil, &IssueOptions{Header: map[string]any{"crit": []string{"x"}}}, nil, errcode.InvalidInput},
		{"negative_decoys", ctx, nil, &IssueOptions{Decoys: -1}, nil, errcode.InvalidInput},
		{"public_key", ctx, nil, nil, issuerPub, errcode.InvalidInput},
		{"unencodable", map[string]any{"f": func() {}}, nil, nil, nil, errcode.InvalidInput},
		{"rand_fails", ctx, []string{"/s"}, &IssueOptions{Rand: strings.NewReader("short")}, nil, errcode.Internal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := issuer
			if c.key != nil {
				key = issuerPub
			}
			_, err := Issue(c.claims, c.ptrs, key, c.opts)
			testkit.WantCode(t, err, c.want)
		})
	}
	t.Run("rs256_key", func(t *testing.T) {
		k, _ := testkeys.Pair(t, jwa.ES256, "x")
		_ = k.Set("alg", jwa.RS256)
		_, err := Issue(ctx, nil, k, nil)
		testkit.WantCode(t, err, errcode.UnsupportedAlg)
	})
	t.Run("nil_key", func(t *testing.T) {
		_, err := Issue(ctx, nil, nil, nil)
		testkit.WantCode(t, err, errcode.InvalidInput)
	})
	t.Run("star_on_empty_array", func(t *testing.T) {
		if _, err := Issue(map[string]any{"p": []any{}}, []string{"/p/*", "/p/*/x"}, issuer, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPresentRejects(t *testing.T) {
	issuer, _ := testkeys.Pair(t, jwa.ES256, "i")
	holder, _ := testkeys.Pair(t, jwa.ES256, "h")
	sdjwt, err := Issue(map[string]any{"a": 1, "l": []any{1}}, []string{"/a", "/l/0"}, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	kb := &KBOptions{Key: holder, Audience: "aud", Nonce: "n"}
	withKB, err := Present(sdjwt, []string{"/a"}, kb)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   string
		ptrs []string
		kb   *KBOptions
		want errcode.Code
	}{
		{"unknown_pointer", sdjwt, []string{"/b"}, nil, errcode.InvalidInput},
		{"index_out_of_range", sdjwt, []string{"/l/1"}, nil, errcode.InvalidInput},
		{"bad_pointer", sdjwt, []string{"a"}, nil, errcode.InvalidInput},
		{"already_bound", withKB, nil, nil, errcode.InvalidInput},
		{"malformed", "nope", nil, nil, errcode.Malformed},
		{"kb_no_nonce", sdjwt, nil, &KBOptions{Key: holder, Audience: "aud"}, errcode.InvalidInput},
		{"kb_public_key", sdjwt, nil, &KBOptions{Key: must(holder.PublicKey()), Audience: "aud", Nonce: "n"}, errcode.InvalidInput},
		{"unreferenced", sdjwt + disc(t, "c2FsdA", "x", 1) + "~", nil, nil, errcode.DisclosureNotReferenced},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Present(c.in, c.ptrs, c.kb)
			testkit.WantCode(t, err, c.want)
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestProcessDisclosuresLeavesInputs(t *testing.T) {
	v := readJSON(t, testkit.VectorsDir()+"/sdjwt/rfc9901/address_only_recursive/vector.json").(map[string]any)
	payload := v["sd_jwt_payload"].(map[string]any)
	var ds []*Disclosure
	for _, e := range v["disclosures"].([]any) {
		d, err := ParseDisclosure(e.(map[string]any)["disclosure"].(string))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	before := mustJSON(t, payload)
	beforeD := mustJSON(t, ds)
	claims, err := ProcessDisclosures(payload, ds, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	claims["address"].(map[string]any)["street_address"] = "changed"
	if mustJSON(t, payload) != before || mustJSON(t, ds) != beforeD {
		t.Fatal("inputs modified")
	}
	if _, ok := payload["_sd_alg"]; !ok {
		t.Fatal("_sd_alg removed from the input")
	}
}
