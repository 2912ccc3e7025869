package issuer

import (
	"fmt"

	"github.com/agentcert/agentcert/internal/jsonval"
	"github.com/agentcert/agentcert/sdjwt"
)

// Bounds of what signing adds to the encoded claims, used by surelyFits.
const (
	// perDisclosure bounds what making one claim or array element
	// selectively disclosable adds besides the claim itself: in the
	// disclosure its salt (22 characters), brackets, quotes and commas; in
	// its parent its digest (43 characters) as an _sd entry or as
	// {"...": digest}, and the _sd array that holds it.
	perDisclosure = 128
	// perHeader bounds the protected header without its kid (alg, typ and
	// their quotes), and sigChars the encoded signature (ES512's 132 bytes
	// and anything shorter, ES256 and EdDSA among them).
	perHeader = 64
	sigChars  = 176
	// sdAlgChars is the "_sd_alg" member signing adds to the payload.
	sdAlgChars = len(`,"_sd_alg":"sha-256"`)
)

// fits refuses (too_large), before a status index is drawn, a payload that
// sdjwt.Issue would refuse at signing for its size or its number of
// disclosures; payload carries the longest status claim an index can give.
// Most payloads are far below the limits, which surelyFits shows without
// signing; only one near them is signed on trial, as it will be.
func (s *Service) fits(payload map[string]any, sd []string) error {
	key := s.keys.Active()
	if surelyFits(payload, key.KeyID()) {
		return nil
	}
	if _, err := sdjwt.Issue(payload, sd, key, nil); err != nil {
		return fmt.Errorf("issuer: sign on trial: %w", err)
	}
	return nil
}

// surelyFits reports whether payload, signed by a key with id kid with any
// choice of selectively disclosable claims, is certain to stay within the
// limits sdjwt.Issue enforces: at most sdjwt.DefaultMaxDisclosures
// disclosures and sdjwt.DefaultMaxPresentationBytes with
// sdjwt.KBReserveBytes to spare. false means only that the bound cannot
// show it.
func surelyFits(payload map[string]any, kid string) bool {
	size, n, ok := sizeBound(payload, kid)
	return ok && n <= sdjwt.DefaultMaxDisclosures && size+sdjwt.KBReserveBytes <= sdjwt.DefaultMaxPresentationBytes
}

// sizeBound bounds the length of the SD-JWT that signing payload gives
// (with any choice of disclosures) and the number of its disclosures (no
// more than the payload's members and elements); ok is false when payload
// is not generic JSON.
func sizeBound(payload map[string]any, kid string) (size, n int, ok bool) {
	enc, ok := jsonval.EncodedLen(payload, false) // counted, not encoded
	if !ok {
		return 0, 0, false
	}
	n = members(payload)
	// Every byte of the encoded claims lands once in the payload or in a
	// disclosure; the kid is escaped to at most 6 bytes a character.
	raw := enc + sdAlgChars + perDisclosure*n + perHeader + 6*len(kid)
	// base64url: 4 characters for 3 bytes, rounded up in each of the n+2
	// parts encoded apart; then the signature and the n+3 separators.
	return raw*4/3 + (n + 2) + sigChars + (n + 3), n, true
}

// members counts the object members and array elements in v, at every
// depth: each may become a disclosure.
func members(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for _, m := range x {
			n += 1 + members(m)
		}
	case []any:
		for _, e := range x {
			n += 1 + members(e)
		}
	}
	return n
}
