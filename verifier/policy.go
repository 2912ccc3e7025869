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
	// Restrictions maps a vct to its restricting claims: claims whose
	// withholding would widen what the holder may do, which must be in
	// clear (see schemas.Restriction). DefaultPolicy takes them from
	// schemas.RestrictingClaims, the list the issuer also follows.
	Restrictions map[string][]schemas.Restriction
	CheckStatus  bool
	MaxStatusAge time.Duration // how stale a cached status list may be; 0 = always fetch
	RequireNonce bool          // the KB-JWT nonce must be one issued by Nonces
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
	// ApproveIrreversible makes every irreversible action need a person's
	// approval, whatever the credential's approval constraints say: an
	// action whose permission states reversibility "irreversible", or that
	// IrreversibleActions lists.
	ApproveIrreversible bool
	// IrreversibleActions are actions ("resource:verb" or "resource:*")
	// this verifier regards as irreversible whatever the credential says.
	IrreversibleActions []string
}

// AnyVCT in a Trusted list trusts the issuer for every credential type.
const AnyVCT = "*"

// DefaultPolicy returns the secure defaults: key binding required, status
// checked (fail closed), status at most 5 minutes old. It trusts nobody.
func DefaultPolicy() Policy {
	return Policy{
		Trusted: map[string][]string{}, Algorithms: jose.DefaultAlgorithms(),
		Restrictions: map[string][]schemas.Restriction{schemas.AgentCertificationV1: schemas.RestrictingClaims(schemas.AgentCertificationV1)},
		RequireKB:    true, MaxKBAge: DefaultMaxKBAge, Leeway: DefaultLeeway,
		CheckStatus: true, MaxStatusAge: DefaultMaxStatusAge,
	}
}
