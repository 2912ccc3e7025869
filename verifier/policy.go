package verifier

import (
	"time"

	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/schemas"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Policy is what a verifier accepts.
type Policy struct {
	// Trusted maps an issuer (a DID or an https issuer identifier) to the
	// credential types (vct) it is trusted for; AnyVCT trusts it for every
	// type. Nothing else is trusted.
	Trusted        map[string][]string
	Algorithms     []jwa.SignatureAlgorithm // default ES256, EdDSA
	AcceptTyp      []string                 // default dc+sd-jwt, vc+sd-jwt
	RequireKB      bool
	MaxKBAge       time.Duration // default 5 minutes
	Leeway         time.Duration
	RequiredClaims []string // JSON Pointers that must be disclosed
	// ClearClaims maps a vct to top-level claims that must be present in
	// the issuer-signed payload in clear, with nothing inside them
	// selectively disclosable: claims whose withholding would widen what
	// the holder may do (an agent certification's prohibitions).
	ClearClaims map[string][]string
	// ClearElements maps a vct to top-level array claims that must be in
	// clear; their elements may be selectively disclosable, but what each
	// element says must be in clear (a permission's constraints cannot be
	// withheld while the permission is shown).
	ClearElements map[string][]string
	CheckStatus   bool
	MaxStatusAge  time.Duration // how stale a cached status list may be; 0 = always fetch
	RequireNonce  bool          // the KB-JWT nonce must be one issued by Nonces
	// MaxDelegationDepth bounds the hops of a delegation chain; 0 means
	// DefaultMaxDelegationDepth.
	MaxDelegationDepth int
	// MaxDelegationLifetime bounds exp - iat of each hop; 0 means
	// DefaultMaxDelegationLifetime.
	MaxDelegationLifetime time.Duration
	// RateLimits are the per-agent terms Middleware applies to verified
	// requests, by permission class (see RateClass); none by default.
	// MiddlewareOptions.Limits, when set, takes their place.
	RateLimits []RateClass
}

// AnyVCT in a Trusted list trusts the issuer for every credential type.
const AnyVCT = "*"

// DefaultPolicy returns the secure defaults: key binding required, status
// checked (fail closed), status at most 5 minutes old. It trusts nobody.
func DefaultPolicy() Policy {
	return Policy{
		Trusted: map[string][]string{}, Algorithms: jose.DefaultAlgorithms(),
		ClearClaims:   map[string][]string{schemas.AgentCertificationV1: {"prohibitions"}},
		ClearElements: map[string][]string{schemas.AgentCertificationV1: {"permissions"}},
		RequireKB:     true, MaxKBAge: DefaultMaxKBAge, Leeway: DefaultLeeway,
		CheckStatus: true, MaxStatusAge: DefaultMaxStatusAge,
	}
}
