package verifier

import (
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
)

// checkRestrictions enforces the restricting claims of a vct (see
// schemas.Restriction): each must be in clear in the issuer-signed payload
// with nothing inside it selectively disclosable (for an Elements claim:
// inside each element shown), a claim that arrives through a disclosure is
// refused, a Required one must be present, and any other may be absent
// only when nothing at the top level is withheld (else the holder could
// have withheld it).
func checkRestrictions(payload, claims map[string]any, disclosure func(digest string) (*sdjwt.Disclosure, bool), rs []schemas.Restriction) error {
	for _, r := range rs {
		v, inClear := payload[r.Claim]
		switch {
		case !inClear && claims[r.Claim] != nil:
			return errcode.New(errcode.MissingClaim, "claim %q must be present in clear; it may not be selectively disclosable", r.Claim)
		case !inClear && r.Required:
			return errcode.New(errcode.MissingClaim, "claim %q must be present in clear; it may not be selectively disclosable", r.Claim)
		case !inClear && withholdsTopLevel(payload, disclosure):
			return errcode.New(errcode.MissingClaim, "claim %q is not in clear and the presentation withholds top-level claims, which could hide it; the issuer must state it in clear", r.Claim)
		case !inClear:
			continue // provably absent
		case r.Elements:
			if err := checkElements(r.Claim, v, disclosure); err != nil {
				return err
			}
		case hidesClaims(v):
			return errcode.New(errcode.MissingClaim, "claim %q must not contain selectively disclosable parts", r.Claim)
		}
	}
	return nil
}

// withholdsTopLevel reports whether a top-level _sd digest has no
// disclosure in the presentation.
func withholdsTopLevel(payload map[string]any, disclosure func(digest string) (*sdjwt.Disclosure, bool)) bool {
	sd, _ := payload["_sd"].([]any)
	for _, d := range sd {
		s, _ := d.(string)
		if _, ok := disclosure(s); !ok {
			return true
		}
	}
	return false
}

// checkElements verifies that the array claim n is in clear and that every
// element, in clear or disclosed, hides nothing.
func checkElements(n string, v any, disclosure func(digest string) (*sdjwt.Disclosure, bool)) error {
	arr, ok := v.([]any)
	if !ok {
		return errcode.New(errcode.MissingClaim, "claim %q must be an array in clear", n)
	}
	for i, e := range arr {
		if m, ok := e.(map[string]any); ok && len(m) == 1 {
			if digest, ok := m["..."].(string); ok {
				d, disclosed := disclosure(digest)
				if !disclosed {
					continue // an element not shown grants nothing
				}
				e = d.Value
			}
		}
		if hidesClaims(e) {
			return errcode.New(errcode.MissingClaim, "element %d of claim %q must not contain selectively disclosable parts", i, n)
		}
	}
	return nil
}

func hidesClaims(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["_sd"]; ok {
			return true
		}
		if _, ok := x["..."]; ok && len(x) == 1 {
			return true
		}
		for _, e := range x {
			if hidesClaims(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hidesClaims(e) {
				return true
			}
		}
	}
	return false
}
