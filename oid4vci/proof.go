package oid4vci

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// MaxProofBytes bounds one key proof.
const MaxProofBytes = 8 << 10

// ProofPolicy is what a key proof is checked against.
type ProofPolicy struct {
	Audience   string                   // the Credential Issuer Identifier
	Algorithms []jwa.SignatureAlgorithm // allowed proof algorithms
	Now        time.Time
	MaxAge     time.Duration // how old iat may be
	Leeway     time.Duration // clock skew allowed on every time check
	Resolver   did.Resolver  // resolves a kid DID URL; nil allows jwk proofs only
	// Nonce, when set, checks the proof's nonce (that it is a c_nonce the
	// issuer gave, unexpired) before the proof's key is resolved; its error
	// is returned as it is. Nil leaves that check to the caller.
	Nonce func(nonce string) error
}

// ProvenKey is the outcome of a verified proof: the public key whose
// possession it demonstrates, the DID that names it, and the c_nonce it
// carries (for the caller to spend).
type ProvenKey struct {
	Key   jwk.Key
	DID   string
	Nonce string
}

// VerifyProof checks a jwt key proof (OpenID4VCI appendix F.1), in this
// order, each with its own code: a compact JWS of at most MaxProofBytes
// (invalid_proof), typ openid4vci-proof+jwt (proof_wrong_typ), alg on the
// allow-list (unsupported_alg), no crit (unknown_crit), exactly one of a
// public jwk or a kid that is a DID URL, and no x5c or trust_chain
// (proof_key_invalid), aud the issuer (proof_wrong_audience), iat present
// and inside the window, and exp and nbf when present (proof_stale), a nonce
// (invalid_nonce) and, with p.Nonce, the nonce's own check; only then is a
// kid resolved (proof_key_invalid), which may fetch a did:web document, and
// the signature checked under the key (proof_bad_signature). So a proof
// that fails what can be checked offline costs no fetch; the claims are
// read before the signature is checked, and the signature then covers
// exactly the bytes they were read from.
func VerifyProof(ctx context.Context, proof string, p ProofPolicy) (*ProvenKey, error) {
	if len(proof) > MaxProofBytes {
		return nil, errcode.New(errcode.InvalidProof, "the proof is longer than %d bytes", MaxProofBytes)
	}
	if strings.Count(proof, ".") != 2 {
		return nil, errcode.New(errcode.InvalidProof, "the proof is not a compact JWS")
	}
	msg, err := jws.ParseString(proof)
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, errcode.New(errcode.InvalidProof, "the proof is not a compact JWS")
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if !jose.TypIs(h.Type(), ProofTyp) {
		return nil, errcode.New(errcode.ProofWrongTyp, "the proof's typ is %q, not %s", h.Type(), ProofTyp)
	}
	alg := h.Algorithm()
	if !jose.Allowed(alg.String(), p.Algorithms) {
		return nil, errcode.New(errcode.UnsupportedAlg, "proof alg %q is not allowed", alg)
	}
	if len(h.Critical()) > 0 {
		return nil, errcode.New(errcode.UnknownCrit, "the proof has a crit header")
	}
	named, err := proofKeyRef(h, p.Resolver)
	if err != nil {
		return nil, err
	}
	claimed := msg.Payload()
	nonce, err := checkClaims(claimed, p)
	if err != nil {
		return nil, err
	}
	if p.Nonce != nil {
		if err := p.Nonce(nonce); err != nil {
			return nil, err
		}
	}
	key, subject, err := named.resolve(ctx, p.Resolver)
	if err != nil {
		return nil, err
	}
	if _, err := jose.PublicKeyFor(alg, key); err != nil {
		return nil, errcode.Wrap(errcode.ProofKeyInvalid, err, "the proof's alg %s does not fit its key", alg)
	}
	payload, err := jws.Verify([]byte(proof), jws.WithKey(alg, key))
	if err != nil {
		return nil, errcode.Wrap(errcode.ProofBadSignature, err, "the proof's signature does not verify with its key")
	}
	if !bytes.Equal(payload, claimed) {
		return nil, errcode.New(errcode.InvalidProof, "the proof's signed payload is not the one its claims were read from")
	}
	return &ProvenKey{Key: key, DID: subject, Nonce: nonce}, nil
}

// checkClaims checks the proof's payload claims (aud, iat, exp, nbf, a
// nonce) and returns its nonce.
func checkClaims(payload []byte, p ProofPolicy) (string, error) {
	var c struct {
		Aud   json.RawMessage `json:"aud"`
		Iat   *json.Number    `json:"iat"`
		Exp   *json.Number    `json:"exp"`
		Nbf   *json.Number    `json:"nbf"`
		Nonce *string         `json:"nonce"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return "", errcode.New(errcode.InvalidProof, "the proof's payload is not a JSON object of the expected claims")
	}
	if !audienceIs(c.Aud, p.Audience) {
		return "", errcode.New(errcode.ProofWrongAudience, "the proof's aud is not %s", p.Audience)
	}
	iat, ok := unix(c.Iat)
	if !ok {
		return "", errcode.New(errcode.ProofStale, "the proof has no numeric iat")
	}
	if iat.After(p.Now.Add(p.Leeway)) || iat.Before(p.Now.Add(-p.MaxAge-p.Leeway)) {
		return "", errcode.New(errcode.ProofStale, "the proof's iat %s is outside the accepted window", iat.UTC().Format(time.RFC3339))
	}
	if c.Exp != nil {
		if exp, ok := unix(c.Exp); !ok || !p.Now.Before(exp.Add(p.Leeway)) {
			return "", errcode.New(errcode.ProofStale, "the proof has expired")
		}
	}
	if c.Nbf != nil {
		if nbf, ok := unix(c.Nbf); !ok || nbf.After(p.Now.Add(p.Leeway)) {
			return "", errcode.New(errcode.ProofStale, "the proof is not yet valid")
		}
	}
	if c.Nonce == nil || *c.Nonce == "" {
		return "", errcode.New(errcode.InvalidNonce, "the proof carries no nonce; get one from the nonce endpoint")
	}
	return *c.Nonce, nil
}

func unix(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// audienceIs accepts aud as the audience itself or an array of exactly it.
func audienceIs(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	return json.Unmarshal(raw, &many) == nil && len(many) == 1 && many[0] == want
}

// keyRef is the key a proof's header names: a public jwk (with its
// did:key), or a kid DID URL still to be resolved.
type keyRef struct {
	key     jwk.Key
	subject string
	kid     string
}

// proofKeyRef reads the key the proof's header names, without resolving a
// kid.
func proofKeyRef(h jws.Headers, r did.Resolver) (keyRef, error) {
	for _, name := range []string{jws.X509CertChainKey, "trust_chain", "key_attestation", jws.JWKSetURLKey, jws.X509URLKey} {
		if _, ok := h.Get(name); ok {
			return keyRef{}, errcode.New(errcode.ProofKeyInvalid, "the proof's %s header is not supported; give jwk or kid", name)
		}
	}
	hasJWK, kid := h.JWK() != nil, h.KeyID()
	switch {
	case hasJWK && kid != "":
		return keyRef{}, errcode.New(errcode.ProofKeyInvalid, "the proof gives both jwk and kid")
	case hasJWK:
		k := h.JWK()
		if keyutil.IsPrivate(k) {
			return keyRef{}, errcode.New(errcode.ProofKeyInvalid, "the proof's jwk holds a private key")
		}
		b, err := json.Marshal(k)
		if err != nil {
			return keyRef{}, errcode.Wrap(errcode.ProofKeyInvalid, err, "the proof's jwk")
		}
		key, err := keyutil.Parse(b)
		if err != nil {
			return keyRef{}, errcode.Wrap(errcode.ProofKeyInvalid, err, "the proof's jwk is not a P-256 or Ed25519 public key")
		}
		subject, err := did.KeyDID(key)
		if err != nil {
			return keyRef{}, errcode.Wrap(errcode.ProofKeyInvalid, err, "the proof's jwk has no did:key")
		}
		return keyRef{key: key, subject: subject}, nil
	case kid != "":
		if r == nil {
			return keyRef{}, errcode.New(errcode.ProofKeyInvalid, "kid proofs are not accepted; give jwk")
		}
		u, err := did.ParseURL(kid)
		if err != nil || u.Fragment == "" {
			return keyRef{}, errcode.New(errcode.ProofKeyInvalid, "the proof's kid %q is not a DID URL with a fragment", kid)
		}
		return keyRef{subject: u.DID.String(), kid: kid}, nil
	}
	return keyRef{}, errcode.New(errcode.ProofKeyInvalid, "the proof names no key: give jwk or kid")
}

// resolve returns the public key and its DID, resolving a kid with r.
func (k keyRef) resolve(ctx context.Context, r did.Resolver) (jwk.Key, string, error) {
	if k.key != nil {
		return k.key, k.subject, nil
	}
	key, err := did.AssertionKey(ctx, r, k.kid)
	if err != nil {
		return nil, "", errcode.Wrap(errcode.ProofKeyInvalid, err, "the proof's kid %q does not name a usable key", k.kid)
	}
	return key, k.subject, nil
}

// SignProof makes a jwt key proof with the private key priv for the issuer
// aud and the c_nonce nonce. When priv's kid is a DID URL the proof names the
// key by kid, otherwise it carries the public jwk.
func SignProof(priv jwk.Key, aud, nonce string, iat time.Time) (string, error) {
	if !keyutil.IsPrivate(priv) {
		return "", errcode.New(errcode.InvalidInput, "a proof needs the private key")
	}
	alg, err := keyutil.AlgOf(priv)
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, ProofTyp); err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "proof header")
	}
	if u, err := did.ParseURL(priv.KeyID()); err == nil && u.Fragment != "" {
		err = hdr.Set(jws.KeyIDKey, priv.KeyID())
		if err != nil {
			return "", errcode.Wrap(errcode.Internal, err, "proof header")
		}
	} else {
		pub, err := keyutil.Public(priv)
		if err != nil {
			return "", err
		}
		for _, m := range []string{jwk.KeyIDKey, jwk.KeyUsageKey, jwk.KeyOpsKey} {
			_ = pub.Remove(m)
		}
		if err := hdr.Set(jws.JWKKey, pub); err != nil {
			return "", errcode.Wrap(errcode.Internal, err, "proof header")
		}
	}
	payload, err := json.Marshal(map[string]any{"aud": aud, "iat": iat.Unix(), "nonce": nonce})
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "proof payload")
	}
	var raw any
	if err := priv.Raw(&raw); err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "the private key")
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, raw, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "sign the proof")
	}
	return string(out), nil
}
