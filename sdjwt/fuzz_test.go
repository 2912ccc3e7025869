package sdjwt

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
)

// Seeds come from the vectors in testdata, so the fuzzers start from real
// SD-JWTs, disclosures and KB-JWTs.

func vectorPresentations(f *testing.F) []string {
	var out []string
	files, _ := filepath.Glob(filepath.Join(testkit.VectorsDir(), "*", "*", "*", "sd_jwt_presentation.txt"))
	more, _ := filepath.Glob(filepath.Join(testkit.VectorsDir(), "*", "*", "*", "*", "sd_jwt_presentation.txt"))
	for _, p := range append(files, more...) {
		out = append(out, readText(f, p))
	}
	for _, name := range specVectors {
		v := readJSON(f, filepath.Join(testkit.VectorsDir(), name, "vector.json")).(map[string]any)
		out = append(out, v["presentation"].(map[string]any)["serialized"].(string))
	}
	if len(out) < 20 {
		f.Fatalf("only %d seeds", len(out))
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, s := range vectorPresentations(f) {
		f.Add(s)
	}
	f.Add("")
	f.Add("~")
	f.Add("a.b.c~~")
	f.Add("e30.e30.~e30~a.b.c")
	var key map[string]any
	if err := json.Unmarshal([]byte(refimplIssuerKey), &key); err != nil {
		f.Fatal(err)
	}
	opts := VerifyOptions{
		IssuerKey: staticKey(keyFromMap(f, key)),
		AcceptTyp: []string{"example+sd-jwt", TypVC},
		Now:       func() time.Time { return time.Unix(1748537253, 0) },
		MaxKBAge:  100 * 365 * 24 * time.Hour,
		Audience:  "https://verifier.example.org",
		Nonce:     vectorNonce,
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s, Limits{})
		if err != nil {
			if errcode.CodeOf(err) == errcode.Internal {
				t.Fatalf("uncoded error: %v", err)
			}
			return
		}
		if tok.SDHashInput()+tok.KBJWT != s {
			t.Fatalf("split does not cover the input")
		}
		res, err := Verify(context.Background(), s, opts)
		if err != nil {
			if errcode.CodeOf(err) == errcode.Internal {
				t.Fatalf("uncoded error: %v", err)
			}
			return
		}
		if _, ok := res.Claims["_sd"]; ok {
			t.Fatal("_sd left in verified claims")
		}
	})
}

func FuzzParseDisclosure(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testkit.VectorsDir(), "*", "*", "*", "vector.json"))
	for _, p := range files {
		v := readJSON(f, p).(map[string]any)
		list, _ := v["disclosures"].([]any)
		for _, e := range list {
			f.Add(e.(map[string]any)["disclosure"].(string))
		}
	}
	enc, _ := os.ReadFile(filepath.Join(testkit.VectorsDir(), "sdjwt/rfc9901/disclosure-encoding/vector.json"))
	var de struct {
		Equivalent []struct{ Disclosure string } `json:"equivalent_encodings_of_same_claim"`
	}
	_ = json.Unmarshal(enc, &de)
	for _, e := range de.Equivalent {
		f.Add(e.Disclosure)
	}
	f.Add("")
	f.Add("WyJhIl0")    // ["a"]
	f.Add("W10")        // []
	f.Add("WzEsMiwzXQ") // [1,2,3]
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := ParseDisclosure(raw)
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.DisclosureMalformed && c != errcode.TooLarge {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		if d.Raw != raw || d.Digest != SDHash(raw) {
			t.Fatal("digest not over the string as sent")
		}
		if d.IsArrayElement && d.Name != "" {
			t.Fatal("array element with a name")
		}
		// What Issue would encode for these values parses back to them.
		again, err := newDisclosure(d.Salt, d.Name, d.IsArrayElement, d.Value)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := ParseDisclosure(again)
		if err != nil {
			t.Fatalf("re-encoded disclosure does not parse: %v", err)
		}
		// Compared as JSON text: a value may be a number no float64 holds
		// (kept as json.Number), which must survive the round trip as sent.
		v1, err1 := json.Marshal(d.Value)
		v2, err2 := json.Marshal(d2.Value)
		if err1 != nil || err2 != nil {
			t.Fatalf("value does not encode: %v %v", err1, err2)
		}
		if d2.Salt != d.Salt || d2.Name != d.Name || d2.IsArrayElement != d.IsArrayElement || string(v1) != string(v2) {
			t.Fatal("re-encoded disclosure differs")
		}
	})
}
