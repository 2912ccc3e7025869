package did

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Verification method type and JSON-LD contexts of the documents this
// package builds.
const (
	TypeJsonWebKey2020 = "JsonWebKey2020"
	ContextDIDv1       = "https://www.w3.org/ns/did/v1"
	ContextJWS2020     = "https://w3id.org/security/suites/jws-2020/v1"
)

// VerificationMethod is one entry of a DID document's verificationMethod
// (or one embedded in a verification relationship). Only publicKeyJwk and
// publicKeyMultibase key material is kept.
type VerificationMethod struct {
	ID                 string          `json:"id"`
	Type               string          `json:"type"`
	Controller         string          `json:"controller"`
	PublicKeyJwk       json.RawMessage `json:"publicKeyJwk,omitempty"`
	PublicKeyMultibase string          `json:"publicKeyMultibase,omitempty"`
}

// Relationship is one entry of a verification relationship
// (assertionMethod, authentication, ...): either a reference to a
// verification method by DID URL (Ref, absolute or relative "#frag") or an
// embedded verification method (Embedded). In JSON it is a string or an
// object.
type Relationship struct {
	Ref      string
	Embedded *VerificationMethod
}

// MarshalJSON writes Embedded as an object when set, else Ref as a string.
func (r Relationship) MarshalJSON() ([]byte, error) {
	if r.Embedded != nil {
		return json.Marshal(r.Embedded)
	}
	return json.Marshal(r.Ref)
}

// UnmarshalJSON reads a string reference or an embedded verification method.
func (r *Relationship) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*r = Relationship{}
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &r.Ref)
	case len(b) > 0 && b[0] == '{':
		r.Embedded = new(VerificationMethod)
		return json.Unmarshal(b, r.Embedded)
	}
	return errors.New("did: a verification relationship entry must be a string or an object")
}

// ID returns the id of the referenced or embedded verification method.
func (r Relationship) ID() string {
	if r.Embedded != nil {
		return r.Embedded.ID
	}
	return r.Ref
}

// Document is a DID document (DID Core §5), reduced to the members this
// project uses. Documents returned by resolvers are shared (cached) and must
// be treated as read-only.
type Document struct {
	Context              any                  `json:"@context,omitempty"`
	ID                   string               `json:"id"`
	Controller           any                  `json:"controller,omitempty"`
	AlsoKnownAs          []string             `json:"alsoKnownAs,omitempty"`
	VerificationMethod   []VerificationMethod `json:"verificationMethod,omitempty"`
	Authentication       []Relationship       `json:"authentication,omitempty"`
	AssertionMethod      []Relationship       `json:"assertionMethod,omitempty"`
	KeyAgreement         []Relationship       `json:"keyAgreement,omitempty"`
	CapabilityInvocation []Relationship       `json:"capabilityInvocation,omitempty"`
	CapabilityDelegation []Relationship       `json:"capabilityDelegation,omitempty"`
}

func defaultContext() []any { return []any{ContextDIDv1, ContextJWS2020} }

func refs(id string) []Relationship { return []Relationship{{Ref: id}} }

// DocumentFor returns the DID document of a did:key or did:jwk, computed
// offline. Both use one JsonWebKey2020 verification method with
// publicKeyJwk and the jws-2020 context; relationships use absolute DID
// URLs.
//
//   - did:key (Ed25519 or P-256): method id did#<multibase>; listed under
//     assertionMethod, authentication, capabilityInvocation and
//     capabilityDelegation, and for P-256 also keyAgreement (no X25519 key is
//     derived from Ed25519).
//   - did:jwk (any public JWK jwx parses): method id did#0, publicKeyJwk is
//     the JSON encoded in the DID; relationships follow the JWK's use: "sig"
//     gives the four signing relationships, "enc" only keyAgreement, no use
//     all five.
func DocumentFor(did string) (*Document, error) {
	d, err := Parse(did)
	if err != nil {
		return nil, err
	}
	doc := &Document{Context: defaultContext(), ID: did}
	var sig, enc bool
	switch d.Method {
	case "key":
		p, err := decodeKeyID(d.ID)
		if err != nil {
			return nil, err
		}
		b, err := p.bareJSON()
		if err != nil {
			return nil, err
		}
		doc.VerificationMethod = []VerificationMethod{{
			ID: did + "#" + d.ID, Type: TypeJsonWebKey2020, Controller: did, PublicKeyJwk: b,
		}}
		sig, enc = true, p.crv == jwa.P256
	case "jwk":
		j, err := decodeJWKID(d.ID)
		if err != nil {
			return nil, err
		}
		doc.VerificationMethod = []VerificationMethod{{
			ID: did + "#0", Type: TypeJsonWebKey2020, Controller: did, PublicKeyJwk: j.raw,
		}}
		sig, enc = j.use != "enc", j.use != "sig"
	default:
		return nil, errcode.New(errcode.DIDMethodUnsupported, "DID method %q has no offline document (only key and jwk)", d.Method)
	}
	vm := doc.VerificationMethod[0].ID
	if sig {
		doc.AssertionMethod = refs(vm)
		doc.Authentication = refs(vm)
		doc.CapabilityInvocation = refs(vm)
		doc.CapabilityDelegation = refs(vm)
	}
	if enc {
		doc.KeyAgreement = refs(vm)
	}
	return doc, nil
}

// NewWebDocument builds the DID document of a did:web from the issuer's keys
// (served at /.well-known/did.json or <path>/did.json). Each key becomes a
// JsonWebKey2020 verification method whose id is did + "#" + the key's kid
// (kid "k1" or "#k1" -> did#k1; a kid that already is a DID URL of this DID
// is used as it is). Its publicKeyJwk holds the public members plus kid (the
// method id) and alg. Every method is listed under assertionMethod and
// authentication.
//
// A DID that is not a valid did:web is did_invalid; a key without kid, a kid
// that is a DID URL of another DID or not a valid fragment, duplicate kids
// and malformed keys are invalid_input; key types other than Ed25519 and
// P-256 are did_method_unsupported. Private keys are accepted and only their
// public part is published.
func NewWebDocument(did string, keys []jwk.Key) (*Document, error) {
	d, err := Parse(did)
	if err != nil {
		return nil, err
	}
	if d.Method != "web" {
		return nil, errcode.New(errcode.DIDInvalid, "not a did:web")
	}
	if _, err := WebURL(did, nil); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errcode.New(errcode.InvalidInput, "a did:web document needs at least one key")
	}
	doc := &Document{Context: defaultContext(), ID: did}
	seen := map[string]bool{}
	for i, k := range keys {
		if k == nil {
			return nil, errcode.New(errcode.InvalidInput, "key %d is nil", i)
		}
		frag, err := webFragment(did, k.KeyID())
		if err != nil {
			return nil, err
		}
		id := did + "#" + frag
		if seen[id] {
			return nil, errcode.New(errcode.InvalidInput, "duplicate kid %q", k.KeyID())
		}
		seen[id] = true
		p, err := pubKeyFromJWK(k, errcode.InvalidInput)
		if err != nil {
			return nil, err
		}
		pk, err := p.key(id)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(pk)
		if err != nil {
			return nil, errcode.Wrap(errcode.Internal, err, "serializing a JWK")
		}
		doc.VerificationMethod = append(doc.VerificationMethod, VerificationMethod{
			ID: id, Type: TypeJsonWebKey2020, Controller: did, PublicKeyJwk: b,
		})
		doc.AssertionMethod = append(doc.AssertionMethod, Relationship{Ref: id})
		doc.Authentication = append(doc.Authentication, Relationship{Ref: id})
	}
	return doc, nil
}

func webFragment(did, kid string) (string, error) {
	var frag string
	switch {
	case kid == "":
		return "", errcode.New(errcode.InvalidInput, "key has no kid")
	case strings.HasPrefix(kid, did+"#"):
		frag = kid[len(did)+1:]
	case strings.HasPrefix(kid, "did:"):
		return "", errcode.New(errcode.InvalidInput, "kid %q is not a DID URL of %s", kid, did)
	default:
		frag = strings.TrimPrefix(kid, "#")
	}
	if frag == "" || checkURIChars(frag, "/?") != nil {
		return "", errcode.New(errcode.InvalidInput, "kid %q is not a valid DID URL fragment", kid)
	}
	return frag, nil
}
