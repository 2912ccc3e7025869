package approval

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/agentcert/agentcert/errcode"
)

// LinkScheme is the URI scheme of an approval link: the approval request by
// value, for an approver's tool (agentcert approve takes one in place of a
// file):
//
//	agentcert-approval:?request=<base64url of the request's JSON>
//
// The link holds nothing a verifier relies on: the approver's tool checks
// the request's digest when it reads the link, and the verifier compares the
// signed digest with the request it is asked to authorize.
const LinkScheme = "agentcert-approval"

// Link returns r as an approval link.
func Link(r Request) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "approval: encode the request for its link")
	}
	return LinkScheme + ":?" + url.Values{"request": {base64.RawURLEncoding.EncodeToString(b)}}.Encode(), nil
}

// IsLink reports whether s looks like an approval link (whatever its
// validity), so that a tool can tell a link from a file name.
func IsLink(s string) bool {
	return strings.HasPrefix(strings.TrimSpace(s), LinkScheme+":")
}

// ParseLink reads an approval link made by Link, with ParseRequest's
// checks on the request it carries. Failures are invalid_input (not a
// link of this scheme, no or a repeated request parameter, not base64url),
// too_large, and ParseRequest's own.
func ParseLink(s string) (Request, error) {
	s = strings.TrimSpace(s)
	if len(s) > 2*MaxRequestSize {
		return Request{}, errcode.New(errcode.TooLarge, "approval: the link exceeds %d bytes", 2*MaxRequestSize)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != LinkScheme || u.Opaque != "" || u.Host != "" || u.Path != "" || u.Fragment != "" {
		return Request{}, errcode.New(errcode.InvalidInput, "approval: not an %s: link", LinkScheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || len(q) != 1 || len(q["request"]) != 1 {
		return Request{}, errcode.New(errcode.InvalidInput, "approval: the link must carry exactly one request parameter")
	}
	b, err := base64.RawURLEncoding.DecodeString(q["request"][0])
	if err != nil {
		return Request{}, errcode.Wrap(errcode.InvalidInput, err, "approval: the link's request is not base64url")
	}
	return ParseRequest(b)
}
