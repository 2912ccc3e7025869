package sdjwt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"
)

// sameAsMarshal fails unless encodeJSON gives exactly what marshalJSON
// gives for v (bytes, or both an error).
func sameAsMarshal(t *testing.T, v any) {
	t.Helper()
	want, werr := marshalJSON(v)
	got, gerr := encodeJSON(v)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("encodeJSON(%#v) error %v, marshalJSON error %v", v, gerr, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encodeJSON(%#v) = %s, marshalJSON = %s", v, got, want)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for name, v := range map[string]any{
		"null":           nil,
		"true":           true,
		"false":          false,
		"empty string":   "",
		"quotes":         `a"b\c`,
		"controls":       "\x00\x01\b\f\n\r\t\x1f\x7f",
		"html kept":      "<a href='x'>&amp;</a>",
		"line separator": "a\u2028b\u2029c",
		"invalid UTF-8":  "a\xffb\xc3",
		"non-ASCII":      "żółw 🐢 \u00e9",
		"number":         json.Number("-12.5e+3"),
		"zero":           json.Number("0"),
		"empty array":    []any{},
		"nil array":      []any(nil),
		"empty object":   map[string]any{},
		"nil object":     map[string]any(nil),
		"nested": map[string]any{
			"z": []any{json.Number("1"), "x", true, nil, map[string]any{"b": "1", "a": []any{}}},
			"a": map[string]any{"\u2028": "k", "\xff": "bad key", "": nil},
			"m": "ü",
		},
		"many keys": manyKeys(20),
	} {
		t.Run(name, func(t *testing.T) { sameAsMarshal(t, v) })
	}
}

// manyKeys is an object with more members than appendJSON sorts on the stack.
func manyKeys(n int) map[string]any {
	m := map[string]any{}
	for i := n; i > 0; i-- {
		m[fmt.Sprintf("k%02d", i)] = json.Number(fmt.Sprint(i))
	}
	return m
}

// Values that are not plain JSON are left to encoding/json, with its answer
// or its error.
func TestAppendJSONLeavesOtherValuesToEncodingJSON(t *testing.T) {
	for name, v := range map[string]any{
		"int":             7,
		"float":           1.5,
		"typed map":       map[string]string{"a": "b"},
		"typed slice":     []string{"a"},
		"nested int":      map[string]any{"a": []any{1}},
		"empty number":    json.Number(""),
		"leading zero":    json.Number("01"),
		"dot only":        json.Number("1."),
		"bare exponent":   json.Number("1e"),
		"exponent sign":   json.Number("1e+"),
		"minus only":      json.Number("-"),
		"not a number":    json.Number("NaN"),
		"NaN float":       math.NaN(),
		"number with spc": json.Number("1 "),
	} {
		t.Run(name, func(t *testing.T) {
			if _, ok := appendJSON(nil, v); ok {
				t.Fatalf("appendJSON took %#v", v)
			}
			sameAsMarshal(t, v)
		})
	}
}

func TestEncodeDisclosureMatchesNewDisclosure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		isArray bool
		value   any
	}{
		{"given_name", false, "Élodie \u2028"},
		{"", true, map[string]any{"action": "invoices:read", "max": json.Number("500")}},
		{"odd", false, 3}, // not plain: the encoding/json path
	} {
		want, werr := newDisclosure("c2FsdA", tc.name, tc.isArray, tc.value)
		got, gerr := encodeDisclosure("c2FsdA", tc.name, tc.isArray, tc.value)
		if werr != nil || gerr != nil || got != want {
			t.Fatalf("encodeDisclosure = %q, %v; newDisclosure = %q, %v", got, gerr, want, werr)
		}
	}
	if _, err := encodeDisclosure("s", "n", false, math.Inf(1)); err == nil {
		t.Fatal("encodeDisclosure encoded +Inf")
	}
}

// FuzzAppendJSON: for any JSON text decoded to generic values, and for any
// string as a value and as a member name, the issue side's encoder writes
// what encoding/json writes.
func FuzzAppendJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,"x",true,null,{"b":"\u2028"}],"\u00e9":-1.5e3}`), "a\xffb<>&\u2029")
	f.Add([]byte(`[]`), "\x00\x1f\"\\")
	f.Fuzz(func(t *testing.T, doc []byte, s string) {
		sameAsMarshal(t, s)
		sameAsMarshal(t, map[string]any{s: s, "k": []any{s}})
		if v, err := parseJSON(doc, DefaultMaxDepth); err == nil {
			sameAsMarshal(t, v)
		}
	})
}
