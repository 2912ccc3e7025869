// Package jsonptr is the one JSON Pointer (RFC 6901) implementation of the
// project: sdjwt, schemas and verifier all parse and resolve pointers here,
// under one rule set.
//
// The rules:
//   - "" is the whole document and has no tokens; any other pointer starts
//     with "/".
//   - In a token, "~0" stands for "~" and "~1" for "/"; any other "~" is an
//     error (invalid_input).
//   - An array index is canonical: "0", or decimal digits without a leading
//     zero, below the array's length ("01", "+1", "-1" and "1.0" are not
//     indexes).
//   - The token "*" over an array stands for every element (Exists, Related);
//     over an object it is an ordinary member name. An escaped token is never
//     the wildcard, since "*" needs no escape. Get takes no wildcard.
//
// Callers add their own restrictions on top (schemas refuses reserved claim
// names, sdjwt refuses the empty pointer for a disclosure).
package jsonptr

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/agentcert/agentcert/errcode"
)

// Wildcard is the token that, over an array, stands for every element.
const Wildcard = "*"

// maxIndexDigits bounds an array index's length (no array has ten billion
// elements).
const maxIndexDigits = 10

// Pointer is a parsed JSON Pointer: its unescaped reference tokens, outermost
// first. The nil Pointer is the whole document.
type Pointer []string

// Parse parses an RFC 6901 JSON Pointer. A malformed pointer is
// invalid_input.
func Parse(s string) (Pointer, error) {
	if s == "" {
		return nil, nil
	}
	if s[0] != '/' {
		return nil, errcode.New(errcode.InvalidInput, "JSON Pointer %q does not start with /", s)
	}
	toks := strings.Split(s[1:], "/")
	for i, t := range toks {
		u, ok := unescape(t)
		if !ok {
			return nil, errcode.New(errcode.InvalidInput, "JSON Pointer %q has a ~ not followed by 0 or 1", s)
		}
		toks[i] = u
	}
	return toks, nil
}

func unescape(t string) (string, bool) {
	if !strings.Contains(t, "~") {
		return t, true
	}
	var b strings.Builder
	b.Grow(len(t))
	for i := 0; i < len(t); i++ {
		if t[i] != '~' {
			b.WriteByte(t[i])
			continue
		}
		if i+1 >= len(t) || (t[i+1] != '0' && t[i+1] != '1') {
			return "", false
		}
		b.WriteByte("~/"[t[i+1]-'0'])
		i++
	}
	return b.String(), true
}

// String renders p as a JSON Pointer, escaping "~" and "/" in its tokens;
// Parse(p.String()) gives p back.
func (p Pointer) String() string {
	var b strings.Builder
	for _, t := range p {
		b.WriteByte('/')
		b.WriteString(Escape(t))
	}
	return b.String()
}

// Escape escapes one reference token.
func Escape(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

// IsIndex reports whether tok is a canonical array index: "0", or decimal
// digits without a leading zero.
func IsIndex(tok string) bool {
	if tok == "" || len(tok) > maxIndexDigits || (len(tok) > 1 && tok[0] == '0') {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return false
		}
	}
	return true
}

// Index returns the element tok addresses in an array of n elements.
func Index(tok string, n int) (int, bool) {
	if !IsIndex(tok) {
		return 0, false
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i >= n {
		return 0, false
	}
	return i, true
}

// Compare orders two pointer texts token by token, array indexes by value,
// so that /permissions/2 comes before /permissions/10; a pointer comes
// before the pointers inside it. It returns -1, 0 or +1.
func Compare(a, b string) int {
	ta, tb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == tb[i] {
			continue
		}
		if IsIndex(ta[i]) && IsIndex(tb[i]) {
			na, _ := strconv.Atoi(ta[i])
			nb, _ := strconv.Atoi(tb[i])
			return cmp.Compare(na, nb)
		}
		return strings.Compare(ta[i], tb[i])
	}
	return cmp.Compare(len(ta), len(tb))
}

// Get returns the value p addresses in v (decoded JSON: maps, slices and
// scalars). "*" is not a wildcard here.
func Get(v any, p Pointer) (any, bool) {
	for _, tok := range p {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, ok := Index(tok, len(x))
			if !ok {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// Exists reports whether p addresses a value in v; a "*" token over an
// array is satisfied by any element.
func Exists(v any, p Pointer) bool {
	if len(p) == 0 {
		return true
	}
	switch x := v.(type) {
	case map[string]any:
		c, ok := x[p[0]]
		return ok && Exists(c, p[1:])
	case []any:
		if p[0] == Wildcard {
			if len(p) == 1 {
				return true
			}
			for _, e := range x {
				if Exists(e, p[1:]) {
					return true
				}
			}
			return false
		}
		i, ok := Index(p[0], len(x))
		return ok && Exists(x[i], p[1:])
	}
	return false
}

// Related reports whether the value p addresses in v and the value at path
// (concrete tokens, no wildcard) are on one branch: path is inside the
// addressed value, or the addressed value is inside path. It walks v to tell
// a "*" over an array from a literal "*" member.
func Related(v any, p, path Pointer) bool {
	n := min(len(p), len(path))
	for i, tok := range p[:n] {
		switch x := v.(type) {
		case map[string]any:
			if tok != path[i] {
				return false
			}
			v = x[path[i]]
		case []any:
			if tok != Wildcard && tok != path[i] {
				return false
			}
			j, ok := Index(path[i], len(x))
			if !ok {
				return false
			}
			v = x[j]
		default:
			return false
		}
	}
	return true
}
