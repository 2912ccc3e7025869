package jsonstrict

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Reason string `json:"reason"`
}

type body struct {
	Audience string          `json:"audience"`
	Nonce    string          `json:"nonce,omitempty"`
	Request  map[string]any  `json:"request,omitempty"`
	When     *time.Time      `json:"when,omitempty"`
	Raw      json.RawMessage `json:"raw,omitempty"`
	List     []inner         `json:"list,omitempty"`
	inner
}

func TestDecodeAccepts(t *testing.T) {
	var b body
	in := `{"audience":"A","request":{"amount":1.5e3,"Amount":"differs in case but inside a free map is refused too"}}`
	if err := Decode([]byte(in), &b); err == nil {
		t.Fatal("case variants inside a map accepted")
	}
	in = `{"audience":"A","nonce":"n","request":{"amount":1.5e3,"x":[1,2,{"y":null}]},"when":"2026-01-02T03:04:05Z","raw":{"Any":1,"other":2},"list":[{"reason":"r"}],"reason":"promoted"}`
	if err := Decode([]byte(in), &b); err != nil {
		t.Fatalf("valid body refused: %v", err)
	}
	if b.Audience != "A" || b.Request["amount"] != json.Number("1.5e3") || b.When == nil || b.Reason != "promoted" || b.List[0].Reason != "r" {
		t.Fatalf("decoded %+v", b)
	}
}

// TestSec08DuplicateAndCaseVariantKeys: duplicate members, members that
// differ only in case and members that match a field only case-insensitively
// are refused before decoding (encoding/json alone keeps the last one).
func TestSec08DuplicateAndCaseVariantKeys(t *testing.T) {
	for name, in := range map[string]string{
		"duplicate":          `{"audience":"A","audience":"B"}`,
		"case variant":       `{"audience":"A","AUDIENCE":"B"}`,
		"case-only field":    `{"AUDIENCE":"B"}`,
		"kelvin sign":        `{"request":{"k":1,"\u212a":2}}`,
		"unknown":            `{"audiences":"A"}`,
		"nested duplicate":   `{"list":[{"reason":"a","reason":"b"}]}`,
		"duplicate in a map": `{"request":{"a":1,"a":2}}`,
		"trailing data":      `{"audience":"A"} {}`,
		"not JSON":           `{"audience":`,
	} {
		var b body
		if err := Decode([]byte(in), &b); err == nil {
			t.Errorf("%s: %s accepted as %+v", name, in, b)
		}
	}
	if err := Check([]byte(`{"status_list":{"bits":1},"status_list":{"bits":2}}`)); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("Check of a duplicated member: %v", err)
	}
	if err := Check([]byte(`{"a":{"A":1},"A":{"a":1}}`)); err == nil {
		t.Fatal("Check of case variants accepted")
	}
	if err := Check([]byte(`{"a":{"b":1},"b":{"a":1}}`)); err != nil {
		t.Fatalf("the same names at different levels are fine: %v", err)
	}
}

// TestSec07NumberBounds: numbers are bounded in length and exponent.
func TestSec07NumberBounds(t *testing.T) {
	for _, ok := range []string{"0", "-1", "1e400", "1E-400", "1e+0400", "123.456", strings.Repeat("9", MaxNumberLen)} {
		if err := CheckNumber(ok); err != nil {
			t.Errorf("CheckNumber(%s): %v", ok, err)
		}
		if err := Check([]byte(`[` + ok + `]`)); err != nil {
			t.Errorf("Check([%s]): %v", ok, err)
		}
	}
	for _, bad := range []string{"1e401", "1e-401", "1e999999", "1e-999999", "1e00000000000000000000000000000001000", strings.Repeat("9", MaxNumberLen+1)} {
		if err := CheckNumber(bad); err == nil {
			t.Errorf("CheckNumber(%s) accepted", bad)
		}
		var m map[string]any
		if err := Decode([]byte(`{"max_amount":`+bad+`}`), &m); err == nil {
			t.Errorf("Decode of %s accepted", bad)
		}
	}
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	if err := Check([]byte(deep)); err == nil {
		t.Fatal("nesting beyond MaxDepth accepted")
	}
	if err := Check([]byte(strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth))); err != nil {
		t.Fatalf("nesting at MaxDepth refused: %v", err)
	}
}

// FuzzCheck: Check never panics, accepts only valid JSON, and whatever it
// accepts encoding/json decodes.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"A":2}`, `[1e999]`, `{"a":{"b":[1,2,"x"]}}`, `"\u212a"`, `{"a":1,"a":1}`, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := Check(b); err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("Check accepted invalid JSON %q", b)
		}
		var v any
		if err := Decode(b, &v); err != nil {
			t.Fatalf("Check accepted %q but Decode refused it: %v", b, err)
		}
		if err := Check(append(slices.Clip(b), " \r\n\t"...)); err != nil {
			t.Fatalf("Check accepted %q but not with white space after it: %v", b, err)
		}
		if err := Check(append(slices.Clip(b), " 0"...)); err == nil {
			t.Fatalf("Check accepted %q followed by another value", b)
		}
	})
}

// TestDataAfterTheValue: only JSON white space (space, tab, CR, LF) may
// follow the value.
func TestDataAfterTheValue(t *testing.T) {
	for _, s := range []string{"{}", "{} ", "{}\r\n\t ", " [1] ", "12", "12\n", `"x"  `} {
		if err := Check([]byte(s)); err != nil {
			t.Errorf("Check(%q): %v", s, err)
		}
		if _, err := DecodeValue([]byte(s)); err != nil {
			t.Errorf("DecodeValue(%q): %v", s, err)
		}
	}
	for _, s := range []string{"{} x", "{}{}", "1 2", "{}\x00", "{}\f", "{}\v", "{}\u00a0", "[1]]", `"x""y"`} {
		if err := Check([]byte(s)); err == nil || !strings.Contains(err.Error(), "after the JSON value") {
			t.Errorf("Check(%q): %v", s, err)
		}
		if _, err := DecodeValue([]byte(s)); err == nil {
			t.Errorf("DecodeValue(%q) accepted it", s)
		}
		var v struct{}
		if err := Decode([]byte(s), &v); err == nil {
			t.Errorf("Decode(%q) accepted it", s)
		}
	}
}

func BenchmarkDecodeValue(b *testing.B) {
	doc := []byte(`{"presentation":"eyJhbGciOiJFUzI1NiJ9.e30.sig~WyJzYWx0IiwiYSIsMV0~","audience":"https://cp.example","nonce":"n1","action":"invoices:read","attributes":{"amount":"120.00","currency":"EUR"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeValue(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeValue: the one-pass DecodeValue refuses exactly what Check
// refuses, and otherwise gives what Decode into an interface gives.
func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `null`, `{"a":1,"A":2}`, `[1e999]`, `{"a":{"b":[1,2,"x",true,null,{}]}}`, `"\u212a"`, `{"a":1,"a":1}`, `nul`, `{"a~/b":[[]]} x`, `"\xff"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeValue(b)
		if cerr := Check(b); (err == nil) != (cerr == nil) {
			t.Fatalf("%q: DecodeValue %v, Check %v", b, err, cerr)
		} else if err != nil {
			if err.Error() != cerr.Error() {
				t.Fatalf("%q: DecodeValue says %q, Check %q", b, err, cerr)
			}
			return
		}
		var want any
		if err := Decode(b, &want); err != nil {
			t.Fatalf("%q: Decode refused what Check accepted: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: DecodeValue %#v, Decode %#v", b, got, want)
		}
	})
}
