package sdjwt

import (
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/jsonptr"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// KBOptions configures the Key Binding JWT a holder appends.
type KBOptions struct {
	Key      jwk.Key   // holder private key (the one cnf.jwk names); ES256 or EdDSA
	Audience string    // the verifier, required
	Nonce    string    // the verifier's nonce, required
	IssuedAt time.Time // zero = time.Now()
	// Claims are further KB-JWT claims (OpenID4VP's
	// transaction_data_hashes); they cannot replace iat, aud, nonce or
	// sd_hash.
	Claims map[string]any
}

// Present keeps the disclosures needed to reveal the claims at the given
// JSON Pointers and, when kb is not nil, appends a KB-JWT signed with
// kb.Key.
//
// Pointers address the payload as it reads with every disclosure applied
// (array indices count every element the issuer wrote), for example
// "/permissions/0" or "/address/street_address". "*" over an array stands
// for each element, and "" discloses everything. A pointer reveals the
// whole value it addresses (with any disclosures nested inside it) and
// brings along the disclosures of its parents. A pointer that addresses no
// value is invalid_input. A pointer to a clear claim inside a disclosed
// object brings that object's disclosure. The SD-JWT must not already carry a KB-JWT.
func Present(sdJWT string, disclose []string, kb *KBOptions) (string, error) {
	t, err := Parse(sdJWT, Limits{})
	if err != nil {
		return "", err
	}
	if t.KBJWT != "" {
		return "", errcode.New(errcode.InvalidInput, "the SD-JWT already carries a KB-JWT")
	}
	n := len(t.Disclosures)
	p, full, err := t.track()
	if err != nil {
		return "", err
	}
	keep := make([]bool, n)
	for _, ptr := range disclose {
		toks, err := jsonptr.Parse(ptr)
		if err != nil {
			return "", err
		}
		if !jsonptr.Exists(full, toks) {
			return "", errcode.New(errcode.InvalidInput, "JSON Pointer %q addresses no claim", ptr)
		}
		for i := range t.Disclosures {
			if keep[i] || !jsonptr.Related(full, toks, p.paths[i]) {
				continue
			}
			for j := i; j >= 0 && !keep[j]; j = p.parents[j] {
				keep[j] = true
			}
		}
	}
	var sb strings.Builder
	sb.Grow(len(sdJWT))
	sb.WriteString(t.IssuerJWT)
	sb.WriteByte('~')
	for i, d := range t.Disclosures {
		if keep[i] {
			sb.WriteString(d.Raw)
			sb.WriteByte('~')
		}
	}
	pres := sb.String()
	if kb == nil {
		return pres, nil
	}
	kbJWT, err := signKB(pres, kb)
	if err != nil {
		return "", err
	}
	return pres + kbJWT, nil
}

// signKB makes the KB-JWT for a presentation that ends in '~'.
func signKB(pres string, kb *KBOptions) (string, error) {
	alg, err := jose.SigningAlg(kb.Key)
	if err != nil {
		return "", err
	}
	if kb.Audience == "" || kb.Nonce == "" {
		return "", errcode.New(errcode.InvalidInput, "a KB-JWT needs an audience and a nonce")
	}
	iat := kb.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	claims := make(map[string]any, 4+len(kb.Claims))
	for k, v := range kb.Claims {
		claims[k] = v
	}
	claims["iat"], claims["aud"], claims["nonce"], claims["sd_hash"] = iat.Unix(), kb.Audience, kb.Nonce, SDHash(pres)
	body, err := marshalJSON(claims)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "KB-JWT payload")
	}
	signed, err := jose.Sign(body, alg, kb.Key, map[string]any{jws.TypeKey: TypKB})
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "KB-JWT signing failed")
	}
	return string(signed), nil
}
