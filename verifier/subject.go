package verifier

import (
	"bytes"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// checkSubjectKey ties the subject to the holder key: when sub is a did:key
// or did:jwk, the DID is the key, so cnf.jwk must be that key. Otherwise a
// credential could name a victim's DID as its subject while binding a key
// its holder controls. (A did:web subject's key is checked by the issuer,
// against the subject's DID document, when it issues.)
//
// holder is cnf.jwk as the KB-JWT verified with it (nil without a KB-JWT:
// it is parsed from claims then); the subject's key comes from subjects.
func checkSubjectKey(claims map[string]any, holder jwk.Key, subjects *subjectKeys) error {
	sub, _ := claims["sub"].(string)
	if !strings.HasPrefix(sub, "did:key:") && !strings.HasPrefix(sub, "did:jwk:") {
		return nil
	}
	if cnf, _ := claims["cnf"].(map[string]any); cnf == nil || cnf["jwk"] == nil {
		return nil // no holder key: nothing is bound, and key binding could not have verified
	}
	if holder == nil {
		var err error
		if holder, err = sdjwt.HolderKey(claims); err != nil {
			return errcode.Wrap(errcode.SubjectKeyMismatch, err, "cnf.jwk is not a usable key, so it cannot be the subject's")
		}
	}
	subject, err := subjects.key(sub)
	if err != nil {
		return errcode.Wrap(errcode.SubjectKeyMismatch, err, "subject %s names no usable key", sub)
	}
	if !samePublicKey(holder, subject) {
		return errcode.New(errcode.SubjectKeyMismatch, "cnf.jwk is not the key of subject %s", sub)
	}
	return nil
}

// subjectKeys remembers the keys that did:key and did:jwk subjects decode
// to. A DID of these methods is its key, so the decoding of one string
// never changes; what is kept is only the decoding (for a P-256 did:key a
// point decompression, most of the cost of the check), never a verdict.
// Bounded (LRU); a nil *subjectKeys decodes every time.
type subjectKeys struct {
	c   *ttlcache.Cache[jwk.Key]
	now func() time.Time
}

func newSubjectKeys(entries int, now func() time.Time) *subjectKeys {
	return &subjectKeys{c: ttlcache.New[jwk.Key](entries, now), now: now}
}

func (s *subjectKeys) key(sub string) (jwk.Key, error) {
	if s == nil {
		return did.PublicKey(sub)
	}
	if k, ok := s.c.Get(sub); ok {
		return k, nil
	}
	k, err := did.PublicKey(sub)
	if err != nil {
		return nil, err
	}
	// The decoding never goes stale; the expiry only bounds how long an
	// unused entry holds its place.
	s.c.Put(sub, k, s.now().Add(24*time.Hour))
	return k, nil
}

// sameCoordinate compares two big-endian coordinates as numbers, as the
// thumbprint does once it pads them to the curve's size.
func sameCoordinate(a, b []byte) bool {
	return bytes.Equal(bytes.TrimLeft(a, "\x00"), bytes.TrimLeft(b, "\x00"))
}

// samePublicKey reports whether a and b are the same public key: the same
// key type, curve and public coordinates, which is what equal RFC 7638
// thumbprints (keyutil.SameKey) state, read without hashing. Keys of other
// types are compared by thumbprint.
func samePublicKey(a, b jwk.Key) bool {
	switch ka := a.(type) {
	case jwk.ECDSAPublicKey:
		kb, ok := b.(jwk.ECDSAPublicKey)
		return ok && ka.Crv() == kb.Crv() && len(ka.X()) > 0 && sameCoordinate(ka.X(), kb.X()) && sameCoordinate(ka.Y(), kb.Y())
	case jwk.OKPPublicKey:
		kb, ok := b.(jwk.OKPPublicKey)
		return ok && ka.Crv() == kb.Crv() && len(ka.X()) > 0 && bytes.Equal(ka.X(), kb.X())
	}
	return keyutil.SameKey(a, b)
}
