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
