package verifier

import (
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/sdjwt"
)

// checkClear verifies that each named claim is in payload in clear, with no
// _sd digests or "..." array entries inside it.
func checkClear(payload map[string]any, names []string) error {
	for _, n := range names {
		v, ok := payload[n]
		if !ok {
			return errcode.New(errcode.MissingClaim, "claim %q must be present in clear; it may not be selectively disclosable", n)
		}
		if hidesClaims(v) {
			return errcode.New(errcode.MissingClaim, "claim %q must not contain selectively disclosable parts", n)
		}
	}
	return nil
}

// checkClearElements verifies that each named array claim is in payload in
// clear and that every element, in clear or disclosed, hides nothing.
func checkClearElements(payload map[string]any, disclosure func(digest string) (*sdjwt.Disclosure, bool), names []string) error {
	for _, n := range names {
		arr, ok := payload[n].([]any)
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
