package schemas

import (
	"strconv"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonptr"
)

// Limits on Disclosable's input.
const (
	// MaxPointers bounds how many pointers one issuance may request.
	MaxPointers = 512
	// MaxPointerLen bounds the length of one requested pointer, in bytes.
	MaxPointerLen = 1024
	// maxPlainDepth bounds how deep a payload of generic JSON values
	// Validate takes as it is; a deeper one is re-encoded first.
	maxPlainDepth = 64
)

// Disclosable returns the JSON Pointers (RFC 6901) that sdjwt.Issue must make
// selectively disclosable for a credential of type vct: every claim the type
// metadata marks "always", followed by the requested pointers, without
// duplicates. A final token "*" stands for every element of an array
// ("/permissions/*"); "*" is allowed nowhere else.
//
// Each requested pointer is judged by the most specific type metadata claim
// path that covers it (the longest path matching a prefix of the pointer; a
// null path component matches any array index and "*"). When that claim is
// marked "never" the request fails with not_disclosable, so a pointer to a
// "never" claim, or to anything inside one, is refused: "/cnf/jwk" lies inside
// "cnf". A pointer no claim path covers is allowed, the type metadata default.
// A requested pointer already covered by an "always" pointer is dropped.
//
// Malformed pointers (not starting with "/", a bad "~" escape, "*" before the
// last token, the names _sd, _sd_alg or ...) and an unknown vct give
// invalid_input; more than MaxPointers pointers, or one longer than
// MaxPointerLen, give too_large.
func (r *Registry) Disclosable(vct string, requested []string) ([]string, error) {
	e, ok := r.byVCT[vct]
	if !ok {
		return nil, errcode.New(errcode.InvalidInput, "unknown vct %q", vct)
	}
	if len(requested) > MaxPointers {
		return nil, errcode.New(errcode.TooLarge, "%d disclosable pointers requested, at most %d allowed", len(requested), MaxPointers)
	}
	out := make([]string, 0, len(e.always)+len(requested))
	seen := make(map[string]bool, cap(out))
	var alwaysTokens [][]string
	for _, p := range e.always {
		out = append(out, p)
		seen[p] = true
		toks, _ := parsePointer(p) // built by parseMetadata, always valid
		alwaysTokens = append(alwaysTokens, toks)
	}
	for _, p := range requested {
		if len(p) > MaxPointerLen {
			return nil, errcode.New(errcode.TooLarge, "pointer of %d bytes, at most %d allowed", len(p), MaxPointerLen)
		}
		toks, err := parsePointer(p)
		if err != nil {
			return nil, err
		}
		if rule, ok := e.ruleFor(toks); ok && rule.sd == Never {
			return nil, errcode.New(errcode.NotDisclosable, "%q is never selectively disclosable (type metadata claim %s)", p, rule.String())
		}
		canon := jsonptr.Pointer(toks).String()
		if seen[canon] || coveredBy(toks, alwaysTokens) {
			continue
		}
		seen[canon] = true
		out = append(out, canon)
	}
	return out, nil
}

// parsePointer parses a JSON Pointer (jsonptr's rules) and applies the
// restrictions Disclosable documents.
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, errcode.New(errcode.InvalidInput, "the empty pointer addresses the whole payload, not a claim")
	}
	toks, err := jsonptr.Parse(p)
	if err != nil {
		return nil, err
	}
	for i, u := range toks {
		switch u {
		case "_sd", "_sd_alg", "...":
			return nil, errcode.New(errcode.InvalidInput, "pointer %q names the reserved claim %q", p, u)
		case jsonptr.Wildcard:
			// An escaped token can never be "*", so the text had "*" here.
			if i == 0 || i != len(toks)-1 {
				return nil, errcode.New(errcode.InvalidInput, "pointer %q: * may only be the last token, after an array", p)
			}
		}
	}
	return toks, nil
}

// ruleFor returns the most specific claim rule covering toks. When several
// rules of that length match, a "never" rule wins (fail closed).
func (e *entry) ruleFor(toks []string) (claimRule, bool) {
	best, found := claimRule{}, false
	for _, r := range e.rules {
		if len(r.path) > len(toks) || !r.matches(toks) {
			continue
		}
		switch {
		case !found, len(r.path) > len(best.path):
			best, found = r, true
		case len(r.path) == len(best.path) && r.sd == Never:
			best = r
		}
	}
	return best, found
}

// matches reports whether the rule's path matches the first len(path) tokens.
func (r claimRule) matches(toks []string) bool {
	for i, p := range r.path {
		t := toks[i]
		switch p.kind {
		case elemKey:
			if t != p.key {
				return false
			}
		case elemIndex:
			if t != "*" && t != strconv.Itoa(p.index) {
				return false
			}
		case elemAll:
			if t != "*" && !jsonptr.IsIndex(t) {
				return false
			}
		}
	}
	return true
}

// String renders the claim path the way type metadata writes it.
func (r claimRule) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range r.path {
		if i > 0 {
			b.WriteString(", ")
		}
		switch p.kind {
		case elemKey:
			b.WriteString(strconv.Quote(p.key))
		case elemIndex:
			b.WriteString(strconv.Itoa(p.index))
		case elemAll:
			b.WriteString("null")
		}
	}
	b.WriteByte(']')
	return b.String()
}

// coveredBy reports whether toks names the same claims as, or some of the
// claims of, one of the always pointers of the same length.
func coveredBy(toks []string, always [][]string) bool {
next:
	for _, a := range always {
		if len(a) != len(toks) {
			continue
		}
		for i := range a {
			if a[i] == toks[i] || (a[i] == "*" && i == len(a)-1 && jsonptr.IsIndex(toks[i])) {
				continue
			}
			continue next
		}
		return true
	}
	return false
}
