package sdjwt

import (
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

// appendJSON appends the encoding of v to dst (jsonval.AppendValue
// without HTML escaping, as marshalJSON writes); ok is false, and dst to be
// thrown away, for a value other than generic JSON.
func appendJSON(dst []byte, v any) ([]byte, bool) { return jsonval.AppendValue(dst, v, false) }

// appendJSONString writes s as encoding/json does with HTML escaping off.
func appendJSONString(dst []byte, s string) []byte { return jsonval.AppendString(dst, s, false) }

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
