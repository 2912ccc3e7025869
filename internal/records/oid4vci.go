package records

import (
	"encoding/json"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// Records of OpenID4VCI issuance. Secrets (pre-authorized codes, the
// reference in a credential_offer_uri, transaction codes, access tokens)
// are never stored, only their SHA-256 hashes.

// Offer is a credential offer for a prepared certification.
type Offer struct {
	ID         string          // public id, for the audit log
	RefHash    []byte          // SHA-256 of the secret in the credential_offer_uri
	CodeHash   []byte          // SHA-256 of the pre-authorized code
	TxCodeHash []byte          // SHA-256 of the transaction code; nil when none is asked
	Template   json.RawMessage // the prepared issuance request and the tx_code description
	TokenID    string          // the API token that made the offer
	CreatedAt  time.Time
	ExpiresAt  time.Time
	Attempts   int        // wrong transaction codes given so far
	RedeemedAt *time.Time // when the code was exchanged for an access token
}

// AccessToken is an access token given for a redeemed offer. It allows one
// credential request.
type AccessToken struct {
	Hash      []byte // SHA-256 of the token
	OfferID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Redemption is what the OpenID4VCI core decides about a token request,
// applied by the store atomically with the offer it was decided on.
type Redemption struct {
	// FailedAttempt counts one more wrong transaction code.
	FailedAttempt bool
	// Token, when not nil, redeems the offer and stores the access token.
	Token *AccessToken
	// Audit, when not nil, is appended to the audit log.
	Audit *AuditEntry
	// Err is returned to the caller once the rest is durable.
	Err error
}

// ErrNonceSpent reports a c_nonce that was already used; ErrTokenSpent an
// access token that was already used. Stores wrap them together with
// ErrConflict.
var (
	ErrNonceSpent error = errcode.New(errcode.NonceReplayed, "store: nonce already used")
	ErrTokenSpent error = errcode.New(errcode.InvalidToken, "store: access token already used")
)

// SpentNonce is a c_nonce recorded as used until it would have expired.
type SpentNonce struct {
	ID        []byte // SHA-256 of the nonce's identity
	ExpiresAt time.Time
}
