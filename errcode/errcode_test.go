package errcode

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"testing"
)

func TestDocsListEveryCode(t *testing.T) {
	b, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[Code]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		documented[Code(m[1])] = true
	}
	listed := map[Code]bool{}
	for _, c := range All() {
		if listed[c] {
			t.Errorf("code %s listed twice in All()", c)
		}
		listed[c] = true
		if !documented[c] {
			t.Errorf("code %s is not documented in docs/errors.md", c)
		}
	}
	for c := range documented {
		if !listed[c] {
			t.Errorf("docs/errors.md documents %s, which errcode.All() does not list", c)
		}
	}
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	for c := range listed {
		if !snake.MatchString(string(c)) {
			t.Errorf("code %q is not snake_case", c)
		}
	}
}

func TestCodeOf(t *testing.T) {
	base := New(Expired, "exp %d passed", 5)
	wrapped := fmt.Errorf("verify: %w", base)
	if got := CodeOf(wrapped); got != Expired {
		t.Fatalf("CodeOf(wrapped) = %s", got)
	}
	if got := CodeOf(errors.New("boom")); got != Internal {
		t.Fatalf("CodeOf(plain) = %s", got)
	}
	if got := CodeOf(nil); got != "" {
		t.Fatalf("CodeOf(nil) = %q", got)
	}
	if !errors.Is(wrapped, New(Expired, "")) || errors.Is(wrapped, New(Revoked, "")) {
		t.Fatal("errors.Is must classify by code")
	}
	cause := errors.New("disk")
	if w := Wrap(Internal, cause, "x"); !errors.Is(w, cause) {
		t.Fatal("Wrap must keep the cause in the chain")
	}
}

// TestAllListsEveryConstant parses this package's source so that a Code
// constant left out of All() (and so out of the docs check) fails.
func TestAllListsEveryConstant(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errcode.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[Code]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					t.Fatalf("Code constant with a non-literal value: %#v", v)
				}
				s, _ := strconv.Unquote(lit.Value)
				declared[Code(s)] = true
			}
		}
	}
	listed := map[Code]bool{}
	for _, c := range All() {
		listed[c] = true
	}
	for c := range declared {
		if !listed[c] {
			t.Errorf("constant %s is not in All()", c)
		}
	}
	if len(declared) != len(listed) {
		t.Errorf("%d constants declared, %d listed in All()", len(declared), len(listed))
	}
}

// TestPrefix: the context goes in front of the message; code and cause stay.
func TestPrefix(t *testing.T) {
	cause := errors.New("bad byte")
	err := Prefix(fmt.Errorf("outer: %w", Wrap(Malformed, cause, "hop does not parse")), "delegation hop %d", 2)
	var e *Error
	if !errors.As(err, &e) || e.Code != Malformed || e.Message != "delegation hop 2: hop does not parse" || !errors.Is(err, cause) {
		t.Fatalf("%#v", err)
	}
	if err := Prefix(cause, "hop 1"); CodeOf(err) != Internal || !errors.Is(err, cause) {
		t.Fatalf("an uncoded error: %v", err)
	}
	if Prefix(nil, "x") != nil {
		t.Fatal("Prefix(nil) is not nil")
	}
}
