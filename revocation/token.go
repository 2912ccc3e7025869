package revocation

import (
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// maxTTL bounds the ttl a token may state (one year); larger values are
// clamped, so that a Duration never overflows.
const maxTTL = 365 * 24 * time.Hour

// TokenClaims are the claims of a Status List Token other than the list.
type TokenClaims struct {
	Subject  string        // sub: the URI the list is served at (required)
	Issuer   string        // iss: the credential issuer (required)
	IssuedAt time.Time     // iat (required)
	Expires  time.Time     // exp (optional; zero omits it)
	TTL      time.Duration // ttl: how long a consumer may cache the token (optional; whole seconds, rounded up)
}

func (c TokenClaims) check() error {
	switch {
	case c.Subject == "":
		return errcode.New(errcode.InvalidInput, "status list token needs a subject (its URI)")
	case c.Issuer == "":
		return errcode.New(errcode.InvalidInput, "status list token needs an issuer")
	case c.IssuedAt.IsZero():
		return errcode.New(errcode.InvalidInput, "status list token needs an issued-at time")
	case !c.Expires.IsZero() && !c.Expires.After(c.IssuedAt):
		return errcode.New(errcode.InvalidInput, "status list token expires before it is issued")
	case c.TTL < 0:
		return errcode.New(errcode.InvalidInput, "negative ttl")
	}
	return nil
}

// ttlUnits returns d in whole units of unit, rounded up.
func ttlUnits(d, unit time.Duration) int64 {
	return int64((d + unit - 1) / unit)
}

type statusListClaim struct {
	Bits int    `json:"bits"`
	Lst  string `json:"lst"`
}

type tokenPayload struct {
	Exp        int64           `json:"exp,omitempty"`
	Iat        int64           `json:"iat"`
	Iss        string          `json:"iss"`
	StatusList statusListClaim `json:"status_list"`
	Sub        string          `json:"sub"`
	TTL        int64           `json:"ttl,omitempty"`
}
