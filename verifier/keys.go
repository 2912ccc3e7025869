package verifier

import (
	"context"
	"strings"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// DIDIssuerKey returns the public key that signed a JWT whose iss is a DID:
// the header kid must name a verification method listed under the DID's
// assertionMethod (a relative "#frag" kid is taken relative to iss). For
// did:key and did:jwk a missing kid means the DID's only key.
func DIDIssuerKey(ctx context.Context, r did.Resolver, iss string, hdr jws.Headers) (jwk.Key, error) {
	if !strings.HasPrefix(iss, "did:") {
		return nil, errcode.New(errcode.UntrustedIssuer, "issuer %q is not a DID", iss)
	}
	kid := hdr.KeyID()
	switch {
	case kid == "" && (strings.HasPrefix(iss, "did:key:") || strings.HasPrefix(iss, "did:jwk:")):
		var err error
		if kid, err = did.VerificationMethodID(iss); err != nil {
			return nil, err
		}
	case kid == "":
		return nil, errcode.New(errcode.KeyNotFound, "the JWT header has no kid")
	case strings.HasPrefix(kid, "#"):
		kid = iss + kid
	}
	u, err := did.ParseURL(kid)
	if err != nil {
		return nil, errcode.Wrap(errcode.KeyNotFound, err, "kid %q is not a DID URL", kid)
	}
	if u.DID.String() != iss {
		return nil, errcode.New(errcode.KeyNotFound, "kid %q does not belong to issuer %q", kid, iss)
	}
	return did.AssertionKey(ctx, r, kid)
}
