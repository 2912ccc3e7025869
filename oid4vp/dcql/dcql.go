// Package dcql is the Digital Credentials Query Language of OpenID for
// Verifiable Presentations 1.0 (section 6) for SD-JWT VCs: the query model,
// a strict parser, claim path selection (section 7), and the two decisions
// made over a query: which claims a holder discloses to satisfy it (Select,
// the least that does) and whether a presentation satisfies it and
// discloses nothing it did not ask for (Check). It has no JOSE and no HTTP.
//
// Supported: credential queries of format dc+sd-jwt with meta.vct_values,
// claims with paths (object keys, array indexes, null for every element)
// and values, claim_sets, multiple, require_cryptographic_holder_binding,
// and credential_sets. Refused by name: other formats, trusted_authorities,
// intent_to_retain (an mdoc member).
package dcql

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonstrict"
)

// FormatSDJWTVC is the credential format identifier of SD-JWT VC.
const FormatSDJWTVC = "dc+sd-jwt"

// Limits on one query.
const (
	MaxBytes       = 64 << 10 // an encoded query
	MaxCredentials = 16       // credential queries
	MaxClaims      = 64       // claims of one credential query
	MaxClaimSets   = 16       // claim_sets (and options of one credential set)
	MaxPathLen     = 16       // components of one claim path
	MaxValues      = 64       // values of one claim
	MaxVCTValues   = 16
	MaxIDLen       = 128
)

// Query is a DCQL query.
type Query struct {
	Credentials    []CredentialQuery `json:"credentials"`
	CredentialSets []CredentialSet   `json:"credential_sets,omitempty"`
}

// CredentialQuery asks for one credential.
type CredentialQuery struct {
	ID                                string          `json:"id"`
	Format                            string          `json:"format"`
	Multiple                          bool            `json:"multiple,omitempty"`
	Meta                              Meta            `json:"meta"`
	Claims                            []ClaimQuery    `json:"claims,omitempty"`
	ClaimSets                         [][]string      `json:"claim_sets,omitempty"`
	RequireCryptographicHolderBinding *bool           `json:"require_cryptographic_holder_binding,omitempty"`
	TrustedAuthorities                json.RawMessage `json:"trusted_authorities,omitempty"`
}

// Meta holds the format-specific constraints; for dc+sd-jwt, the accepted
// vct values.
type Meta struct {
	VCTValues []string `json:"vct_values"`
}

// ClaimQuery asks for one claim, by path, optionally with the values it
// must have.
type ClaimQuery struct {
	ID             string          `json:"id,omitempty"`
	Path           Path            `json:"path"`
	Values         []any           `json:"values,omitempty"`
	IntentToRetain json.RawMessage `json:"intent_to_retain,omitempty"`
}

// CredentialSet lists alternatives (each a list of credential query ids)
// of which one must be presented when the set is required.
type CredentialSet struct {
	Options  [][]string `json:"options"`
	Required *bool      `json:"required,omitempty"`
}

// IsRequired reports whether the set must be satisfied (the default).
func (s CredentialSet) IsRequired() bool { return s.Required == nil || *s.Required }

// Path is a claims path pointer: each component a string (an object key),
// nil (every element of an array) or a non-negative int (one element).
type Path []any

// String renders the path as JSON, for messages.
func (p Path) String() string {
	b, _ := json.Marshal([]any(p))
	return string(b)
}

// UnmarshalJSON reads a path, keeping integers as int.
func (p *Path) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errcode.New(errcode.DCQLInvalid, "a claim path must be an array")
	}
	out := make(Path, 0, len(raw))
	for _, r := range raw {
		s := strings.TrimSpace(string(r))
		switch {
		case s == "null":
			out = append(out, nil)
		case strings.HasPrefix(s, `"`):
			var name string
			if err := json.Unmarshal(r, &name); err != nil {
				return errcode.New(errcode.DCQLInvalid, "a claim path component does not parse")
			}
			out = append(out, name)
		default:
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || s != strconv.Itoa(n) {
				return errcode.New(errcode.DCQLInvalid, "a claim path component must be a string, null or a non-negative integer")
			}
			out = append(out, n)
		}
	}
	*p = out
	return nil
}

// Parse decodes and validates a query (see Validate). Errors: too_large,
// dcql_invalid.
func Parse(b []byte) (*Query, error) {
	if len(b) > MaxBytes {
		return nil, errcode.New(errcode.TooLarge, "a DCQL query is at most %d bytes", MaxBytes)
	}
	var q Query
	if err := jsonstrict.Decode(b, &q); err != nil {
		if c := errcode.CodeOf(err); c == errcode.DCQLInvalid {
			return nil, err
		}
		return nil, errcode.Wrap(errcode.DCQLInvalid, err, "DCQL query: %s", err)
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return &q, nil
}

// Validate checks the rules of section 6 and this package's limits: ids
// non-empty, of [A-Za-z0-9_-] and unique; dc+sd-jwt with at least one vct;
// non-empty paths; claim ids present (and unique) when claim_sets name them,
// and every id claim_sets or credential_sets name defined; values scalars.
func (q *Query) Validate() error {
	bad := func(format string, args ...any) error { return errcode.New(errcode.DCQLInvalid, format, args...) }
	if len(q.Credentials) == 0 {
		return bad("a DCQL query needs at least one credential query")
	}
	if len(q.Credentials) > MaxCredentials {
		return errcode.New(errcode.TooLarge, "at most %d credential queries", MaxCredentials)
	}
	ids := map[string]bool{}
	for i := range q.Credentials {
		c := &q.Credentials[i]
		if err := checkID(c.ID); err != nil {
			return bad("credential query %d: %s", i, err)
		}
		if ids[c.ID] {
			return bad("credential query id %q is given twice", c.ID)
		}
		ids[c.ID] = true
		if c.Format != FormatSDJWTVC {
			return bad("credential query %q: format %q is not supported (only %s)", c.ID, c.Format, FormatSDJWTVC)
		}
		if len(c.TrustedAuthorities) > 0 {
			return bad("credential query %q: trusted_authorities is not supported", c.ID)
		}
		if len(c.Meta.VCTValues) == 0 || len(c.Meta.VCTValues) > MaxVCTValues {
			return bad("credential query %q: meta.vct_values must list 1 to %d vct values", c.ID, MaxVCTValues)
		}
		for _, v := range c.Meta.VCTValues {
			if v == "" {
				return bad("credential query %q: an empty vct value", c.ID)
			}
		}
		if len(c.Claims) > MaxClaims {
			return errcode.New(errcode.TooLarge, "credential query %q: at most %d claims", c.ID, MaxClaims)
		}
		claimIDs := map[string]bool{}
		for j, cl := range c.Claims {
			if len(cl.IntentToRetain) > 0 {
				return bad("credential query %q: intent_to_retain is an mdoc member", c.ID)
			}
			if len(cl.Path) == 0 || len(cl.Path) > MaxPathLen {
				return bad("credential query %q, claim %d: a path has 1 to %d components", c.ID, j, MaxPathLen)
			}
			if cl.ID != "" {
				if err := checkID(cl.ID); err != nil {
					return bad("credential query %q, claim %d: %s", c.ID, j, err)
				}
				if claimIDs[cl.ID] {
					return bad("credential query %q: claim id %q is given twice", c.ID, cl.ID)
				}
				claimIDs[cl.ID] = true
			}
			if len(cl.Values) > MaxValues {
				return errcode.New(errcode.TooLarge, "credential query %q, claim %d: at most %d values", c.ID, j, MaxValues)
			}
			for _, v := range cl.Values {
				switch v.(type) {
				case string, bool, json.Number:
				default:
					return bad("credential query %q, claim %d: values must be strings, numbers or booleans", c.ID, j)
				}
			}
		}
		if c.ClaimSets != nil {
			if len(c.ClaimSets) == 0 || len(c.ClaimSets) > MaxClaimSets {
				return bad("credential query %q: claim_sets has 1 to %d options", c.ID, MaxClaimSets)
			}
			if len(c.Claims) == 0 {
				return bad("credential query %q: claim_sets without claims", c.ID)
			}
			for _, set := range c.ClaimSets {
				if len(set) == 0 {
					return bad("credential query %q: an empty claim set", c.ID)
				}
				for _, id := range set {
					if !claimIDs[id] {
						return bad("credential query %q: claim set names claim %q, which is not defined", c.ID, id)
					}
				}
			}
		}
	}
	if q.CredentialSets != nil && len(q.CredentialSets) == 0 {
		return bad("credential_sets must not be empty")
	}
	if len(q.CredentialSets) > MaxClaimSets {
		return errcode.New(errcode.TooLarge, "at most %d credential sets", MaxClaimSets)
	}
	for i, s := range q.CredentialSets {
		if len(s.Options) == 0 || len(s.Options) > MaxClaimSets {
			return bad("credential set %d: 1 to %d options", i, MaxClaimSets)
		}
		for _, o := range s.Options {
			if len(o) == 0 {
				return bad("credential set %d: an empty option", i)
			}
			for _, id := range o {
				if !ids[id] {
					return bad("credential set %d names credential query %q, which is not defined", i, id)
				}
			}
		}
	}
	return nil
}

// checkID checks an identifier: non-empty, at most MaxIDLen, of
// alphanumerics, underscores and hyphens.
func checkID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return errcode.New(errcode.DCQLInvalid, "an id has 1 to %d characters", MaxIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return errcode.New(errcode.DCQLInvalid, "id %q may hold only letters, digits, _ and -", id)
		}
	}
	return nil
}

// Credential returns the credential query with that id.
func (q *Query) Credential(id string) (*CredentialQuery, bool) {
	for i := range q.Credentials {
		if q.Credentials[i].ID == id {
			return &q.Credentials[i], true
		}
	}
	return nil, false
}

// HolderBinding reports whether the query demands key binding (the
// default).
func (c *CredentialQuery) HolderBinding() bool {
	return c.RequireCryptographicHolderBinding == nil || *c.RequireCryptographicHolderBinding
}
