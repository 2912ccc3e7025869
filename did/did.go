package did

import (
	"strings"

	"github.com/agentcert/agentcert/errcode"
)

// DID is a parsed decentralized identifier, did:<Method>:<ID>. ID is the
// method-specific identifier exactly as it appears in the string (percent
// encodings are kept).
type DID struct{ Method, ID string }

// String returns the DID as "did:<Method>:<ID>".
func (d DID) String() string { return "did:" + d.Method + ":" + d.ID }

// URL is a parsed DID URL: a DID followed by an optional path, query and
// fragment. Path includes its leading "/"; Query and Fragment exclude the "?"
// and "#" delimiters.
type URL struct {
	DID                   DID
	Path, Query, Fragment string
}

// String returns the DID URL. An empty Query or Fragment is omitted.
func (u URL) String() string {
	var b strings.Builder
	b.WriteString(u.DID.String())
	b.WriteString(u.Path)
	if u.Query != "" {
		b.WriteByte('?')
		b.WriteString(u.Query)
	}
	if u.Fragment != "" {
		b.WriteByte('#')
		b.WriteString(u.Fragment)
	}
	return b.String()
}

// Parse parses a DID following the DID Core ABNF:
//
//	did                = "did:" method-name ":" method-specific-id
//	method-name        = 1*( %x61-7A / DIGIT )
//	method-specific-id = *( *idchar ":" ) 1*idchar
//	idchar             = ALPHA / DIGIT / "." / "-" / "_" / pct-encoded
//
// A DID URL (with path, query or fragment) is not a DID; use ParseURL.
// Every failure is did_invalid.
func Parse(s string) (DID, error) {
	if len(s) > MaxDIDLength {
		return DID{}, errcode.New(errcode.DIDInvalid, "DID longer than %d bytes", MaxDIDLength)
	}
	rest, ok := strings.CutPrefix(s, "did:")
	if !ok {
		return DID{}, errcode.New(errcode.DIDInvalid, "a DID starts with \"did:\"")
	}
	method, id, ok := strings.Cut(rest, ":")
	if !ok {
		return DID{}, errcode.New(errcode.DIDInvalid, "DID has no method-specific id")
	}
	if method == "" {
		return DID{}, errcode.New(errcode.DIDInvalid, "DID method name is empty")
	}
	for i := 0; i < len(method); i++ {
		c := method[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return DID{}, errcode.New(errcode.DIDInvalid, "DID method name may hold only lowercase letters and digits")
		}
	}
	if err := checkMethodSpecificID(id); err != nil {
		return DID{}, err
	}
	return DID{Method: method, ID: id}, nil
}

func checkMethodSpecificID(id string) error {
	if id == "" || id[len(id)-1] == ':' {
		return errcode.New(errcode.DIDInvalid, "DID method-specific id is empty or ends in ':'")
	}
	return checkChars(id, "DID", func(c byte) bool { return isAlnum(c) || c == '.' || c == '-' || c == '_' || c == ':' })
}

// ParseURL parses a DID URL: a DID, then an optional path-abempty, "?" query
// and "#" fragment (RFC 3986 character sets). Every failure is did_invalid.
func ParseURL(s string) (URL, error) {
	if len(s) > MaxDIDLength {
		return URL{}, errcode.New(errcode.DIDInvalid, "DID URL longer than %d bytes", MaxDIDLength)
	}
	end := strings.IndexAny(s, "/?#")
	if end < 0 {
		end = len(s)
	}
	d, err := Parse(s[:end])
	if err != nil {
		return URL{}, err
	}
	u := URL{DID: d}
	rest := s[end:]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		u.Fragment = rest[i+1:]
		rest = rest[:i]
		if err := checkURIChars(u.Fragment, "/?"); err != nil {
			return URL{}, err
		}
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		u.Query = rest[i+1:]
		rest = rest[:i]
		if err := checkURIChars(u.Query, "/?"); err != nil {
			return URL{}, err
		}
	}
	u.Path = rest
	if err := checkURIChars(u.Path, "/"); err != nil {
		return URL{}, err
	}
	return u, nil
}

// checkURIChars accepts pchar (RFC 3986: unreserved, pct-encoded, sub-delims,
// ":" and "@") plus the characters in extra.
func checkURIChars(s, extra string) error {
	return checkChars(s, "DID URL", func(c byte) bool {
		return isAlnum(c) || strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0 || strings.IndexByte(extra, c) >= 0
	})
}

// checkChars accepts the bytes allowed admits and percent-encoded octets;
// what names s in errors.
func checkChars(s, what string, allowed func(c byte) bool) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case allowed(c):
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return errcode.New(errcode.DIDInvalid, "bad percent-encoding in %s", what)
			}
			i += 2
		default:
			return errcode.New(errcode.DIDInvalid, "character %q not allowed in a %s", c, what)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// absoluteRef resolves a verification method reference against the DID
// whose document holds it: "#frag" becomes did+"#frag"; anything else is
// returned as it is.
func absoluteRef(did, ref string) string {
	if strings.HasPrefix(ref, "#") {
		return did + ref
	}
	return ref
}
