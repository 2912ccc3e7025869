package issuer

import (
	"context"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Check validates req as Issue would (claims, validity, schema, what may be
// selectively disclosable, the size limits of signing) without recording
// anything; it signs only a payload near those limits, on trial. With no
// Subject a placeholder did:key stands in for the holder, so that a
// certification can be prepared before its holder's key is known.
func (s *Service) Check(ctx context.Context, req IssueRequest) error {
	if req.Subject == "" && len(req.HolderJWK) == 0 {
		k, err := keyutil.Generate(jwa.EdDSA)
		if err != nil {
			return err
		}
		if req.Subject, err = did.KeyDID(k); err != nil {
			return err
		}
	}
	_, _, _, err := s.prepare(ctx, req)
	return err
}
