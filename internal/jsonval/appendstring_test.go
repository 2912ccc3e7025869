package jsonval

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encodingJSON is what encoding/json writes for s, with or without HTML
// escaping.
func encodingJSON(t testing.TB, s string, escapeHTML bool) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func TestAppendStringIsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "\x00\x01\x1f\b\f\n\r\t", "<a href='x'>&amp;</a>", "\u2028\u2029", "é€😀", "bad \xff\xfe utf-8", "\x7f"} {
		for _, html := range []bool{true, false} {
			if got, want := string(AppendString([]byte("x"), s, html)), "x"+encodingJSON(t, s, html); got != want {
				t.Errorf("AppendString(%q, html %v) = %s, want %s", s, html, got, want)
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a<b>&c", "\u2028", "\xff", `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{true, false} {
			if got, want := string(AppendString(nil, s, html)), encodingJSON(t, s, html); got != want {
				t.Fatalf("AppendString(%q, html %v) = %s, want %s", s, html, got, want)
			}
		}
	})
}

func TestValidNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "12": true, "1.25": true, "1e5": true, "1E-5": true, "-1.5e+10": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false, "1e+": false, "+1": false, "0x1": false, "1.5.": false,
	} {
		if got := ValidNumber(s); got != want {
			t.Errorf("ValidNumber(%q) = %v, want %v", s, got, want)
		}
	}
}

// AppendValue writes what encoding/json writes for generic JSON values,
// with and without HTML escaping, and declines anything else.
func TestAppendValue(t *testing.T) {
	v := map[string]any{"b": []any{json.Number("1.5e3"), "<x>&", true, nil, map[string]any{}}, "a": map[string]any{"z": false, "\u2028": "é"}, "c": []any(nil)}
	for _, html := range []bool{true, false} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(html)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		got, ok := AppendValue(nil, v, html)
		if want := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !ok || !bytes.Equal(got, want) {
			t.Errorf("html %v: %s, %v; want %s", html, got, ok, want)
		}
	}
	for name, v := range map[string]any{
		"an int":             map[string]any{"n": 1},
		"a typed map":        []any{map[string]string{"a": "b"}},
		"an invalid number":  []any{json.Number("01")},
		"a struct":           struct{}{},
		"deep inside a list": []any{[]any{[]any{1.5}}},
	} {
		if _, ok := AppendValue(nil, v, true); ok {
			t.Errorf("%s: encoded, want declined", name)
		}
	}
}

// StringLen and EncodedLen count exactly what AppendString and AppendValue
// write, and decline what AppendValue declines.
func TestEncodedLen(t *testing.T) {
	v := map[string]any{"b": []any{json.Number("1.5e3"), "<x>&\x00\t\"\\", true, false, nil, map[string]any{}, []any{}}, "a": map[string]any{"z": false, "\u2028": "é\xff\u2029"}, "c": []any(nil), "d": map[string]any(nil)}
	for _, html := range []bool{true, false} {
		enc, ok := AppendValue(nil, v, html)
		if n, ok2 := EncodedLen(v, html); !ok || !ok2 || n != len(enc) {
			t.Errorf("html %v: EncodedLen %d, %v; AppendValue wrote %d", html, n, ok2, len(enc))
		}
	}
	for _, v := range []any{map[string]any{"n": 1}, []any{json.Number("01")}, struct{}{}} {
		if _, ok := EncodedLen(v, true); ok {
			t.Errorf("%#v: counted, want declined", v)
		}
	}
}

func FuzzStringLen(f *testing.F) {
	for _, s := range []string{"", "a<b>&c", "\u2028", "\xff", `"\`, "\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{true, false} {
			if got, want := StringLen(s, html), len(AppendString(nil, s, html)); got != want {
				t.Fatalf("StringLen(%q, html %v) = %d, AppendString wrote %d", s, html, got, want)
			}
			v := map[string]any{s: []any{s, map[string]any{"k": s}}}
			enc, _ := AppendValue(nil, v, html)
			if n, ok := EncodedLen(v, html); !ok || n != len(enc) {
				t.Fatalf("EncodedLen of %q, html %v = %d, AppendValue wrote %d", s, html, n, len(enc))
			}
		}
	})
}
