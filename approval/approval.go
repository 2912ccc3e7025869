// Package approval binds a person's yes to one exact request: an approval
// request carries the JCS (RFC 8785) digest of the request object, and an
// approval is a short-lived JWT of its own typ, signed by an approver key
// certified for the accountable principal, that repeats the digest, the
// agent subject, the audience and a single-use nonce.
package approval

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/receipt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Typ is the JOSE typ header of every approval.
const Typ = "agentcert-approval+jwt"

// MaxTokenSize bounds an approval before it is parsed.
const MaxTokenSize = 8 << 10

// MaxLifetime bounds exp-iat of an approval.
const MaxLifetime = 15 * time.Minute

// Request is what a person is asked to approve.
type Request struct {
	Action    string          `json:"action"`
	Params    json.RawMessage `json:"params,omitempty"`
	Digest    string          `json:"digest"`
	Audience  string          `json:"aud"`
	Nonce     string          `json:"nonce"`
	Expiry    int64           `json:"exp"`
	Principal string          `json:"principal"`
	Subject   string          `json:"sub"`
}

// Digest is the JCS digest of the request object {"action", "params"}:
// equal JSON values give equal digests however members are ordered.
func Digest(action string, params json.RawMessage) (string, error) {
	obj := map[string]any{"action": action}
	if len(params) > 0 {
		var p any
		if err := json.Unmarshal(params, &p); err != nil {
			return "", errcode.Wrap(errcode.InvalidInput, err, "approval: params are not JSON")
		}
		obj["params"] = p
	}
	d, err := receipt.JSONDigest(obj)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "approval: canonicalize request")
	}
	return d, nil
}

// NewRequest builds an approval request with a fresh nonce valid for ttl.
func NewRequest(action string, params json.RawMessage, audience, principal, subject string, ttl time.Duration, now time.Time) (Request, error) {
	if action == "" || audience == "" || principal == "" || subject == "" {
		return Request{}, errcode.New(errcode.InvalidInput, "approval: action, audience, principal and subject are required")
	}
	if ttl <= 0 || ttl > MaxLifetime {
		ttl = 5 * time.Minute
	}
	d, err := Digest(action, params)
	if err != nil {
		return Request{}, err
	}
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return Request{}, fmt.Errorf("approval: nonce: %w", err)
	}
	return Request{Action: action, Params: params, Digest: d, Audience: audience,
		Nonce: base64.RawURLEncoding.EncodeToString(n[:]), Expiry: now.Add(ttl).Unix(),
		Principal: principal, Subject: subject}, nil
}

// Claims are the claims of an approval JWT.
type Claims struct {
	Issuer    string `json:"iss"` // the approver
	Subject   string `json:"sub"` // the agent
	Audience  string `json:"aud"`
	Principal string `json:"principal"`
	Action    string `json:"act"`
	Digest    string `json:"digest"`
	Nonce     string `json:"nonce"`
	IssuedAt  int64  `json:"iat"`
	Expiry    int64  `json:"exp"`
}

// Sign signs an approval of req by approver with key (ES256 or EdDSA, with
// a kid). The approval expires with the request.
func Sign(req Request, approver string, key jwk.Key, now time.Time) (string, error) {
	if key.KeyID() == "" {
		return "", errcode.New(errcode.InvalidInput, "approval: approver key has no kid")
	}
	alg, err := algOf(key)
	if err != nil {
		return "", err
	}
	exp := req.Expiry
	if exp <= now.Unix() || exp > now.Add(MaxLifetime).Unix() {
		return "", errcode.New(errcode.ApprovalExpired, "approval: request expired or expiry too far")
	}
	c := Claims{Issuer: approver, Subject: req.Subject, Audience: req.Audience, Principal: req.Principal,
		Action: req.Action, Digest: req.Digest, Nonce: req.Nonce, IssuedAt: now.Unix(), Expiry: exp}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("approval: encode: %w", err)
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, Typ)
	_ = h.Set(jws.KeyIDKey, key.KeyID())
	out, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("approval: sign: %w", err)
	}
	return string(out), nil
}

func algOf(key jwk.Key) (jwa.SignatureAlgorithm, error) {
	switch key.KeyType() {
	case jwa.EC:
		return jwa.ES256, nil
	case jwa.OKP:
		return jwa.EdDSA, nil
	}
	return "", errcode.New(errcode.UnsupportedAlg, "approval: key type %s not supported", key.KeyType())
}

// Roster lists the approver public keys the issuer certified for each
// principal (principal -> keys, each with a kid).
type Roster map[string][]jwk.Key

// Replay remembers used nonces until they expire.
type Replay interface {
	// Use records nonce as used until exp and reports whether it was fresh.
	Use(nonce string, exp time.Time) (bool, error)
}

// MemoryReplay is an in-process Replay.
type MemoryReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// NewMemoryReplay returns an empty MemoryReplay.
func NewMemoryReplay() *MemoryReplay { return &MemoryReplay{seen: map[string]time.Time{}} }

// Use implements Replay.
func (m *MemoryReplay) Use(nonce string, exp time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for n, e := range m.seen {
		if now.After(e) {
			delete(m.seen, n)
		}
	}
	if _, ok := m.seen[nonce]; ok {
		return false, nil
	}
	m.seen[nonce] = exp
	return true, nil
}

// Expect is what the verifier is asked to authorize.
type Expect struct {
	Action    string
	Params    json.RawMessage
	Audience  string
	Principal string
	Subject   string
}

// Parse parses an approval without verifying its signature (checks size,
// typ, alg and required claims).
func Parse(token string) (Claims, jws.Headers, error) {
	if len(token) > MaxTokenSize {
		return Claims{}, nil, errcode.New(errcode.TooLarge, "approval: token exceeds %d bytes", MaxTokenSize)
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil {
		return Claims{}, nil, errcode.Wrap(errcode.ApprovalMalformed, err, "approval: not a compact JWS")
	}
	if len(msg.Signatures()) != 1 {
		return Claims{}, nil, errcode.New(errcode.ApprovalMalformed, "approval: want one signature")
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if h.Type() != Typ {
		return Claims{}, nil, errcode.New(errcode.ApprovalMalformed, "approval: typ is %q, want %q", h.Type(), Typ)
	}
	if a := h.Algorithm(); a != jwa.ES256 && a != jwa.EdDSA {
		return Claims{}, nil, errcode.New(errcode.UnsupportedAlg, "approval: alg %q not allowed", a)
	}
	var c Claims
	if err := json.Unmarshal(msg.Payload(), &c); err != nil {
		return Claims{}, nil, errcode.Wrap(errcode.ApprovalMalformed, err, "approval: claims")
	}
	if c.Issuer == "" || c.Subject == "" || c.Audience == "" || c.Principal == "" || c.Digest == "" || c.Nonce == "" || c.Expiry == 0 || c.IssuedAt == 0 {
		return Claims{}, nil, errcode.New(errcode.ApprovalMalformed, "approval: a required claim is missing")
	}
	return c, h, nil
}

// Verify checks an approval for exp: signature by an approver key of the
// principal in roster, digest equality with exp's request object, audience,
// subject, expiry and single use of the nonce (last, so a refused approval
// does not burn its nonce).
func Verify(token string, want Expect, roster Roster, replay Replay, now time.Time) (Claims, error) {
	c, h, err := Parse(token)
	if err != nil {
		return Claims{}, err
	}
	if c.Principal != want.Principal {
		return Claims{}, errcode.New(errcode.ApprovalUnauthorized, "approval: given for principal %q, not %q", c.Principal, want.Principal)
	}
	var key jwk.Key
	for _, k := range roster[want.Principal] {
		if k.KeyID() == h.KeyID() {
			key = k
		}
	}
	if key == nil {
		return Claims{}, errcode.New(errcode.ApprovalUnauthorized, "approval: key %q is not an approver key of %q", h.KeyID(), want.Principal)
	}
	if _, err := jws.Verify([]byte(token), jws.WithKey(h.Algorithm(), key)); err != nil {
		return Claims{}, errcode.Wrap(errcode.ApprovalBadSignature, err, "approval: signature")
	}
	d, err := Digest(want.Action, want.Params)
	if err != nil {
		return Claims{}, err
	}
	if c.Digest != d {
		return Claims{}, errcode.New(errcode.ApprovalDigestMismatch, "approval: approved a different request")
	}
	if c.Audience != want.Audience {
		return Claims{}, errcode.New(errcode.ApprovalWrongAudience, "approval: audience %q, want %q", c.Audience, want.Audience)
	}
	if want.Subject != "" && c.Subject != want.Subject {
		return Claims{}, errcode.New(errcode.ApprovalUnauthorized, "approval: given for agent %q, not %q", c.Subject, want.Subject)
	}
	if now.Unix() >= c.Expiry {
		return Claims{}, errcode.New(errcode.ApprovalExpired, "approval: expired")
	}
	if c.Expiry-c.IssuedAt > int64(MaxLifetime/time.Second) || c.IssuedAt > now.Add(time.Minute).Unix() {
		return Claims{}, errcode.New(errcode.ApprovalExpired, "approval: lifetime out of bounds")
	}
	fresh, err := replay.Use(c.Nonce, time.Unix(c.Expiry, 0))
	if err != nil {
		return Claims{}, errcode.Wrap(errcode.NonceStoreUnavailable, err, "approval: nonce store")
	}
	if !fresh {
		return Claims{}, errcode.New(errcode.ApprovalReplayed, "approval: already used")
	}
	return c, nil
}
