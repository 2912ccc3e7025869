package sdjwt

import "time"

// The bounds below are the only size, count and depth limits of this package.
const (
	// DefaultMaxPresentationBytes bounds the length of a compact SD-JWT
	// (issuer JWT, disclosures and KB-JWT together).
	DefaultMaxPresentationBytes = 64 << 10
	// DefaultMaxDisclosures bounds the number of disclosures in one SD-JWT.
	DefaultMaxDisclosures = 256
	// DefaultMaxDepth bounds the JSON nesting depth of the issuer payload, of
	// each disclosure and of the processed payload that disclosures build.
	DefaultMaxDepth = 32
	// DefaultMaxHops bounds the number of KB-SD-JWTs in a delegation chain.
	DefaultMaxHops = 8

	// KBReserveBytes is the room Issue leaves under
	// DefaultMaxPresentationBytes for the KB-JWT a holder appends: Issue
	// refuses a credential that, so presented, verifiers would refuse.
	KBReserveBytes = 2 << 10

	// DefaultMaxKBAge is how old a KB-JWT iat may be when VerifyOptions.MaxKBAge is zero.
	DefaultMaxKBAge = 5 * time.Minute

	// saltBytes is the entropy of every salt and decoy: 128 bits (RFC 9901 section 9.3).
	saltBytes = 16
)

// Limits bounds what Parse and Verify accept. A zero field takes its default.
type Limits struct {
	MaxPresentationBytes int // default 64 KiB
	MaxDisclosures       int // default 256
	MaxDepth             int // default 32 (JSON nesting depth of payloads and disclosure values)
	MaxHops              int // default 8 (KB-SD-JWTs in a delegation chain)
}

// DefaultLimits returns the limits used when none are given.
func DefaultLimits() Limits {
	return Limits{
		MaxPresentationBytes: DefaultMaxPresentationBytes,
		MaxDisclosures:       DefaultMaxDisclosures,
		MaxDepth:             DefaultMaxDepth,
		MaxHops:              DefaultMaxHops,
	}
}

// withDefaults fills every zero or negative field with its default.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxPresentationBytes <= 0 {
		l.MaxPresentationBytes = d.MaxPresentationBytes
	}
	if l.MaxDisclosures <= 0 {
		l.MaxDisclosures = d.MaxDisclosures
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxHops <= 0 {
		l.MaxHops = d.MaxHops
	}
	return l
}
