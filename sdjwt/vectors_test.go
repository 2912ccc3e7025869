package sdjwt

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
)

// Conformance against the RFC 9901 and SD-JWT VC vectors copied into
// testdata/vectors (see PROVENANCE.md there).

// The issuer payloads have iat 1683000000 and exp 1883000000; presentations
// without a KB-JWT are checked at this instant.
const vectorNow = 1700000000

const vectorNonce = "1234567890"

// specVectors are the vector.json files that carry a presentation.
var specVectors = []string{
	"sdjwt/rfc9901/simple",
	"sdjwt/rfc9901/simple_structured",
	"sdjwt/rfc9901/complex_ekyc",
	"sdjwt/rfc9901/arf-pid",
	"sdjwt/rfc9901/jsonld",
	"sdjwt-vc/draft-ietf-oauth-sd-jwt-vc/01",
	"sdjwt-vc/draft-ietf-oauth-sd-jwt-vc/02",
	"sdjwt-vc/draft-ietf-oauth-sd-jwt-vc/03-pid",
}

func TestSpecPresentations(t *testing.T) {
	for _, name := range specVectors {
		t.Run(name, func(t *testing.T) {
			v := readJSON(t, filepath.Join(testkit.VectorsDir(), name, "vector.json")).(map[string]any)
			pres := v["presentation"].(map[string]any)
			typ := v["issuer_signed_jwt_header"].(map[string]any)["typ"].(string)
			opts := VerifyOptions{
				IssuerKey: staticKey(keyFromMap(t, v["issuer_public_jwk"])),
				Now:       fixedClock(vectorNow),
			}
			if strings.HasPrefix(name, "sdjwt/") {
				opts.AcceptTyp = []string{typ} // example+sd-jwt, or dc+sd-jwt for arf-pid
			} else if typ != TypVC {
				t.Fatalf("SD-JWT VC example has typ %q", typ)
			}
			kbPayload, hasKB := pres["kb_jwt_payload"].(map[string]any)
			if hasKB {
				iat, _ := kbPayload["iat"].(json.Number).Int64()
				opts.Now = fixedClock(iat + 10)
				opts.RequireKB = true
				opts.Audience = pres["expected_aud"].(string)
				opts.Nonce = pres["expected_nonce"].(string)
			}
			serialized := pres["serialized"].(string)
			res, err := Verify(context.Background(), serialized, opts)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !jsonEqual(t, res.Claims, v["expected_processed_payload"]) {
				t.Fatalf("processed payload:\n%s\nwant:\n%s", mustJSON(t, res.Claims), mustJSON(t, v["expected_processed_payload"]))
			}
			var raws []any
			for _, d := range res.Disclosures {
				raws = append(raws, d.Raw)
			}
			if !jsonEqual(t, raws, pres["disclosures"]) {
				t.Errorf("disclosures %v, want %v", raws, pres["disclosures"])
			}
			if hasKB {
				if !jsonEqual(t, res.KeyBinding, kbPayload) {
					t.Errorf("KB payload %v, want %v", res.KeyBinding, kbPayload)
				}
				tok, err := Parse(serialized, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if tok.SDHashInput() != pres["sd_hash_input"] {
					t.Errorf("sd_hash input differs from the vector's")
				}
				if got := SDHash(pres["sd_hash_input"].(string)); got != kbPayload["sd_hash"] {
					t.Errorf("SDHash = %s, want %s", got, kbPayload["sd_hash"])
				}
				// The same presentation without its KB-JWT fails when KB is required.
				_, err = Verify(context.Background(), tok.SDHashInput(), opts)
				testkit.WantCode(t, err, errcode.KBMissing)
			} else if res.KeyBinding != nil {
				t.Errorf("KeyBinding = %v without a KB-JWT", res.KeyBinding)
			}
			// The full issuance (every disclosure) verifies too.
			if sdj, ok := v["sd_jwt"].(string); ok {
				opts.RequireKB = false
				if _, err := Verify(context.Background(), sdj, opts); err != nil {
					t.Fatalf("issuance: %v", err)
				}
			}
		})
	}
}

// TestVectorDigests checks every listed disclosure: its digest over the
// string as published, and its decoded salt, name and value.
func TestVectorDigests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testkit.VectorsDir(), "*", "*", "*", "vector.json"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(testkit.VectorsDir(), "sdjwt", "rfc9901", "*", "vector.json"))
	files = append(files, more...)
	n := 0
	for _, f := range files {
		v := readJSON(t, f).(map[string]any)
		list, _ := v["disclosures"].([]any)
		for _, e := range list {
			e := e.(map[string]any)
			d, err := ParseDisclosure(e["disclosure"].(string))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			n++
			if d.Digest != e["digest"] || SDHash(d.Raw) != e["digest"] {
				t.Errorf("%s: digest %s, want %s", f, d.Digest, e["digest"])
			}
			if d.Salt != e["salt"] {
				t.Errorf("%s: salt %s, want %s", f, d.Salt, e["salt"])
			}
			if name, ok := e["claim_name"].(string); ok {
				if d.IsArrayElement || d.Name != name || !jsonEqual(t, d.Value, e["claim_value"]) {
					t.Errorf("%s: decoded %q=%v, want %q=%v", f, d.Name, d.Value, name, e["claim_value"])
				}
			} else if !d.IsArrayElement || !jsonEqual(t, d.Value, e["array_element"]) {
				t.Errorf("%s: decoded array element %v, want %v", f, d.Value, e["array_element"])
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d disclosures checked", n)
	}
}

// TestDisclosureEncoding covers RFC 9901 sections 4.2.1 to 4.2.4: the
// digest is over the string as sent, so equivalent encodings differ.
func TestDisclosureEncoding(t *testing.T) {
	v := readJSON(t, filepath.Join(testkit.VectorsDir(), "sdjwt/rfc9901/disclosure-encoding/vector.json")).(map[string]any)
	op := v["object_property"].(map[string]any)
	d, err := ParseDisclosure(op["disclosure"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != op["sha256_digest"] || d.Name != "family_name" || d.Value != "Möbius" {
		t.Fatalf("got %+v", d)
	}
	claims, err := ProcessDisclosures(op["embedding_example_payload"].(map[string]any), []*Disclosure{d}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, claims, map[string]any{"given_name": "Alice", "family_name": "Möbius"}) {
		t.Fatalf("claims %v", claims)
	}
	seen := map[string]bool{d.Digest: true}
	for _, e := range v["equivalent_encodings_of_same_claim"].([]any) {
		e := e.(map[string]any)
		d2, err := ParseDisclosure(e["disclosure"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if d2.Digest != e["sha256_digest_DERIVED"] || seen[d2.Digest] {
			t.Errorf("%s: digest %s", e["variant"], d2.Digest)
		}
		seen[d2.Digest] = true
		if d2.Name != d.Name || d2.Value != d.Value || d2.Salt != d.Salt {
			t.Errorf("%s: decodes to %+v", e["variant"], d2)
		}
		// Referenced by the original digest, the re-encoded string is not
		// recognised: it is unreferenced.
		_, err = ProcessDisclosures(op["embedding_example_payload"].(map[string]any), []*Disclosure{d2}, Limits{})
		testkit.WantCode(t, err, errcode.DisclosureNotReferenced)
	}
	ae := v["array_element"].(map[string]any)
	d, err = ParseDisclosure(ae["disclosure"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != ae["sha256_digest"] || !d.IsArrayElement || d.Value != "FR" {
		t.Fatalf("got %+v", d)
	}
	payload := ae["embedding_example_payload"].(map[string]any)
	with, err := ProcessDisclosures(payload, []*Disclosure{d}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	without, err := ProcessDisclosures(payload, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, with, ae["processed_with_disclosure"]) || !jsonEqual(t, without, ae["processed_without_disclosure"]) {
		t.Fatalf("with %v, without %v", with, without)
	}
}

// refimplDirs are folders of sd-jwt-python output (compact serialization).
type refimplCorpus struct {
	dir      string
	audience string // identifiers.verifier of the corpus settings.yml
}

var refimplCorpora = []refimplCorpus{
	{"sdjwt/refimpl-regenerated/spec-examples", "https://verifier.example.org"},
	{"sdjwt/sd-jwt-python-testcases", "https://example.com/verifier"},
	{"sdjwt-vc/refimpl-regenerated/spec-examples", "https://example.com/verifier"},
}

// refimplIssuerKey is the issuer key of every settings.yml (RFC 9901 A.5).
const refimplIssuerKey = `{"kty":"EC","crv":"P-256","x":"b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ","y":"Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}`

// refimplExpectedFailure lists generated cases that we reject on purpose.
var refimplExpectedFailure = map[string]errcode.Code{
	// The header carries "kid": 42; RFC 7515 section 4.1.4 makes kid a string.
	"sdjwt/sd-jwt-python-testcases/header_mod": errcode.Malformed,
}

func refimplOptions(t testing.TB, dir, aud string) (VerifyOptions, bool) {
	var key map[string]any
	if err := json.Unmarshal([]byte(refimplIssuerKey), &key); err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{
		IssuerKey: staticKey(keyFromMap(t, key)),
		AcceptTyp: []string{"example+sd-jwt", TypVC},
		Now:       fixedClock(vectorNow),
	}
	kbFile := filepath.Join(dir, "kb_jwt_payload.json")
	if !exists(kbFile) {
		return opts, false
	}
	kb := readJSON(t, kbFile).(map[string]any)
	iat, _ := kb["iat"].(json.Number).Int64()
	opts.Now = fixedClock(iat + 10)
	opts.RequireKB = true
	opts.Audience = aud
	opts.Nonce = vectorNonce
	return opts, true
}

func TestRefimplPresentations(t *testing.T) {
	for _, c := range refimplCorpora {
		for _, dir := range listDirs(t, filepath.Join(testkit.VectorsDir(), c.dir)) {
			name := c.dir + "/" + filepath.Base(dir)
			t.Run(name, func(t *testing.T) {
				opts, hasKB := refimplOptions(t, dir, c.audience)
				pres := readText(t, filepath.Join(dir, "sd_jwt_presentation.txt"))
				res, err := Verify(context.Background(), pres, opts)
				if want, ok := refimplExpectedFailure[name]; ok {
					testkit.WantCode(t, err, want)
					return
				}
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				want := readJSON(t, filepath.Join(dir, "verified_contents.json"))
				if !jsonEqual(t, res.Claims, want) {
					t.Fatalf("processed payload:\n%s\nwant:\n%s", mustJSON(t, res.Claims), mustJSON(t, want))
				}
				if hasKB != (res.KeyBinding != nil) {
					t.Fatalf("KeyBinding = %v", res.KeyBinding)
				}
				// The issuance verifies to the full user claims.
				opts.RequireKB = false
				iss := readText(t, filepath.Join(dir, "sd_jwt_issuance.txt"))
				res, err = Verify(context.Background(), iss, opts)
				if err != nil {
					t.Fatalf("issuance: %v", err)
				}
				user := readJSON(t, filepath.Join(dir, "user_claims.json")).(map[string]any)
				for k, v := range user {
					if !jsonEqual(t, res.Claims[k], v) {
						t.Errorf("claim %q = %v, want %v", k, res.Claims[k], v)
					}
				}
				// Presenting everything gives back the issuance; nothing gives "<JWT>~".
				all, err := Present(iss, []string{""}, nil)
				if err != nil || all != iss {
					t.Fatalf("Present all = %q, %v", all, err)
				}
				none, err := Present(iss, nil, nil)
				if err != nil || none != iss[:strings.IndexByte(iss, '~')+1] {
					t.Fatalf("Present none = %q, %v", none, err)
				}
			})
		}
	}
}

// TestRebuildPayloadVectors feeds the vectors' disclosure strings to the
// issuance code and checks that it rebuilds the published issuer payload
// exactly: placement, recursion, sorted _sd arrays, array placeholders
// (decoy digests, being random, are left out of the comparison).
func TestRebuildPayloadVectors(t *testing.T) {
	type rebuildCase struct {
		name    string
		payload map[string]any
		raws    []string
		input   map[string]any // the issuer's input claims, when published
		decoys  []any          // decoy digests, when published
	}
	var cases []rebuildCase
	files, _ := filepath.Glob(filepath.Join(testkit.VectorsDir(), "sdjwt", "rfc9901", "*", "vector.json"))
	vc, _ := filepath.Glob(filepath.Join(testkit.VectorsDir(), "sdjwt-vc", "*", "*", "vector.json"))
	for _, f := range append(files, vc...) {
		v := readJSON(t, f).(map[string]any)
		p, ok := v["sd_jwt_payload"].(map[string]any)
		if !ok {
			continue
		}
		c := rebuildCase{name: f, payload: p}
		for _, e := range v["disclosures"].([]any) {
			c.raws = append(c.raws, e.(map[string]any)["disclosure"].(string))
		}
		c.input, _ = v["input_claims"].(map[string]any)
		c.decoys, _ = v["decoy_digests"].([]any)
		cases = append(cases, c)
	}
	for _, corp := range refimplCorpora {
		for _, dir := range listDirs(t, filepath.Join(testkit.VectorsDir(), corp.dir)) {
			tok, err := Parse(readText(t, filepath.Join(dir, "sd_jwt_issuance.txt")), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			c := rebuildCase{name: dir, payload: readJSON(t, filepath.Join(dir, "sd_jwt_payload.json")).(map[string]any)}
			for _, d := range tok.Disclosures {
				c.raws = append(c.raws, d.Raw)
			}
			c.input = readJSON(t, filepath.Join(dir, "user_claims.json")).(map[string]any)
			cases = append(cases, c)
		}
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := make([]*Disclosure, len(c.raws))
			for i, r := range c.raws {
				d, err := ParseDisclosure(r)
				if err != nil {
					t.Fatal(err)
				}
				ds[i] = d
			}
			// Where every disclosure sits in the fully disclosed payload.
			p, err := newProcessor(ds, DefaultMaxDepth)
			if err != nil {
				t.Fatal(err)
			}
			p.track, p.paths, p.parents = true, make([][]string, len(ds)), make([]int, len(ds))
			full, err := p.object(c.payload, 1)
			if err != nil {
				t.Fatal(err)
			}
			delete(full, "_sd_alg")
			for k, v := range c.input {
				if !jsonEqual(t, full[k], v) {
					t.Fatalf("input claim %q = %v, payload discloses %v", k, v, full[k])
				}
			}
			byPath := map[string]*Disclosure{}
			var ptrs []string
			for i, d := range ds {
				ptr := pointerString(p.paths[i])
				byPath[ptr] = d
				ptrs = append(ptrs, ptr)
			}
			b := &builder{mk: func(path []string, name string, isArray bool, value any) (string, error) {
				d := byPath[pointerString(path)]
				if d == nil || d.IsArrayElement != isArray || d.Name != name || !jsonEqual(t, d.Value, value) {
					t.Fatalf("at %s built %q=%s, vector has %+v", pointerString(path), name, mustJSON(t, value), d)
				}
				return d.Raw, nil
			}}
			got, discs, err := b.buildPayload(full, ptrs, 0)
			if err != nil {
				t.Fatal(err)
			}
			got["_sd_alg"] = SDAlgSHA256
			want := stripDecoys(testkit.Canon(t, c.payload), referencedDigests(ds))
			if !jsonEqual(t, got, want) {
				t.Fatalf("rebuilt payload:\n%s\nwant:\n%s", mustJSON(t, got), mustJSON(t, want))
			}
			sort.Strings(discs)
			raws := append([]string(nil), c.raws...)
			sort.Strings(raws)
			if strings.Join(discs, "~") != strings.Join(raws, "~") {
				t.Fatalf("disclosures differ")
			}
			if c.decoys != nil {
				removed := countDigests(testkit.Canon(t, c.payload)) - countDigests(want)
				if removed != len(c.decoys) {
					t.Fatalf("%d decoys found, vector lists %d", removed, len(c.decoys))
				}
			}
		})
	}
}

func pointerString(toks []string) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

func referencedDigests(ds []*Disclosure) map[string]bool {
	m := map[string]bool{}
	for _, d := range ds {
		m[d.Digest] = true
	}
	return m
}

// stripDecoys removes every digest that no disclosure has.
func stripDecoys(v any, keep map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		if sd, ok := x["_sd"].([]any); ok {
			var kept []any
			for _, d := range sd {
				if keep[d.(string)] {
					kept = append(kept, d)
				}
			}
			if len(kept) == 0 {
				delete(x, "_sd")
			} else {
				x["_sd"] = kept
			}
		}
		for k, e := range x {
			if k != "_sd" {
				x[k] = stripDecoys(e, keep)
			}
		}
	case []any:
		out := x[:0]
		for _, e := range x {
			if m, ok := e.(map[string]any); ok && len(m) == 1 {
				if d, ok := m["..."].(string); ok && !keep[d] {
					continue
				}
			}
			out = append(out, stripDecoys(e, keep))
		}
		return out
	}
	return v
}

func countDigests(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		if sd, ok := x["_sd"].([]any); ok {
			n += len(sd)
		}
		if _, ok := x["..."]; ok && len(x) == 1 {
			n++
		}
		for k, e := range x {
			if k != "_sd" {
				n += countDigests(e)
			}
		}
	case []any:
		for _, e := range x {
			n += countDigests(e)
		}
	}
	return n
}
