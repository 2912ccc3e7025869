package jsonptr

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/agentcert/agentcert/errcode"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Pointer
		ok   bool
	}{
		{"", nil, true},
		{"/", Pointer{""}, true},
		{"/a/b", Pointer{"a", "b"}, true},
		{"/a~1b/c~0d", Pointer{"a/b", "c~d"}, true},
		{"/~01", Pointer{"~1"}, true}, // RFC 6901 section 4: ~01 is ~1, not /
		{"/a//b", Pointer{"a", "", "b"}, true},
		{"a", nil, false},
		{"/a~", nil, false},
		{"/a~2", nil, false},
		{"/~a", nil, false},
	} {
		got, err := Parse(tt.in)
		if tt.ok != (err == nil) {
			t.Errorf("Parse(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if err != nil {
			var e *errcode.Error
			if !errors.As(err, &e) || e.Code != errcode.InvalidInput {
				t.Errorf("Parse(%q) error %v is not invalid_input", tt.in, err)
			}
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.in {
			t.Errorf("Parse(%q).String() = %q", tt.in, s)
		}
	}
}

func TestIndex(t *testing.T) {
	for _, tt := range []struct {
		tok  string
		n    int
		want int
		ok   bool
	}{
		{"0", 1, 0, true}, {"2", 3, 2, true}, {"3", 3, 0, false}, {"01", 3, 0, false},
		{"-1", 3, 0, false}, {"+1", 3, 0, false}, {"1.0", 3, 0, false}, {"", 3, 0, false},
		{"*", 3, 0, false}, {"99999999999", 3, 0, false}, {"1e0", 3, 0, false},
	} {
		got, ok := Index(tt.tok, tt.n)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Index(%q, %d) = %d, %v; want %d, %v", tt.tok, tt.n, got, ok, tt.want, tt.ok)
		}
	}
}

// rfcDocument is the example document of RFC 6901 section 5.
const rfcDocument = `{"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4,
 "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8}`

func TestGetRFC6901Examples(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(rfcDocument), &doc); err != nil {
		t.Fatal(err)
	}
	for ptr, want := range map[string]string{
		"/foo": `["bar","baz"]`, "/foo/0": `"bar"`, "/": `0`, "/a~1b": `1`, "/c%d": `2`,
		"/e^f": `3`, "/g|h": `4`, "/i\\j": `5`, "/k\"l": `6`, "/ ": `7`, "/m~0n": `8`,
	} {
		p, err := Parse(ptr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", ptr, err)
		}
		v, ok := Get(doc, p)
		if !ok {
			t.Errorf("Get(%q) found nothing", ptr)
			continue
		}
		if b, _ := json.Marshal(v); string(b) != want {
			t.Errorf("Get(%q) = %s, want %s", ptr, b, want)
		}
	}
	whole, ok := Get(doc, nil)
	if m, isMap := whole.(map[string]any); !ok || !isMap || len(m) != 10 {
		t.Errorf("Get(\"\") = %v, %v; want the document", whole, ok)
	}
	for _, ptr := range []string{"/foo/2", "/foo/01", "/foo/-", "/nope", "/foo/0/x", "/foo/*"} {
		p, _ := Parse(ptr)
		if v, ok := Get(doc, p); ok {
			t.Errorf("Get(%q) = %v, want nothing", ptr, v)
		}
	}
}

func TestGetEscapesAndIndexes(t *testing.T) {
	doc := map[string]any{"a": map[string]any{"b/c": []any{"x", map[string]any{"~k": 1}}}}
	for ptr, ok := range map[string]bool{"": true, "/a": true, "/a/b~1c/0": true, "/a/b~1c/1/~0k": true, "/a/b~1c/2": false, "/a/x": false, "/a/b~1c/-1": false, "/a/b~1c/01": false} {
		p, err := Parse(ptr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", ptr, err)
		}
		if _, got := Get(doc, p); got != ok {
			t.Errorf("Get(%q) = %v", ptr, got)
		}
	}
	if _, err := Parse("a"); err == nil {
		t.Error(`Parse("a") accepted a pointer without a leading /`)
	}
}

func TestExistsAndRelated(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"a":[{"x":1},{"y":2}],"*":{"z":3},"e":[]}`), &doc); err != nil {
		t.Fatal(err)
	}
	for ptr, want := range map[string]bool{
		"/a/*": true, "/a/*/y": true, "/a/*/w": false, "/a/1/y": true, "/a/0/y": false,
		"/*/z": true, "/*/*": false, "/e/*": true, "/e/*/x": false, "": true, "/b": false,
	} {
		p, _ := Parse(ptr)
		if got := Exists(doc, p); got != want {
			t.Errorf("Exists(%q) = %v, want %v", ptr, got, want)
		}
	}
	for _, tt := range []struct {
		ptr, path string
		want      bool
	}{
		{"/a/*", "/a/1", true}, {"/a/*", "/a/1/y", true}, {"/a/1/y", "/a/1", true},
		{"/a/0", "/a/1", false}, {"/*/z", "/*/z", true}, {"/*/z", "/x/z", false}, {"/a", "/e", false},
	} {
		p, _ := Parse(tt.ptr)
		path, _ := Parse(tt.path)
		if got := Related(doc, p, path); got != tt.want {
			t.Errorf("Related(%q, %q) = %v, want %v", tt.ptr, tt.path, got, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	sorted := []string{"", "/a", "/a/0", "/a/2", "/a/10", "/a/10/x", "/a/b", "/b"}
	for i, a := range sorted {
		for j, b := range sorted {
			if got, want := Compare(a, b), cmp.Compare(i, j); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// FuzzParse checks that Parse never panics, that what it accepts renders
// back to the same text, and that Get on a document built along the pointer
// finds the leaf.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "/", "/a/b", "/a~1b", "/~0", "/~", "a", "/0/1", "/a/*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, p.String())
		}
		var doc any = "leaf"
		for i := len(p) - 1; i >= 0; i-- {
			doc = map[string]any{p[i]: doc}
		}
		if v, ok := Get(doc, p); !ok || v != "leaf" {
			t.Fatalf("Get(%q) = %v, %v", s, v, ok)
		}
		if !Exists(doc, p) {
			t.Fatalf("Exists(%q) = false", s)
		}
	})
}
