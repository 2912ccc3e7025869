package main

import (
	"context"
	"strings"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/verifier"
)

// localIssuer lets the service's own verifier read the issuer's keys and
// status lists in process (see verifier.LocalIssuer).
func localIssuer(publicURL string, parts *issuer.Parts) *verifier.LocalIssuer {
	keys := parts.Keys
	l := &verifier.LocalIssuer{DID: keys.Issuer()}
	if strings.HasPrefix(l.DID, "did:web:") {
		l.Document = func(context.Context) (*did.Document, error) {
			return did.NewWebDocument(keys.Issuer(), keys.PublicKeys())
		}
	}
	prefix := strings.TrimRight(publicURL, "/") + "/statuslists/"
	l.StatusList = func(ctx context.Context, uri string) (string, bool, error) {
		id, ok := strings.CutPrefix(uri, prefix)
		if !ok || id == "" || strings.ContainsAny(id, "/?#") {
			return "", false, nil
		}
		p, err := parts.Statuses.Publish(ctx, id, "", "")
		if err != nil {
			return "", true, err
		}
		return p.Token, true, nil
	}
	return l
}
