package did

import (
	"context"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// MethodKey returns the public key of the verification method kid (a DID
// URL with a fragment) that the DID's document holds in verificationMethod,
// whatever relationships list it. It is for keys a DID uses beside its
// assertion keys, such as a verifier's receipt key; issuer keys are looked
// up with AssertionKey. The returned key is public, with kid the absolute
// DID URL and the alg of its type.
//
// Errors: did_invalid for a kid that is not a DID URL; key_not_found when
// kid has no fragment, a path or query, or the document holds no such
// method; did_resolution_failed for a document that is not the DID's or
// holds the method twice or malformed; and whatever r returns.
func MethodKey(ctx context.Context, r Resolver, kid string) (jwk.Key, error) {
	id, want, doc, err := resolveKID(ctx, r, kid)
	if err != nil {
		return nil, err
	}
	var found *VerificationMethod
	for i := range doc.VerificationMethod {
		if absoluteRef(id, doc.VerificationMethod[i].ID) != want {
			continue
		}
		if found != nil {
			return nil, errcode.New(errcode.DIDResolutionFailed, "document holds %s twice", want)
		}
		found = &doc.VerificationMethod[i]
	}
	if found == nil {
		return nil, errcode.New(errcode.KeyNotFound, "the document of %s holds no verification method %s", id, want)
	}
	p, err := methodKey(found)
	if err != nil {
		return nil, err
	}
	return p.key(want)
}

// resolveKID resolves the DID of kid, a DID URL with a fragment and no
// path or query, and returns the DID, kid as an absolute DID URL and the
// DID's document.
func resolveKID(ctx context.Context, r Resolver, kid string) (did, abs string, doc *Document, err error) {
	u, err := ParseURL(kid)
	if err != nil {
		return "", "", nil, err
	}
	if u.Fragment == "" || u.Path != "" || u.Query != "" {
		return "", "", nil, errcode.New(errcode.KeyNotFound, "kid %q is not a DID URL of the form did#fragment", kid)
	}
	did = u.DID.String()
	if doc, err = r.Resolve(ctx, did); err != nil {
		return "", "", nil, err
	}
	if doc == nil || doc.ID != did {
		return "", "", nil, errcode.New(errcode.DIDResolutionFailed, "resolved document is not the document of %s", did)
	}
	return did, did + "#" + u.Fragment, doc, nil
}
