package server

import (
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/verifier"
)

// verifyBodyFields are the members of a POST /v1/verify body, in the order
// of their bit in a seen-set.
var verifyBodyFields = [...]string{"presentation", "audience", "nonce", "action", "approval", "request"}

// decodeVerifyBodyFast decodes the usual POST /v1/verify body in one scan:
// an object of the known members, each once, whose string values hold
// printable ASCII without escapes (a presentation, an audience, a nonce,
// an action) and whose request member, an object or null, goes to
// jsonstrict.DecodeValue. It reports ok = false for anything else, valid
// or not, and the caller then decodes the body the general way, which
// gives the same Request for what this accepts (FuzzDecodeVerifyRequest
// holds the two to each other) and the precise error for what it refuses.
func decodeVerifyBodyFast(b []byte) (req verifier.Request, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return req, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return req, skipWS(b, i+1) == len(b)
	}
	var seen uint
	for {
		name, j, ok := plainString(b, i)
		if !ok {
			return req, false
		}
		field := -1
		for k, f := range verifyBodyFields {
			if name == f {
				field = k
				break
			}
		}
		if field < 0 || seen&(1<<field) != 0 {
			return req, false
		}
		seen |= 1 << field
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return req, false
		}
		i = skipWS(b, i+1)
		if i+4 <= len(b) && string(b[i:i+4]) == "null" {
			i += 4 // null leaves the member unset, as encoding/json does
		} else if field == 5 { // request
			// The body's object is one level of jsonstrict's depth, so the
			// request may nest one level less than a value decoded alone.
			end, depth, ok := skipValue(b, i)
			if !ok || b[i] != '{' || depth > jsonstrict.MaxDepth-1 {
				return req, false
			}
			v, err := jsonstrict.DecodeValue(b[i:end])
			m, isObject := v.(map[string]any)
			if err != nil || !isObject {
				return req, false
			}
			req.Attributes, i = m, end
		} else {
			s, j, ok := plainString(b, i)
			if !ok {
				return req, false
			}
			switch field {
			case 0:
				req.Presentation = s
			case 1:
				req.Audience = s
			case 2:
				req.Nonce = s
			case 3:
				req.Action = s
			case 4:
				req.Approval = s
			}
			i = j
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return req, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return req, skipWS(b, i+1) == len(b)
		default:
			return req, false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads the JSON string at b[i] when it holds printable ASCII
// and no escape; it returns the string and the index after its closing
// quote.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", 0, false
		}
	}
	return "", 0, false
}

// skipValue returns the end of the object or array at b[i], and how deep
// it nests, by counting brackets outside strings. It validates nothing:
// the value is decoded strictly afterwards, and a miscount only makes that
// decoding fail.
func skipValue(b []byte, i int) (end, maxDepth int, ok bool) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			for j++; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
		case '{', '[':
			depth++
			maxDepth = max(maxDepth, depth)
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, maxDepth, true
			}
		}
	}
	return 0, 0, false
}
