package verifier

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// trustedIssuerKey refuses untrusted issuers before any key lookup, so that
// nothing is fetched on behalf of an issuer the policy does not name.
func (v *Verifier) trustedIssuerKey(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
	if _, ok := v.p.Trusted[iss]; !ok && !v.Inspecting() {
		return nil, errcode.New(errcode.UntrustedIssuer, "issuer %q is not trusted", iss)
	}
	return v.issuerKey(ctx, iss, hdr)
}

// issuerKey resolves the key of a DID issuer (kid under assertionMethod) or
// of an https issuer (its /.well-known/jwt-vc-issuer metadata).
func (v *Verifier) issuerKey(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
	if v.s.pinned != nil {
		return v.s.pinned, nil
	}
	if l := v.s.local; l != nil && l.Document != nil && iss == l.DID {
		// The document is read on every lookup, so that a rotated or
		// retired key is seen at once; only the parsing of a key it still
		// lists is remembered.
		return v.localKeys.IssuerKey(ctx, did.ResolverFunc(l.resolve), iss, hdr.KeyID())
	}
	if strings.HasPrefix(iss, "did:") {
		ck := iss + "\x00" + hdr.KeyID()
		if k, ok := v.keys.Get(ck); ok {
			return k, nil
		}
		k, err := did.IssuerKey(ctx, v.s.resolver, iss, hdr.KeyID())
		if err != nil {
			return nil, err
		}
		v.keys.Put(ck, k, v.s.now().Add(v.s.cacheTTL))
		return k, nil
	}
	if strings.HasPrefix(iss, "https://") {
		return v.httpsIssuerKey(ctx, iss, hdr)
	}
	return nil, errcode.New(errcode.UntrustedIssuer, "issuer %q is neither a DID nor an https URL", iss)
}

// MetadataURL is where an https issuer publishes its JWT VC issuer
// metadata: the well-known segment goes between host and path.
func MetadataURL(iss string) (string, error) {
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", errcode.New(errcode.UntrustedIssuer, "issuer %q is not an https URL without query or fragment", iss)
	}
	return "https://" + u.Host + "/.well-known/jwt-vc-issuer" + strings.TrimRight(u.EscapedPath(), "/"), nil
}

func (v *Verifier) httpsIssuerKey(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
	set, err := v.issuerJWKS(ctx, iss)
	if err != nil {
		return nil, err
	}
	kid := hdr.KeyID()
	if kid == "" && set.Len() == 1 {
		k, _ := set.Key(0)
		return k, nil
	}
	if k, ok := set.LookupKeyID(kid); ok && kid != "" {
		return k, nil
	}
	return nil, errcode.New(errcode.KeyNotFound, "issuer %q publishes no key %q", iss, kid)
}

func (v *Verifier) issuerJWKS(ctx context.Context, iss string) (jwk.Set, error) {
	if set, ok := v.jwks.Get(iss); ok {
		return set, nil
	}
	mu, err := MetadataURL(iss)
	if err != nil {
		return nil, err
	}
	body, err := v.s.fetch(ctx, mu, "application/json", 0)
	if err != nil {
		return nil, err
	}
	raw, jwksURI, err := parseIssuerMetadata(body, iss)
	if err != nil {
		return nil, err
	}
	if jwksURI != "" {
		if raw, err = v.s.fetch(ctx, jwksURI, "application/jwk-set+json, application/json", 0); err != nil {
			return nil, err
		}
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		return nil, errcode.Wrap(errcode.KeyNotFound, err, "issuer JWKS does not parse")
	}
	v.jwks.Put(iss, set, v.s.now().Add(v.s.cacheTTL))
	return set, nil
}

// parseIssuerMetadata reads JWT VC issuer metadata for iss: it returns the
// inline jwks, or else the https jwks_uri to fetch them from. Metadata that
// is not JSON is fetch_failed; one naming another issuer, with both or
// neither of jwks and an https jwks_uri, is key_not_found.
func parseIssuerMetadata(body []byte, iss string) (json.RawMessage, string, error) {
	var md struct {
		Issuer  string          `json:"issuer"`
		JWKS    json.RawMessage `json:"jwks"`
		JWKSURI string          `json:"jwks_uri"`
	}
	// Checked first as all untrusted JSON is: a member given twice, or in
	// two cases ("issuer" and "Issuer"), would be read as the last one.
	if err := jsonstrict.Check(body); err != nil {
		return nil, "", errcode.Wrap(errcode.FetchFailed, err, "issuer metadata is not plain JSON: %s", err)
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, "", errcode.Wrap(errcode.FetchFailed, err, "issuer metadata is not JSON")
	}
	if md.Issuer != iss {
		return nil, "", errcode.New(errcode.KeyNotFound, "issuer metadata names %q, not %q", md.Issuer, iss)
	}
	switch {
	case len(md.JWKS) > 0 && md.JWKSURI != "":
		return nil, "", errcode.New(errcode.KeyNotFound, "issuer metadata has both jwks and jwks_uri")
	case len(md.JWKS) > 0:
		return md.JWKS, "", nil
	case strings.HasPrefix(md.JWKSURI, "https://"):
		return nil, md.JWKSURI, nil
	}
	return nil, "", errcode.New(errcode.KeyNotFound, "issuer metadata has neither jwks nor an https jwks_uri")
}
