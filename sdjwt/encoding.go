package sdjwt

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/agentcert/agentcert/errcode"
)

// Header typ values and the one _sd_alg this package speaks.
const (
	TypVC       = "dc+sd-jwt" // SD-JWT VC (draft-ietf-oauth-sd-jwt-vc)
	TypVCLegacy = "vc+sd-jwt" // SD-JWT VC before draft-06; accepted by verifiers, never issued
	TypKB       = "kb+jwt"    // Key Binding JWT (RFC 9901 section 4.3)
	SDAlgSHA256 = "sha-256"   // the only _sd_alg supported
)

var b64 = base64.RawURLEncoding

// SDHash returns base64url(SHA-256(s)). Over a disclosure string it is the
// disclosure's digest; over "<JWT>~<D1>~...~<Dn>~" it is a KB-JWT's sd_hash.
func SDHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return b64.EncodeToString(sum[:])
}

// isB64URL reports whether s is non-empty and uses only the unpadded
// base64url alphabet. Go's decoder silently skips CR and LF; we do not.
func isB64URL(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !b64URLAlphabet[s[i]] {
			return false
		}
	}
	return true
}

// b64URLAlphabet marks the bytes of the base64url alphabet.
var b64URLAlphabet = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['_'] = true, true
	return t
}()

// decodeB64 decodes an unpadded base64url string strictly.
func decodeB64(s string) ([]byte, bool) {
	if !isB64URL(s) {
		return nil, false
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

// decodeJSON decodes exactly one JSON value (numbers as json.Number).
// Nesting deeper than maxDepth is too_large; any other failure, including
// a duplicate member name or invalid UTF-8, is reported with code bad.
func decodeJSON(b []byte, maxDepth int, bad errcode.Code, what string) (any, error) {
	v, err := parseJSON(b, maxDepth)
	if errors.Is(err, errJSONDepth) {
		return nil, errcode.New(errcode.TooLarge, "%s nests deeper than %d", what, maxDepth)
	}
	if err != nil {
		return nil, errcode.Wrap(bad, err, "%s is not valid JSON", what)
	}
	return v, nil
}

// decodeObject decodes base64url-encoded JSON that must be an object.
func decodeObject(s string, maxDepth int, bad errcode.Code, what string) (map[string]any, error) {
	b, ok := decodeB64(s)
	if !ok {
		return nil, errcode.New(bad, "%s is not base64url", what)
	}
	v, err := decodeJSON(b, maxDepth, bad, what)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errcode.New(bad, "%s is not a JSON object", what)
	}
	return m, nil
}

// marshalJSON encodes v without HTML escaping and without a trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// splitJWS splits a compact JWS into its three parts.
func splitJWS(s string) (hdr, payload, sig string, ok bool) {
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return "", "", "", false
	}
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return "", "", "", false
	}
	j += i + 1
	if strings.IndexByte(s[j+1:], '.') >= 0 {
		return "", "", "", false
	}
	return s[:i], s[i+1 : j], s[j+1:], true
}
