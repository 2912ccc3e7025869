package jsonval

import (
	"encoding/json"
	"unicode/utf8"
)

// EncodedLen is len of what AppendValue(nil, v, escapeHTML) writes,
// counted without writing it (nothing is allocated), with ok as
// AppendValue's: false for a value that is not generic JSON.
func EncodedLen(v any, escapeHTML bool) (int, bool) {
	switch x := v.(type) {
	case nil:
		return len("null"), true
	case bool:
		if x {
			return len("true"), true
		}
		return len("false"), true
	case string:
		return StringLen(x, escapeHTML), true
	case json.Number:
		if !ValidNumber(string(x)) {
			return 0, false
		}
		return len(x), true
	case []any:
		if x == nil {
			return len("null"), true
		}
		n := 2 + max(len(x)-1, 0) // brackets, commas
		for _, e := range x {
			m, ok := EncodedLen(e, escapeHTML)
			if !ok {
				return 0, false
			}
			n += m
		}
		return n, true
	case map[string]any:
		if x == nil {
			return len("null"), true
		}
		n := 2 + max(len(x)-1, 0) // braces, commas
		for k, e := range x {
			m, ok := EncodedLen(e, escapeHTML)
			if !ok {
				return 0, false
			}
			n += StringLen(k, escapeHTML) + 1 + m // name, colon, value
		}
		return n, true
	}
	return 0, false
}

// StringLen is len of what AppendString(nil, s, escapeHTML) writes.
func StringLen(s string, escapeHTML bool) int {
	n := 2 // quotes
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			switch {
			case b >= 0x20 && b != '"' && b != '\\' && (!escapeHTML || (b != '<' && b != '>' && b != '&')):
				n++
			case b == '\\' || b == '"' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
				n += 2
			default:
				n += len(`\u0000`)
			}
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			n += len(`\ufffd`)
		case c == '\u2028' || c == '\u2029':
			n += len(`\u2028`)
		default:
			n += size
		}
		i += size
	}
	return n
}
