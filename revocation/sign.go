package revocation

import (
	"encoding/json"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// SignToken returns the Status List Token for l as a compact JWT with header
// typ "statuslist+jwt" (draft-ietf-oauth-status-list section 5.1). key is a
// private jwk.Key carrying kid and alg (ES256 or EdDSA).
func SignToken(l *List, c TokenClaims, key jwk.Key) (string, error) {
	if l == nil {
		return "", errcode.New(errcode.InvalidInput, "nil status list")
	}
	if err := c.check(); err != nil {
		return "", err
	}
	lst, err := l.EncodeIETF()
	if err != nil {
		return "", err
	}
	p := tokenPayload{
		Iat:        c.IssuedAt.Unix(),
		Iss:        c.Issuer,
		StatusList: statusListClaim{Bits: l.bits, Lst: lst},
		Sub:        c.Subject,
		TTL:        ttlUnits(c.TTL, time.Second),
	}
	if !c.Expires.IsZero() {
		p.Exp = c.Expires.Unix()
	}
	return sign(p, TypStatusListJWT, key)
}

// SignW3C returns the W3C view of l for one status purpose: a
// BitstringStatusListCredential (VCDM 2.0, BSL v1.0 section 2.2) secured as
// a compact JWS with header typ "vc+jwt" and cty "vc" (VC-JOSE-COSE).
//
// purpose "revocation" sets the bits of entries whose status is 1,
// "suspension" those whose status is 2 (statusSize 1). The bitstring is
// padded with zero bits to MinW3CEntries when l is shorter. The credential:
//
//	id                 W3CCredentialID(c.Subject, purpose)
//	issuer, validFrom  c.Issuer, c.IssuedAt; validUntil c.Expires when set
//	credentialSubject  {id: <id>#list, type: BitstringStatusList,
//	                    statusPurpose, encodedList, ttl (milliseconds, when set)}
//
// The JWT claims iss, iat and exp repeat issuer, validFrom and validUntil.
func SignW3C(l *List, purpose string, c TokenClaims, key jwk.Key) (string, error) {
	if l == nil {
		return "", errcode.New(errcode.InvalidInput, "nil status list")
	}
	if err := c.check(); err != nil {
		return "", err
	}
	view, err := w3cView(l, purpose)
	if err != nil {
		return "", err
	}
	enc, err := view.EncodeW3C()
	if err != nil {
		return "", err
	}
	id := W3CCredentialID(c.Subject, purpose)
	subject := map[string]any{
		"id":            id + "#list",
		"type":          "BitstringStatusList",
		"statusPurpose": purpose,
		"encodedList":   enc,
	}
	if c.TTL > 0 {
		subject["ttl"] = ttlUnits(c.TTL, time.Millisecond)
	}
	vc := map[string]any{
		"@context":          []string{"https://www.w3.org/ns/credentials/v2"},
		"id":                id,
		"type":              []string{"VerifiableCredential", "BitstringStatusListCredential"},
		"issuer":            c.Issuer,
		"validFrom":         c.IssuedAt.UTC().Format(time.RFC3339),
		"credentialSubject": subject,
		"iss":               c.Issuer,
		"iat":               c.IssuedAt.Unix(),
	}
	if !c.Expires.IsZero() {
		vc["validUntil"] = c.Expires.UTC().Format(time.RFC3339)
		vc["exp"] = c.Expires.Unix()
	}
	return sign(vc, TypVCJWT, key)
}

func sign(payload any, typ string, key jwk.Key) (string, error) {
	if key == nil {
		return "", errcode.New(errcode.InvalidInput, "no signing key")
	}
	if key.KeyID() == "" {
		return "", errcode.New(errcode.InvalidInput, "signing key has no kid")
	}
	if jose.KeyAlg(key) == "" {
		return "", errcode.New(errcode.UnsupportedAlg, "signing key has no alg (ES256 or EdDSA)")
	}
	alg, err := jose.SigningAlg(key)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "encode payload")
	}
	hdr := map[string]any{jws.TypeKey: typ, jws.KeyIDKey: key.KeyID()}
	if typ == TypVCJWT {
		hdr[jws.ContentTypeKey] = "vc"
	}
	out, err := jose.Sign(body, alg, key, hdr)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "sign status list")
	}
	return string(out), nil
}
