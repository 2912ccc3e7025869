// Package jsonval tells whether a Go value is already made of the generic
// JSON values that decoding gives (map[string]any, []any, string,
// json.Number, bool, nil), so that sdjwt and schemas need not encode and
// decode a payload that an earlier step already normalized.
package jsonval

import (
	"encoding/json"
	"unicode/utf8"
)

// IsPlain reports whether v holds only generic JSON values, with valid
// UTF-8 strings and member names, nested at most maxDepth containers deep.
// Such a value decodes back to itself after encoding.
func IsPlain(v any, maxDepth int) bool {
	switch x := v.(type) {
	case nil, bool, json.Number:
		return true
	case string:
		return utf8.ValidString(x)
	case map[string]any:
		if maxDepth < 1 {
			return false
		}
		for k, e := range x {
			if !utf8.ValidString(k) || !IsPlain(e, maxDepth-1) {
				return false
			}
		}
		return true
	case []any:
		if maxDepth < 1 {
			return false
		}
		for _, e := range x {
			if !IsPlain(e, maxDepth-1) {
				return false
			}
		}
		return true
	}
	return false
}
