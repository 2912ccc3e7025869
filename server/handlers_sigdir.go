package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/store"
)

// The HTTP Message Signatures directory (Web Bot Auth): the keys of the
// issuer's active certified agents, so that a counterparty that speaks only
// Web Bot Auth can check requests signed by them.
const (
	sigDirPath      = "/.well-known/http-message-signatures-directory"
	sigDirMediaType = "application/http-message-signatures-directory+json"
	// sigDirTTL is how long a built directory is served before it is
	// rebuilt; its Cache-Control max-age is what is left of that time, so
	// that a revoked or expired agent leaves it, and every cache of it,
	// within sigDirTTL (the served copy at once on the node that changed
	// it).
	sigDirTTL = 60 * time.Second
	// maxSigDirKeys bounds the keys one directory lists.
	maxSigDirKeys = 10000
)

// CredentialLister is what the signatures directory reads: credential
// records, a page at a time (store.Store has it).
type CredentialLister interface {
	Credentials(ctx context.Context, f store.CredentialFilter) ([]store.Credential, error)
}

type sigDirCache struct {
	mu    sync.Mutex
	body  []byte
	built time.Time
}

// signaturesDirectory serves the JWKS of every agent with a valid (not
// revoked, not suspended) and unexpired credential whose subject is a
// did:key or did:jwk (its key is the credential's cnf key). Each key's kid
// is its RFC 7638 thumbprint, the keyid its signatures carry; nbf and exp
// span the agent's credentials.
func (s *Server) signaturesDirectory(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	body, built, err := s.sigDir.get(r.Context(), s.store, now)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	// A cache may keep the answer only for what is left of the built
	// directory's time, not sigDirTTL from now: else a key could stay in
	// a cache for up to twice sigDirTTL after its credential was revoked.
	left := max(sigDirTTL-now.Sub(built), 0)
	w.Header().Set("Content-Type", sigDirMediaType)
	w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(left/time.Second)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// reset drops the built directory, so that a status change on this node
// shows in the next answer (other nodes show it within sigDirTTL).
func (c *sigDirCache) reset() {
	c.mu.Lock()
	c.body = nil
	c.mu.Unlock()
}

// get returns the directory and when it was built, building it when the
// one held is older than sigDirTTL.
func (c *sigDirCache) get(ctx context.Context, l CredentialLister, now time.Time) ([]byte, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body != nil && now.Sub(c.built) < sigDirTTL && !now.Before(c.built) {
		return c.body, c.built, nil
	}
	// Whoever asks first builds for everyone waiting on the lock: the
	// build does not end with that one client's request.
	b, err := buildSigDir(context.WithoutCancel(ctx), l, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	c.body, c.built = b, now
	return b, now, nil
}

func buildSigDir(ctx context.Context, l CredentialLister, now time.Time) ([]byte, error) {
	valid := uint8(0)
	type entry struct {
		key      map[string]any
		nbf, exp int64
	}
	byKid := map[string]*entry{}
	after := ""
	for {
		page, err := l.Credentials(ctx, store.CredentialFilter{Status: &valid, AfterID: after, Limit: store.MaxLimit})
		if err != nil {
			return nil, errcode.Wrap(errcode.Internal, err, "list credentials for the signatures directory")
		}
		for _, c := range page {
			if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt) {
				continue
			}
			k, err := did.PublicKey(c.Subject)
			if err != nil {
				continue // a did:web subject: its key is not known offline
			}
			if _, err := httpsig.KeyAlg(k); err != nil {
				continue
			}
			kid, err := httpsig.Thumbprint(k)
			if err != nil {
				continue
			}
			nbf, exp := c.IssuedAt.Unix(), int64(0)
			if !c.ExpiresAt.IsZero() {
				exp = c.ExpiresAt.Unix()
			}
			if e, ok := byKid[kid]; ok {
				e.nbf = min(e.nbf, nbf)
				if exp == 0 || e.exp != 0 && exp > e.exp {
					e.exp = exp
				}
				continue
			}
			if len(byKid) >= maxSigDirKeys {
				continue
			}
			raw, err := json.Marshal(k)
			if err != nil {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				continue
			}
			delete(m, "kid")
			delete(m, "alg")
			m["kid"], m["use"] = kid, "sig"
			byKid[kid] = &entry{key: m, nbf: nbf, exp: exp}
		}
		if len(page) < store.MaxLimit {
			break
		}
		after = page[len(page)-1].ID
	}
	kids := make([]string, 0, len(byKid))
	for k := range byKid {
		kids = append(kids, k)
	}
	sort.Strings(kids)
	keys := make([]map[string]any, 0, len(kids))
	for _, kid := range kids {
		e := byKid[kid]
		e.key["nbf"] = e.nbf
		if e.exp != 0 {
			e.key["exp"] = e.exp
		}
		keys = append(keys, e.key)
	}
	return json.Marshal(map[string]any{"keys": keys})
}
