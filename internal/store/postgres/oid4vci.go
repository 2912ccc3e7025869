package postgres

import (
	"github.com/agentcert/agentcert/internal/store"
)

// The OpenID4VCI state (store.OID4VCI). Several nodes share it: a
// redemption locks its offer row (FOR UPDATE), a token is used by a
// conditional UPDATE and a nonce is spent by its primary key, so every
// invariant holds across nodes.

var _ store.OID4VCI = (*Store)(nil)
