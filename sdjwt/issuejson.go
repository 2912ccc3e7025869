package sdjwt

import (
	"encoding/json"
	"slices"

	"github.com/agentcert/agentcert/internal/jsonval"
)

// The issue side's JSON encoder. Issue works on generic JSON values only
// (Normalize makes them so), and encoding the payload and each disclosure
// through encoding/json's reflection was a large share of its cost that is
// not signing. appendJSON writes exactly the bytes marshalJSON writes for
// such values (members sorted by name, no HTML escaping, U+2028 and U+2029
// escaped, invalid UTF-8 replaced by U+FFFD); FuzzAppendJSON compares the
// two. Anything else it reports as not handled, and the caller falls back
// to marshalJSON, so that an odd value gets encoding/json's answer (or its
// error) and never a different one.

// encodeJSON is marshalJSON for the values Issue builds.
func encodeJSON(v any) ([]byte, error) {
	if b, ok := appendJSON(make([]byte, 0, 512), v); ok {
		return b, nil
	}
	return marshalJSON(v)
}

// appendJSON appends the encoding of v to dst. ok is false when v holds a
// value other than map[string]any, []any, string, json.Number (a valid
// number), bool or nil; dst is then to be thrown away.
func appendJSON(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case bool:
		if x {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	case string:
		return appendJSONString(dst, x), true
	case json.Number:
		if !validNumber(string(x)) {
			return dst, false
		}
		return append(dst, x...), true
	case []any:
		if x == nil {
			return append(dst, "null"...), true
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = appendJSON(dst, e); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	case map[string]any:
		if x == nil {
			return append(dst, "null"...), true
		}
		var small [16]string
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var ok bool
			if dst, ok = appendJSON(dst, x[k]); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	}
	return dst, false
}

// appendJSONString writes s as encoding/json does with HTML escaping off.
func appendJSONString(dst []byte, s string) []byte { return jsonval.AppendString(dst, s, false) }

// validNumber reports whether s is a JSON number (RFC 8259, section 6).
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// encodeDisclosure is newDisclosure without the detour through []any and
// encoding/json: base64url of ["salt","name",value] (or ["salt",value] for
// an array element).
func encodeDisclosure(salt, name string, isArray bool, value any) (string, error) {
	buf := make([]byte, 0, 128)
	buf = append(buf, '[')
	buf = appendJSONString(buf, salt)
	if !isArray {
		buf = append(buf, ',')
		buf = appendJSONString(buf, name)
	}
	buf = append(buf, ',')
	buf, ok := appendJSON(buf, value)
	if !ok {
		return newDisclosure(salt, name, isArray, value)
	}
	buf = append(buf, ']')
	return b64.EncodeToString(buf), nil
}
