package sdjwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// stdDecode is the reference: encoding/json with UseNumber, one value only.
func stdDecode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

func TestParseJSON(t *testing.T) {
	ok := []string{
		`{}`, `[]`, ` {"a" : [1, -0, 0.5, -1.5e10, 2E-3, 1e+2, true, false, null]} `,
		`"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u00f6\u00F6 \ud83d\ude00"`,
		`"lone \ud800 surrogate"`, `"pair broken \ud800\u0041"`, `"Möbius 日本"`,
		`{"a":{"b":{"c":[[[]]]}}}`, `123456789012345678901234567890`, `"\u0000"`,
	}
	for _, s := range ok {
		got, err := parseJSON([]byte(s), 32)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		want, err := stdDecode([]byte(s))
		if err != nil {
			t.Fatalf("%s: reference: %v", s, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v", s, got, want)
		}
	}
	bad := []string{
		``, ` `, `{`, `[`, `{"a"}`, `{"a":}`, `{a:1}`, `[1,]`, `{"a":1,}`, `[1 2]`, `01`, `1.`, `.5`, `-`,
		`+1`, `1e`, `1e+`, `tru`, `nul`, `"abc`, `"a\x"`, `"\u12"`, `"\ud800\u12"`, "\"a\x01\"", `{} {}`, `1 2`,
		`{"a":1,"a":2}`, "\"\xff\"", `NaN`, `[1]]`,
	}
	for _, s := range bad {
		if v, err := parseJSON([]byte(s), 32); err == nil {
			t.Errorf("%q parsed to %#v", s, v)
		}
	}
	deep := strings.Repeat("[", 33) + strings.Repeat("]", 33)
	if _, err := parseJSON([]byte(deep), 32); !errors.Is(err, errJSONDepth) {
		t.Errorf("depth 33: %v", err)
	}
	if _, err := parseJSON([]byte(deep[1:len(deep)-1]), 32); err != nil {
		t.Errorf("depth 32: %v", err)
	}
}

// FuzzJSON checks the decoder against encoding/json: where ours accepts,
// the reference accepts the same value; where the reference accepts and
// ours refuses, the input has a duplicate name, invalid UTF-8 or depth.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"_sd":["a","b"],"x":{"...":"d"}}`, `["salt","name",{"a":[1,2.5e3,null,true]}]`, `"\ud83d\ude00"`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseJSON(b, 64)
		want, stdErr := stdDecode(b)
		if err == nil {
			if stdErr != nil {
				t.Fatalf("accepted %q, encoding/json refuses: %v", b, stdErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: got %#v, want %#v", b, got, want)
			}
			return
		}
		if stdErr == nil && !errors.Is(err, errJSONDup) && !errors.Is(err, errJSONDepth) && utf8.Valid(b) {
			t.Fatalf("refused %q (%v), encoding/json accepts", b, err)
		}
	})
}
