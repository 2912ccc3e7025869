// Package approval binds a person's yes to one exact request: an approval
// request carries the JCS (RFC 8785) digest of the request object, and an
// approval is a short-lived JWT of its own typ, signed by an approver key
// certified for the accountable principal, that repeats the digest, the
// agent subject, the audience and a single-use nonce.
package approval

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/receipt"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Typ is the JOSE typ header of every approval.
const Typ = "agentcert-approval+jwt"

// MaxTokenSize bounds an approval, its approver credential included,
// before it is parsed.
const MaxTokenSize = 16 << 10

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
// equal JSON values give equal digests however members are ordered or
// numbers spelled. params is any JSON value (json.RawMessage, or a map of
// request attributes); nil, JSON null and an empty object all mean no
// parameters.
func Digest(action string, params any) (string, error) {
	obj := map[string]any{"action": action}
	p, err := normalParams(params)
	if err != nil {
		return "", err
	}
	if p != nil {
		obj["params"] = p
	}
	d, err := receipt.JSONDigest(obj)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "approval: canonicalize request")
	}
	return d, nil
}

// normalParams decodes params into generic JSON (numbers as json.Number),
// with empty parameters as nil.
func normalParams(params any) (any, error) {
	if params == nil {
		return nil, nil
	}
	b, err := json.Marshal(params)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "approval: params are not JSON")
	}
	var p any
	if err := jsonstrict.Decode(b, &p); err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "approval: params are not JSON")
	}
	if m, ok := p.(map[string]any); p == nil || ok && len(m) == 0 {
		return nil, nil
	}
	if err := keptByJCS(p); err != nil {
		return nil, err
	}
	return p, nil
}

// keptByJCS refuses a number in v whose value the JCS form changes: JCS
// writes numbers as IEEE 754 doubles, so 9007199254740993 and
// 9007199254740992 (or two identifiers of 20 digits) would have one digest,
// and an approval of the one would approve the other. 0.1 and 1.0 are kept
// (their doubles print back as the same value).
func keptByJCS(v any) error {
	switch x := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(x))
		if !ok {
			return errcode.New(errcode.InvalidInput, "approval: params: %s is not a number", x)
		}
		f, _ := r.Float64()
		back, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
		if math.IsInf(f, 0) || !ok || back.Cmp(r) != 0 {
			return errcode.New(errcode.InvalidInput, "approval: params: the number %s is beyond what a digest can tell apart (a double's precision); send it as a string", x)
		}
	case []any:
		for _, e := range x {
			if err := keptByJCS(e); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, e := range x {
			if err := keptByJCS(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// NewRequest builds an approval request for action with params (any JSON
// value, see Digest) and a fresh nonce, valid for ttl (at most MaxLifetime;
// 0 means 5 minutes).
func NewRequest(action string, params any, audience, principal, subject string, ttl time.Duration, now time.Time) (Request, error) {
	if action == "" || audience == "" || principal == "" || subject == "" {
		return Request{}, errcode.New(errcode.InvalidInput, "approval: action, audience, principal and subject are required")
	}
	if ttl <= 0 || ttl > MaxLifetime {
		ttl = 5 * time.Minute
	}
	p, err := normalParams(params)
	if err != nil {
		return Request{}, err
	}
	var raw json.RawMessage
	if p != nil {
		if raw, err = json.Marshal(p); err != nil {
			return Request{}, fmt.Errorf("approval: encode params: %w", err)
		}
	}
	d, err := Digest(action, p)
	if err != nil {
		return Request{}, err
	}
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return Request{}, fmt.Errorf("approval: nonce: %w", err)
	}
	return Request{Action: action, Params: raw, Digest: d, Audience: audience,
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

// HeaderCredential is the protected header member of an approval that
// carries the approver's certification: the issuer-signed approver
// credential (an SD-JWT VC of vct urn:agentcert:approver:v1, with no
// disclosures) whose cnf.jwk signed the approval. It makes an approval
// verifiable offline with the issuer's key alone.
const HeaderCredential = "approver_vc"

// MaxNonceLen bounds an approval request's nonce.
const MaxNonceLen = 128

// Sign signs an approval of req by approver with key (ES256 or EdDSA, with
// a kid). credential, when not empty, is the approver's certification,
// carried in the HeaderCredential header. The approval expires with the
// request.
func Sign(req Request, approver string, key jwk.Key, credential string, now time.Time) (string, error) {
	if key.KeyID() == "" {
		return "", errcode.New(errcode.InvalidInput, "approval: approver key has no kid")
	}
	alg, err := jose.SigningAlg(key)
	if err != nil {
		return "", err
	}
	if err := req.check(); err != nil {
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
	hdr := map[string]any{jws.TypeKey: Typ, jws.KeyIDKey: key.KeyID()}
	if credential != "" {
		hdr[HeaderCredential] = credential
	}
	out, err := jose.Sign(payload, alg, key, hdr)
	if err != nil {
		return "", fmt.Errorf("approval: sign: %w", err)
	}
	return string(out), nil
}

// check reports a request whose digest is not that of its action and
// params, or that lacks a member: signing it would approve something other
// than what is shown.
func (r Request) check() error {
	if r.Action == "" || r.Audience == "" || r.Principal == "" || r.Subject == "" || r.Nonce == "" || r.Expiry == 0 {
		return errcode.New(errcode.InvalidInput, "approval: the request lacks action, aud, principal, sub, nonce or exp")
	}
	if len(r.Nonce) > MaxNonceLen {
		return errcode.New(errcode.InvalidInput, "approval: the nonce is longer than %d bytes", MaxNonceLen)
	}
	var params any
	if len(r.Params) > 0 {
		params = r.Params
	}
	d, err := Digest(r.Action, params)
	if err != nil {
		return err
	}
	if d != r.Digest {
		return errcode.New(errcode.ApprovalDigestMismatch, "approval: the request's digest is not that of its action and params")
	}
	return nil
}

// MaxRequestSize bounds an encoded approval request.
const MaxRequestSize = 16 << 10

// ParseRequest decodes an approval request (strict JSON, bounded) and
// checks that its digest is that of its action and params, so that what an
// approver is shown is what the signature approves.
func ParseRequest(b []byte) (Request, error) {
	if len(b) > MaxRequestSize {
		return Request{}, errcode.New(errcode.TooLarge, "approval: request exceeds %d bytes", MaxRequestSize)
	}
	var r Request
	if err := jsonstrict.Decode(b, &r); err != nil {
		return Request{}, errcode.Wrap(errcode.InvalidInput, err, "approval: request")
	}
	if err := r.check(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// Describe says in words what approving r means, for the person asked.
// Every value comes from whoever made the request, so characters that are
// not printable (terminal control sequences, bidirectional overrides, line
// breaks) are shown escaped: they could otherwise redraw or reorder the
// lines above them and show the approver something other than what is
// signed.
func Describe(r Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Approve action %s\n", printable(r.Action))
	fmt.Fprintf(&b, "  by agent:      %s\n", printable(r.Subject))
	fmt.Fprintf(&b, "  for principal: %s\n", printable(r.Principal))
	fmt.Fprintf(&b, "  at:            %s\n", printable(r.Audience))
	var p map[string]any
	if len(r.Params) > 0 && json.Unmarshal(r.Params, &p) == nil {
		if a, ok := p["amount"]; ok {
			cur, _ := p["currency"].(string)
			fmt.Fprintf(&b, "  amount:        %s %s\n", printable(fmt.Sprint(a)), printable(cur))
		}
		for _, k := range []string{"counterparty", "payee", "resource"} {
			if v, ok := p[k]; ok {
				fmt.Fprintf(&b, "  %-14s %s\n", k+":", printable(fmt.Sprint(v)))
			}
		}
		fmt.Fprintf(&b, "  parameters:    %s\n", printable(string(r.Params)))
	}
	fmt.Fprintf(&b, "  request digest %s, valid until %s\n", printable(r.Digest), time.Unix(r.Expiry, 0).UTC().Format(time.RFC3339))
	return b.String()
}

// printable is s with every character that is not printable (unicode.IsPrint)
// written as its Go escape (\x1b, \u202e, \n), and every byte that is not
// UTF-8 as \xNN.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(c):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(c)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// Roster lists the approver public keys certified for each principal
// (principal -> keys, each with a kid).
type Roster map[string][]jwk.Key

// Replay records used approval nonces: Spend reports fresh=false when id
// was spent before, and keeps id until expires. verifier.SpentStore
// implementations (in memory, Redis) are Replays.
type Replay interface {
	Spend(ctx context.Context, id string, expires time.Time) (fresh bool, err error)
}

// Forgetful is a Replay that remembers spent nonces only from an instant
// on: an in-memory set, from when its process started. An approval issued
// before then may have been spent and forgotten (a restart), so Verify
// refuses it (approval_replayed) rather than let it be used twice: a
// restart costs the approvals given just before it, never their
// single use. A zero RemembersSince remembers everything.
type Forgetful interface {
	RemembersSince() time.Time
}

// rememberedFrom is the second (iat's unit) the record that starts at since
// is taken to cover: an approval issued in an earlier second is refused.
// One issued in the very second the record began is taken, since it is far
// more likely made after the start than used by the process before it in
// the same second (a restart in under a second).
func rememberedFrom(since time.Time) int64 {
	if since.IsZero() {
		return math.MinInt64
	}
	return since.Unix()
}

// Expect is what the verifier is asked to authorize.
type Expect struct {
	Action    string
	Params    any // the request's attributes (see Digest)
	Audience  string
	Principal string
	Subject   string
}

// Parse parses an approval without verifying its signature (checks size,
// typ, alg, that the header has no crit or b64, and required claims).
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
	if a := h.Algorithm(); !jose.Allowed(a.String(), nil) {
		return Claims{}, nil, errcode.New(errcode.UnsupportedAlg, "approval: alg %q not allowed", a)
	}
	// No extension is understood: a crit header (or b64, RFC 7797) is
	// refused, not verified with the extension ignored.
	for _, k := range []string{"crit", "b64"} {
		if _, ok := h.Get(k); ok {
			return Claims{}, nil, errcode.New(errcode.ApprovalMalformed, "approval: the header has %s; no JWS extension is understood", k)
		}
	}
	var c Claims
	if err := jsonstrict.Decode(msg.Payload(), &c); err != nil {
		return Claims{}, nil, errcode.Wrap(errcode.ApprovalMalformed, err, "approval: claims")
	}
	if c.Issuer == "" || c.Subject == "" || c.Audience == "" || c.Principal == "" || c.Action == "" || c.Digest == "" || c.Nonce == "" || c.Expiry == 0 || c.IssuedAt == 0 {
		return Claims{}, nil, errcode.New(errcode.ApprovalMalformed, "approval: a required claim is missing")
	}
	if len(c.Nonce) > MaxNonceLen {
		return Claims{}, nil, errcode.New(errcode.ApprovalMalformed, "approval: the nonce is longer than %d bytes", MaxNonceLen)
	}
	return c, h, nil
}

// Credential returns the approver credential an approval's header
// carries, or "".
func Credential(h jws.Headers) string {
	v, ok := h.Get(HeaderCredential)
	if !ok {
		return ""
	}
	s, _ := v.(string)
	return s
}

// Verify checks an approval for want: signature by an approver key of the
// principal in roster, digest equality with want's request object,
// audience, subject, expiry and single use of the nonce (last, so a
// refused approval does not burn its nonce).
func Verify(ctx context.Context, token string, want Expect, roster Roster, replay Replay, now time.Time) (Claims, error) {
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
	if _, err := jose.PublicKeyFor(h.Algorithm(), key); err != nil {
		return Claims{}, errcode.Wrap(errcode.ApprovalBadSignature, err, "approval: the approver key does not fit %s", h.Algorithm())
	}
	if _, err := jws.Verify([]byte(token), jws.WithKey(h.Algorithm(), key)); err != nil {
		return Claims{}, errcode.Wrap(errcode.ApprovalBadSignature, err, "approval: signature")
	}
	if c.Action != want.Action {
		return Claims{}, errcode.New(errcode.ApprovalDigestMismatch, "approval: approved action %q, not %q", c.Action, want.Action)
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
	if c.Subject != want.Subject {
		return Claims{}, errcode.New(errcode.ApprovalUnauthorized, "approval: given for agent %q, not %q", c.Subject, want.Subject)
	}
	if now.Unix() >= c.Expiry {
		return Claims{}, errcode.New(errcode.ApprovalExpired, "approval: expired")
	}
	// exp is in the future here, so exp-MaxLifetime does not overflow
	// (exp-iat could, for an iat near the smallest int64).
	if c.IssuedAt < c.Expiry-int64(MaxLifetime/time.Second) || c.IssuedAt > c.Expiry || c.IssuedAt > now.Add(time.Minute).Unix() {
		return Claims{}, errcode.New(errcode.ApprovalExpired, "approval: lifetime out of bounds")
	}
	if f, ok := replay.(Forgetful); ok {
		if since := rememberedFrom(f.RemembersSince()); c.IssuedAt < since {
			return Claims{}, errcode.New(errcode.ApprovalReplayed, "approval: issued at %s, before this verifier began to record spent approvals (%s, when it started): it may have been used before; ask for a new one",
				time.Unix(c.IssuedAt, 0).UTC().Format(time.RFC3339), time.Unix(since, 0).UTC().Format(time.RFC3339))
		}
	}
	fresh, err := replay.Spend(ctx, spendID(c.Principal, c.Nonce), time.Unix(c.Expiry, 0))
	if err != nil {
		return Claims{}, errcode.Wrap(errcode.NonceStoreUnavailable, err, "approval: nonce store")
	}
	if !fresh {
		return Claims{}, errcode.New(errcode.ApprovalReplayed, "approval: already used")
	}
	return c, nil
}

// spendID is the single-use id of an approval's nonce: per principal, so
// that an approver of another principal who learns a nonce cannot use it
// up (by approving a request of its own with it) for the principal it was
// asked of. The principal's length keeps the id unambiguous.
func spendID(principal, nonce string) string {
	return "approval:" + strconv.Itoa(len(principal)) + ":" + principal + ":" + nonce
}
