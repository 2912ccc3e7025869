package main

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// localIssuer lets the service's own verifier read the issuer's keys and
// status lists in process (see verifier.LocalIssuer).
func localIssuer(publicURL string, parts *issuer.Parts) *verifier.LocalIssuer {
	keys := parts.Keys
	l := &verifier.LocalIssuer{DID: keys.Issuer()}
	if strings.HasPrefix(l.DID, "did:web:") {
		var memo docMemo
		l.Document = func(context.Context) (*did.Document, error) {
			return memo.document(keys.Issuer(), keys.PublicKeys())
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

// docMemo keeps the local issuer's DID document for as long as the key
// ring hands out the same keys: the ring replaces its key values when a key
// is added, rotated or retired, so the next verification after such a
// change builds the document anew, and every other one reuses it (building
// it marshals every key). Callers must not modify the document.
type docMemo struct {
	mu   sync.Mutex
	id   string
	keys []jwk.Key
	doc  *did.Document
}

func (m *docMemo) document(id string, keys []jwk.Key) (*did.Document, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc != nil && id == m.id && slices.Equal(keys, m.keys) {
		return m.doc, nil
	}
	doc, err := did.NewWebDocument(id, keys)
	if err != nil {
		return nil, err
	}
	m.id, m.keys, m.doc = id, keys, doc
	return doc, nil
}
