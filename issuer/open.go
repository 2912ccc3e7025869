package issuer

import (
	"context"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/schemas"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Storage is everything the issuer needs from its store.
type Storage interface {
	Store
	KeyStore
	StatusStore
}

// Settings are the issuer's plain settings.
type Settings struct {
	Config                // issuance
	DIDMethod      string // "web" or "key"
	WebDID         string // the issuer DID when DIDMethod is "web"
	KeyAlg         jwa.SignatureAlgorithm
	StatusTTL      time.Duration
	StatusValidity time.Duration
}

// Parts is an issuer wired over one store.
type Parts struct {
	Keys     *KeyRing
	Service  *Service
	Statuses *Statuses
}

// Open wires the key ring (generating the first key if there is none), the
// issuance service and the status service over st.
func Open(ctx context.Context, st Storage, kek []byte, s Settings, reg *schemas.Registry, resolver did.Resolver, now func() time.Time) (*Parts, error) {
	keys, err := NewKeyRing(ctx, st, kek, s.DIDMethod, s.WebDID, s.KeyAlg, now)
	if err != nil {
		return nil, err
	}
	svc, err := New(ctx, s.Config, st, keys, reg, resolver, now)
	if err != nil {
		return nil, err
	}
	return &Parts{Keys: keys, Service: svc, Statuses: NewStatuses(st, keys, svc.StatusURI, s.StatusTTL, s.StatusValidity, now)}, nil
}
