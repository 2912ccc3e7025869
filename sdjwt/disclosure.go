package sdjwt

import (
	"github.com/agentcert/agentcert/errcode"
)

// Disclosure is one decoded disclosure (RFC 9901 section 4.2).
//
// Raw is the base64url string exactly as sent and Digest is
// base64url(SHA-256(ASCII(Raw))): digests are never computed over
// re-serialized JSON.
type Disclosure struct {
	Raw, Digest, Salt string
	Name              string // "" for an array element
	IsArrayElement    bool
	Value             any // decoded with json.Decoder.UseNumber (numbers stay json.Number)
}

// ParseDisclosure decodes one disclosure string with the default depth
// limit. It checks structure only (disclosure_malformed): a base64url JSON
// array of three elements [salt, name, value] or two [salt, value], with a
// string salt and name. Whether the name is allowed where the disclosure is
// used is checked by ProcessDisclosures.
func ParseDisclosure(raw string) (*Disclosure, error) {
	return parseDisclosure(raw, DefaultMaxDepth)
}

func parseDisclosure(raw string, maxDepth int) (*Disclosure, error) {
	b, ok := decodeB64(raw)
	if !ok {
		return nil, errcode.New(errcode.DisclosureMalformed, "disclosure is not base64url")
	}
	v, err := decodeJSON(b, maxDepth, errcode.DisclosureMalformed, "disclosure")
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]any)
	if !ok || (len(arr) != 2 && len(arr) != 3) {
		return nil, errcode.New(errcode.DisclosureMalformed, "disclosure is not a JSON array of 2 or 3 elements")
	}
	salt, ok := arr[0].(string)
	if !ok {
		return nil, errcode.New(errcode.DisclosureMalformed, "disclosure salt is not a string")
	}
	d := &Disclosure{Raw: raw, Digest: SDHash(raw), Salt: salt}
	if len(arr) == 2 {
		d.IsArrayElement = true
		d.Value = arr[1]
		return d, nil
	}
	name, ok := arr[1].(string)
	if !ok {
		return nil, errcode.New(errcode.DisclosureMalformed, "disclosure claim name is not a string")
	}
	d.Name = name
	d.Value = arr[2]
	return d, nil
}

// newDisclosure builds the disclosure string for a claim (isArray false) or
// an array element (isArray true) with the given salt.
func newDisclosure(salt, name string, isArray bool, value any) (raw string, err error) {
	var arr []any
	if isArray {
		arr = []any{salt, value}
	} else {
		arr = []any{salt, name, value}
	}
	b, err := marshalJSON(arr)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "claim value cannot be encoded as JSON")
	}
	return b64.EncodeToString(b), nil
}
