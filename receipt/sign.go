package receipt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Signer signs receipts as one verifier. It is safe for concurrent use.
type Signer struct {
	iss, kid string
	alg      jwa.SignatureAlgorithm
	key      crypto.Signer
	pub      jwk.Key
	now      func() time.Time
}

// Option configures a Signer.
type Option func(*Signer)

// WithClock sets the clock that stamps iat (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Signer) { s.now = now } }

// NewSigner returns a signer for verifier iss (a DID) whose key is named
// by kid, a DID URL of iss. key may be any crypto.Signer over P-256
// (ES256) or Ed25519 (EdDSA), such as a KMS- or HSM-backed one.
func NewSigner(iss, kid string, key crypto.Signer, opts ...Option) (*Signer, error) {
	if !strings.HasPrefix(iss, "did:") {
		return nil, fmt.Errorf("receipt: the verifier %q is not a DID", iss)
	}
	if !strings.HasPrefix(kid, iss+"#") {
		return nil, fmt.Errorf("receipt: kid %q is not a DID URL of %s", kid, iss)
	}
	if key == nil {
		return nil, errors.New("receipt: no key")
	}
	s := &Signer{iss: iss, kid: kid, key: key, now: time.Now}
	switch p := key.Public().(type) {
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, errors.New("receipt: only P-256 ECDSA keys sign receipts")
		}
		s.alg = jwa.ES256
	case ed25519.PublicKey:
		s.alg = jwa.EdDSA
	default:
		return nil, fmt.Errorf("receipt: unsupported key type %T (P-256 or Ed25519)", p)
	}
	pub, err := jwk.FromRaw(key.Public())
	if err != nil {
		return nil, fmt.Errorf("receipt: public key: %w", err)
	}
	if err := pub.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, err
	}
	if err := pub.Set(jwk.AlgorithmKey, s.alg); err != nil {
		return nil, err
	}
	s.pub = pub
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// SignerFromJWK returns a signer over a private JWK, whose kid (a DID URL
// of iss) names it.
func SignerFromJWK(iss string, k jwk.Key, opts ...Option) (*Signer, error) {
	var raw any
	if err := k.Raw(&raw); err != nil {
		return nil, fmt.Errorf("receipt: key: %w", err)
	}
	cs, ok := raw.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("receipt: key %s is not a private signing key", k.KeyID())
	}
	if p, ok := raw.(ed25519.PrivateKey); ok {
		cs = p
	}
	return NewSigner(iss, k.KeyID(), cs, opts...)
}

// Issuer is the verifier's DID.
func (s *Signer) Issuer() string { return s.iss }

// PublicKey is the public JWK of the signing key (kid and alg set), to
// publish in the verifier's DID document.
func (s *Signer) PublicKey() jwk.Key { return s.pub }

// Sign fills iss, iat (when zero) and jti (when empty) and returns the
// receipt as a compact JWS.
func (s *Signer) Sign(c Claims) (string, error) {
	c.Issuer = s.iss
	if c.IssuedAt == 0 {
		c.IssuedAt = s.now().Unix()
	}
	if c.ID == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("receipt: jti: %w", err)
		}
		c.ID = base64.RawURLEncoding.EncodeToString(b)
	}
	if err := c.check(); err != nil {
		return "", fmt.Errorf("receipt: refusing to sign: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("receipt: encode: %w", err)
	}
	out, err := jose.Sign(payload, s.alg, s.key, map[string]any{jws.TypeKey: Typ, jws.KeyIDKey: s.kid})
	if err != nil {
		return "", fmt.Errorf("receipt: sign: %w", err)
	}
	if len(out) > MaxReceiptBytes {
		return "", errcode.New(errcode.ReceiptMalformed, "receipt: refusing to sign: the receipt would be %d bytes, over the %d that Verify accepts", len(out), MaxReceiptBytes)
	}
	return string(out), nil
}
