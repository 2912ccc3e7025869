package sdjwt

import (
	"strconv"
	"strings"

	"github.com/agentcert/agentcert/errcode"
)

// parsePointer parses an RFC 6901 JSON Pointer into its reference tokens;
// "" (the whole document) gives no tokens.
func parsePointer(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if s[0] != '/' {
		return nil, errcode.New(errcode.InvalidInput, "JSON Pointer %q does not start with '/'", s)
	}
	toks := strings.Split(s[1:], "/")
	for i, t := range toks {
		if !strings.Contains(t, "~") {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(t); j++ {
			if t[j] != '~' {
				b.WriteByte(t[j])
				continue
			}
			if j+1 < len(t) && (t[j+1] == '0' || t[j+1] == '1') {
				b.WriteByte("~/"[t[j+1]-'0'])
				j++
				continue
			}
			return nil, errcode.New(errcode.InvalidInput, "JSON Pointer %q has a bad '~' escape", s)
		}
		toks[i] = b.String()
	}
	return toks, nil
}

// arrayIndex parses a canonical RFC 6901 array index ("0", "17", never "01").
func arrayIndex(tok string, n int) (int, bool) {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

// pointerExists reports whether toks address a value in v. A "*" token
// over an array stands for every element.
func pointerExists(v any, toks []string) bool {
	if len(toks) == 0 {
		return true
	}
	switch x := v.(type) {
	case map[string]any:
		c, ok := x[toks[0]]
		return ok && pointerExists(c, toks[1:])
	case []any:
		if toks[0] == "*" {
			if len(toks) == 1 {
				return true
			}
			for _, e := range x {
				if pointerExists(e, toks[1:]) {
					return true
				}
			}
			return false
		}
		i, ok := arrayIndex(toks[0], len(x))
		return ok && pointerExists(x[i], toks[1:])
	}
	return false
}

// pointerRelated reports whether the value that toks address and the value
// at path are on one branch: path is inside the pointed value, or the
// pointed value is inside path. It walks v (the processed payload) to tell
// a "*" over an array from a literal "*" key.
func pointerRelated(v any, toks, path []string) bool {
	n := min(len(toks), len(path))
	for i, tok := range toks[:n] {
		switch x := v.(type) {
		case map[string]any:
			if tok != path[i] {
				return false
			}
			v = x[path[i]]
		case []any:
			if tok != "*" && tok != path[i] {
				return false
			}
			j, ok := arrayIndex(path[i], len(x))
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
