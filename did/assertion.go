package did

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// AssertionKey returns the public key named by kid, a DID URL with a
// fragment (did:web:example.com#key-1), provided the DID's document lists
// that verification method under assertionMethod: by reference (relative
// "#key-1" or absolute) or embedded. Key material may be publicKeyJwk or
// publicKeyMultibase (multicodec Ed25519 or P-256). The returned key is public,
// has kid = the absolute DID URL and alg ES256 (P-256) or EdDSA (Ed25519).
//
// Errors: did_invalid for a kid that is not a DID URL; key_not_found when
// kid has no fragment, a path or query, or is not listed under
// assertionMethod (for instance only under authentication);
// did_resolution_failed for a document whose id is not the DID, that
// references a method it does not hold, or whose key is malformed or
// private; did_method_unsupported for a key type other than Ed25519 and
// P-256 (or no key material); and whatever r returns.
func AssertionKey(ctx context.Context, r Resolver, kid string) (jwk.Key, error) {
	return (*KeyMemo)(nil).AssertionKey(ctx, r, kid)
}

// KeyMemo remembers the public keys parsed out of verification methods,
// keyed by the method's absolute id and its exact key material, so that a
// DID document that is built or read afresh for every lookup (the local
// issuer's) costs no key parsing while its keys stay the same. Only the
// parsing is remembered: every lookup still resolves the document and
// finds the method under assertionMethod, so a key that is rotated out or
// retired is gone at once. Bounded (least recently used first); safe for
// concurrent use. A nil *KeyMemo parses every time.
type KeyMemo struct {
	c *ttlcache.Cache[jwk.Key]
}

// NewKeyMemo returns a KeyMemo of at most entries keys.
func NewKeyMemo(entries int) *KeyMemo {
	return &KeyMemo{c: ttlcache.New[jwk.Key](entries, nil)}
}

// Len reports how many parsed keys m holds.
func (m *KeyMemo) Len() int {
	if m == nil {
		return 0
	}
	return m.c.Len()
}

// keyMemoLife only bounds how long an unused entry keeps its place: a
// method's parsed key never goes stale.
const keyMemoLife = 24 * time.Hour

// AssertionKey is the package's AssertionKey, remembering parsed keys in m.
func (m *KeyMemo) AssertionKey(ctx context.Context, r Resolver, kid string) (jwk.Key, error) {
	did, want, doc, err := resolveKID(ctx, r, kid)
	if err != nil {
		return nil, err
	}
	var vm *VerificationMethod
	for _, rel := range doc.AssertionMethod {
		if absoluteRef(did, rel.ID()) != want {
			continue
		}
		if rel.Embedded != nil {
			vm = rel.Embedded
		} else if vm, err = lookupMethod(doc, want); err != nil {
			return nil, err
		}
		break
	}
	if vm == nil {
		return nil, errcode.New(errcode.KeyNotFound, "%s is not listed under assertionMethod", want)
	}
	var memoKey string
	if m != nil {
		memoKey = want + "\x00" + string(vm.PublicKeyJwk) + "\x00" + vm.PublicKeyMultibase
		if k, ok := m.c.Get(memoKey); ok {
			return k, nil
		}
	}
	p, err := methodKey(vm)
	if err != nil {
		return nil, err
	}
	k, err := p.key(want)
	if err != nil {
		return nil, err
	}
	if m != nil {
		m.c.Put(memoKey, k, time.Now().Add(keyMemoLife))
	}
	return k, nil
}

// lookupMethod finds the one verification method of doc with the absolute id.
func lookupMethod(doc *Document, id string) (*VerificationMethod, error) {
	var found *VerificationMethod
	for i := range doc.VerificationMethod {
		if absoluteRef(doc.ID, doc.VerificationMethod[i].ID) != id {
			continue
		}
		if found != nil {
			return nil, errcode.New(errcode.DIDResolutionFailed, "document holds %s twice", id)
		}
		found = &doc.VerificationMethod[i]
	}
	if found == nil {
		return nil, errcode.New(errcode.DIDResolutionFailed, "assertionMethod references %s, which the document does not hold", id)
	}
	return found, nil
}

// methodKey extracts the public key of a verification method.
func methodKey(vm *VerificationMethod) (pubKey, error) {
	hasJWK := len(vm.PublicKeyJwk) > 0 && string(vm.PublicKeyJwk) != "null"
	switch {
	case hasJWK && vm.PublicKeyMultibase != "":
		return pubKey{}, errcode.New(errcode.DIDResolutionFailed, "verification method %s has two keys", vm.ID)
	case hasJWK:
		k, _, err := parseJWKJSON(json.RawMessage(vm.PublicKeyJwk), errcode.DIDResolutionFailed)
		if err != nil {
			return pubKey{}, err
		}
		return pubKeyFromJWK(k, errcode.DIDResolutionFailed)
	case vm.PublicKeyMultibase != "":
		return pubKeyFromMultikey(vm.PublicKeyMultibase, errcode.DIDResolutionFailed)
	}
	return pubKey{}, errcode.New(errcode.DIDMethodUnsupported, "verification method %s has no publicKeyJwk or publicKeyMultibase", vm.ID)
}

// IssuerKey returns the public key that signed a JWT whose iss is a DID,
// given the kid of its protected header: kid must name a verification
// method listed under the DID's assertionMethod (a relative "#frag" kid is
// taken relative to iss). For did:key and did:jwk an empty kid means the
// DID's only key.
//
// Errors: untrusted_issuer when iss is not a DID; key_not_found for a
// missing kid (other methods), a kid that is not a DID URL or belongs to
// another DID; then AssertionKey's.
func IssuerKey(ctx context.Context, r Resolver, iss, kid string) (jwk.Key, error) {
	return (*KeyMemo)(nil).IssuerKey(ctx, r, iss, kid)
}

// IssuerKey is the package's IssuerKey, remembering parsed keys in m.
func (m *KeyMemo) IssuerKey(ctx context.Context, r Resolver, iss, kid string) (jwk.Key, error) {
	if !strings.HasPrefix(iss, "did:") {
		return nil, errcode.New(errcode.UntrustedIssuer, "issuer %q is not a DID", iss)
	}
	switch {
	case kid == "" && (strings.HasPrefix(iss, "did:key:") || strings.HasPrefix(iss, "did:jwk:")):
		var err error
		if kid, err = VerificationMethodID(iss); err != nil {
			return nil, err
		}
	case kid == "":
		return nil, errcode.New(errcode.KeyNotFound, "the JWT header has no kid")
	case strings.HasPrefix(kid, "#"):
		kid = iss + kid
	}
	u, err := ParseURL(kid)
	if err != nil {
		return nil, errcode.Wrap(errcode.KeyNotFound, err, "kid %q is not a DID URL", kid)
	}
	if u.DID.String() != iss {
		return nil, errcode.New(errcode.KeyNotFound, "kid %q does not belong to issuer %q", kid, iss)
	}
	return m.AssertionKey(ctx, r, kid)
}
