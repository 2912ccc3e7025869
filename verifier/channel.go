package verifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/problem"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/sdjwt"
)

// Signature tags the agent channel accepts: agentcert's own and Web Bot
// Auth's (a request signed for Web Bot Auth with the certified key is
// accepted as it is).
const (
	TagAgentCert  = "agentcert"
	TagWebBotAuth = "web-bot-auth"
)

// ChannelComponents are the components every signed request must cover;
// content-digest is required as well when the request has a body.
var ChannelComponents = []string{"@method", "@authority", "@path", "@query"}

// ChannelOptions configures a Channel. Zero values take the defaults.
type ChannelOptions struct {
	// SessionLifetime bounds how long a verified presentation stands for
	// later signed requests; default 5 minutes. A session also ends at the
	// credential's exp, when its status is older than the policy's
	// MaxStatusAge, and when the status list token it was checked against
	// ends (its exp, or its fetch plus its ttl), whichever comes first.
	SessionLifetime time.Duration
	// MaxSessions bounds the sessions held (least recently used go first);
	// default 10,000.
	MaxSessions int
	// MaxSignatureAge bounds how long after created a signature is
	// accepted, and how far apart created and expires may be; default 5
	// minutes.
	MaxSignatureAge time.Duration
	// MaxNonces bounds the remembered signature nonces; when full, new
	// signed requests are refused (rate_limited) until nonces expire.
	// Default 1<<20.
	MaxNonces int
	// MaxBody bounds the body read to check Content-Digest; default 1 MiB.
	MaxBody int64
	// Spent, when set, records signature nonces where every replica sees
	// them (internal/noncestore/redisnonce.Store is one), so that a
	// signature accepted by one replica is refused by the others; nil keeps
	// them in this process. A store that cannot be asked fails closed (503).
	Spent SpentNonces
	// Authorities are the @authority values this service answers to (RFC
	// 9421 Section 2.2.3: the host, with ":port" when the port is not the
	// scheme's default), compared without regard to case. A signed request
	// whose @authority is not one of them was signed for another service
	// and is refused (sig_wrong_authority) before anything else is
	// checked. Empty: the authority of MiddlewareOptions.Audience when it
	// is an https:// or http:// URL; for any other audience Middleware
	// refuses a channel without Authorities.
	Authorities []string
}

// SpentNonces is a set of single-use values shared by replicas: Spend
// returns fresh for the first spend of id on any of them, and keeps id
// until expires.
type SpentNonces interface {
	Spend(ctx context.Context, id string, expires time.Time) (fresh bool, err error)
}

// Channel verifies signed requests (RFC 9421) from agents whose
// presentation was verified earlier, or arrives in the same request. It
// holds the sessions, keyed by the RFC 7638 thumbprint of each
// credential's cnf key, and the nonces seen. Set MiddlewareOptions.Channel
// to use it; it is safe for concurrent use.
type Channel struct {
	v           *Verifier
	o           ChannelOptions
	sessions    *ttlcache.Cache[*session]
	authorities map[string]bool // o.Authorities, lowercased
	spent       SpentNonces     // o.Spent, or this process's bounded set
}

type session struct {
	key     any // the cnf key as a crypto public key
	alg     string
	res     Result // the presentation's verified result, without decision
	expires time.Time
	// ref and credID are the presentation's reference and credential id,
	// which the receipts of its signed requests name.
	ref, credID string
}

// NewChannel returns a channel that verifies presentations with v.
func NewChannel(v *Verifier, o ChannelOptions) (*Channel, error) {
	if v == nil {
		return nil, errors.New("verifier: NewChannel needs a verifier")
	}
	if o.SessionLifetime < 0 || o.MaxSignatureAge < 0 || o.MaxSessions < 0 || o.MaxNonces < 0 || o.MaxBody < 0 {
		return nil, errors.New("verifier: channel limits must not be negative")
	}
	if o.SessionLifetime == 0 {
		o.SessionLifetime = 5 * time.Minute
	}
	if o.MaxSessions == 0 {
		o.MaxSessions = 10000
	}
	if o.MaxSignatureAge == 0 {
		o.MaxSignatureAge = 5 * time.Minute
	}
	if o.MaxNonces == 0 {
		o.MaxNonces = 1 << 20
	}
	if o.MaxBody == 0 {
		o.MaxBody = 1 << 20
	}
	authorities := map[string]bool{}
	for _, a := range o.Authorities {
		switch {
		case a == "":
			return nil, errors.New("verifier: ChannelOptions.Authorities has an empty entry")
		case strings.Contains(a, "://"):
			return nil, fmt.Errorf("verifier: ChannelOptions.Authorities entry %q has a scheme: give host or host:port", a)
		case strings.ContainsAny(a, "/?#"):
			return nil, fmt.Errorf("verifier: ChannelOptions.Authorities entry %q has a path: give host or host:port", a)
		case strings.IndexFunc(a, unicode.IsSpace) >= 0:
			return nil, fmt.Errorf("verifier: ChannelOptions.Authorities entry %q has white space", a)
		}
		authorities[strings.ToLower(a)] = true
	}
	spent := o.Spent
	if spent == nil {
		// Bounded, and swept a few entries per use: a full set refuses
		// in constant time, never by scanning every nonce it holds.
		spent = NewMemorySpentStore(o.MaxNonces, v.s.now)
	}
	return &Channel{v: v, o: o, sessions: ttlcache.New[*session](o.MaxSessions, v.s.now), authorities: authorities, spent: spent}, nil
}

// authoritiesFor returns the @authority values the channel accepts behind
// a middleware with audience aud: ChannelOptions.Authorities, else the
// authority of aud when it is an https:// or http:// URL.
func (c *Channel) authoritiesFor(aud string) (map[string]bool, error) {
	if len(c.authorities) > 0 {
		return c.authorities, nil
	}
	u, err := url.Parse(aud)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("verifier: MiddlewareOptions.Audience %q is not an https:// or http:// URL, so the channel's ChannelOptions.Authorities must name the host[:port] agents sign requests for", aud)
	}
	// The same normalization as the signature base's (lowercase, no
	// default port).
	return map[string]bool{(&httpsig.Message{Scheme: u.Scheme, Authority: u.Host}).AuthorityValue(): true}, nil
}

// Sessions returns how many sessions are held.
func (c *Channel) Sessions() int { return c.sessions.Len() }

// refusal is the middleware's refusal of a request, with its HTTP status.
type refusal struct {
	status int
	err    *errcode.Error
	signed bool   // a signed request: a 401 carries Accept-Signature
	keyid  string // the keyid Accept-Signature names
	retry  time.Duration
	extra  map[string]any // extension members of the problem
}

// refuseDecision refuses a denied action: 403 with the decision's code; an
// approval_required decision carries its approval request (member
// approval_request), which the agent has a person of its principal
// approve and sends back in the Agent-Approval header.
func refuseDecision(d *Decision) *refusal {
	rf := refuse(refusalStatus(d.Code, http.StatusForbidden), d.Code, "%s", d.Reason)
	if d.ApprovalRequest != nil {
		rf.extra = map[string]any{"approval_request": d.ApprovalRequest}
	}
	return rf
}

// refusalStatus is the HTTP status of a refusal with code: when the service
// could not decide, the status the API serves that code with (503 when its
// spent-nonce store cannot be asked, 502 when the issuer's status list or a
// DID document could not be fetched, 500 for a fault of its own), so that
// the agent sends the same request again later rather than another
// credential; else status (401 for a presentation that does not verify,
// 403 for a denied action).
func refusalStatus(code errcode.Code, status int) int {
	if st := problem.StatusOf(code); st >= http.StatusInternalServerError {
		return st
	}
	return status
}

func refuse(status int, code errcode.Code, format string, args ...any) *refusal {
	return &refusal{status: status, err: errcode.New(code, format, args...)}
}

// accept checks a signed request and returns the decision, with the
// request with its body restored. authorities are the @authority values
// accepted (authoritiesFor). On success the decision's result (with the
// action's decision) goes to the handler.
func (c *Channel) accept(r *http.Request, opts *MiddlewareOptions, authorities map[string]bool) (*decision, *http.Request) {
	d := &decision{req: Request{Audience: opts.Audience}, channel: &receipt.Channel{}}
	r, d.refused = c.check(r, opts, authorities, d)
	if d.refused != nil {
		d.refused.signed = true
	}
	if opts.Action != nil {
		d.req.Action, d.req.Attributes = opts.Action(r)
	}
	if d.refused == nil && d.req.Action != "" {
		d.req.Approval = r.Header.Get(HeaderApproval)
		// A chain's action is decided on its last delegate's authority
		// (Verify does the same), never the root credential's.
		dec := authorize(d.res.Authority(), d.req.Action, d.req.Attributes, c.v.s.now().Add(-c.v.p.Leeway), c.v.authzOptions())
		if dec.Code == errcode.ApprovalRequired {
			d.held = &heldSpend{store: c.v.approvalSpent(opts.Nonces)}
			c.v.settleApproval(r.Context(), &dec, d.res, d.req.Attributes, opts.Audience, d.req.Approval, d.held)
		}
		d.res.Decision = &dec
		if !dec.Allowed {
			d.refused = refuseDecision(&dec)
		}
	}
	return d, r
}

// maxReceiptKeyID bounds the keyid a receipt repeats (a thumbprint has 43
// characters); a longer one is left out.
const maxReceiptKeyID = 256

// check runs the checks of a signed request, filling in d what verified:
// d.res is the session's result once the signature verified under its key
// (or the result of the presentation the request carries).
func (c *Channel) check(r *http.Request, opts *MiddlewareOptions, authorities map[string]bool, d *decision) (*http.Request, *refusal) {
	now := c.v.s.now()
	sigs, err := httpsig.Parse(r.Header.Values(httpsig.HeaderSignatureInput), r.Header.Values(httpsig.HeaderSignature))
	if err != nil {
		return r, &refusal{status: http.StatusUnauthorized, err: asCodeErr(err)}
	}
	var s *httpsig.Signature
	for _, cand := range sigs {
		if cand.Params.Tag == TagAgentCert || cand.Params.Tag == TagWebBotAuth {
			s = cand
			break
		}
	}
	if s == nil {
		return r, refuse(http.StatusUnauthorized, errcode.SigMalformed, "no signature carries tag %q or %q", TagAgentCert, TagWebBotAuth)
	}
	d.channel.Tag, d.channel.Nonce = s.Params.Tag, s.Params.Nonce
	if len(s.Params.KeyID) <= maxReceiptKeyID {
		d.channel.KeyID = s.Params.KeyID
	}
	if len(d.channel.Nonce) > 256 {
		d.channel.Nonce = ""
	}
	if s.HasCreated {
		d.channel.Created = s.Params.Created.Unix()
	}
	// A request signed for another service (replayed here with the Host
	// it was signed for) verifies, since @authority comes from the
	// request: it is refused first, whatever it carries.
	if a := httpsig.Incoming(r).AuthorityValue(); !authorities[a] {
		return r, refuse(http.StatusUnauthorized, errcode.SigWrongAuthority, "the request is signed for %q, which is not this service", a)
	}
	if ce := c.checkProfile(r, s, now); ce != nil {
		return r, ce
	}
	sess, ce := c.session(r, s, opts, now, d)
	if ce != nil {
		return r, ce
	}
	if err := httpsig.Verify(httpsig.Incoming(r), s, sess.alg, sess.key); err != nil {
		return r, &refusal{status: http.StatusUnauthorized, err: asCodeErr(err), keyid: s.Params.KeyID}
	}
	// The signature is the session key's: the request is the agent's.
	res := sess.res
	res.Error = nil
	d.res, d.ref, d.credID, d.channel.Bound = &res, sess.ref, sess.credID, true
	r, ce = c.checkBody(r, s)
	if ce != nil {
		return r, ce
	}
	if ce := c.useNonce(r.Context(), s); ce != nil {
		return r, ce
	}
	return r, nil
}

// checkProfile holds the signature to the channel's profile: keyid,
// created and expires present, the window current, the required
// components and any Signature-Agent covered.
func (c *Channel) checkProfile(r *http.Request, s *httpsig.Signature, now time.Time) *refusal {
	p := s.Params
	switch {
	case p.KeyID == "":
		return refuse(http.StatusUnauthorized, errcode.SigMalformed, "the signature has no keyid")
	case !s.HasCreated || !s.HasExpires:
		return refuse(http.StatusUnauthorized, errcode.SigMalformed, "the signature needs created and expires")
	case p.Nonce == "":
		return refuse(http.StatusUnauthorized, errcode.SigMalformed, "the signature needs a nonce")
	case len(p.Nonce) > 256:
		return refuse(http.StatusUnauthorized, errcode.SigMalformed, "the signature nonce is longer than 256 bytes")
	case p.Expires.Before(p.Created):
		return refuse(http.StatusUnauthorized, errcode.SigMalformed, "the signature expires before it is created")
	}
	// The window ends before expires + leeway (and created + max age +
	// leeway), the instant its nonce is forgotten (useNonce).
	leeway := c.v.p.Leeway
	switch {
	case p.Created.After(now.Add(leeway)):
		return refuse(http.StatusUnauthorized, errcode.SigNotYetValid, "the signature is created in the future")
	case !now.Before(p.Expires.Add(leeway)):
		return refuse(http.StatusUnauthorized, errcode.SigExpired, "the signature expired at %s", p.Expires.UTC().Format(time.RFC3339))
	case !now.Before(p.Created.Add(c.o.MaxSignatureAge + leeway)):
		return refuse(http.StatusUnauthorized, errcode.SigExpired, "the signature is older than %s", c.o.MaxSignatureAge)
	case p.Expires.Sub(p.Created) > c.o.MaxSignatureAge:
		return refuse(http.StatusUnauthorized, errcode.SigExpired, "the signature is valid for longer than %s", c.o.MaxSignatureAge)
	}
	for _, name := range ChannelComponents {
		if !s.Covers(name) {
			return refuse(http.StatusUnauthorized, errcode.SigCoverage, "the signature must cover %s", name)
		}
	}
	if hasBody(r) && !s.Covers("content-digest") {
		return refuse(http.StatusUnauthorized, errcode.SigCoverage, "a request with a body must cover content-digest")
	}
	if r.Header.Get(httpsig.HeaderSignatureAgent) != "" && !s.Covers("signature-agent") && !s.CoversMember("signature-agent", s.Label) {
		return refuse(http.StatusUnauthorized, errcode.SigCoverage, "the signature must cover Signature-Agent")
	}
	return nil
}

func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 || len(r.TransferEncoding) > 0
}

// session finds the session for the signature's keyid, or makes one from
// the presentation in the Agent-Credential header.
// A presentation in the request is recorded in d, with what verified.
func (c *Channel) session(r *http.Request, s *httpsig.Signature, opts *MiddlewareOptions, now time.Time, d *decision) (*session, *refusal) {
	kid := s.Params.KeyID
	pres := r.Header.Get(HeaderAgentCredential)
	if pres == "" {
		if sess, ok := c.sessions.Get(kid); ok {
			return sess, nil
		}
		ce := refuse(http.StatusUnauthorized, errcode.CredentialRequired, "no verified credential holds the key %s: present one in Agent-Credential", kid)
		ce.keyid = kid
		return nil, ce
	}
	d.channel.Presented, d.ref, d.credID = true, receipt.Reference(pres), receipt.CredentialID(pres)
	if opts.Nonces == nil {
		return nil, refuse(http.StatusUnauthorized, errcode.NonceInvalid, "this service issues no nonces")
	}
	res := c.v.verify(r.Context(), Request{Presentation: pres, Audience: opts.Audience, RequireKB: true, Nonces: opts.Nonces})
	d.res = res
	if !res.Verified {
		if code := res.Error.Code; d.credID != "" && (code == errcode.Revoked || code == errcode.Suspended) {
			// What the issuer says of a credential (for a chain, of its
			// root) holds whoever presents it: the session made from that
			// same credential ends now, not when its status grows old.
			// Other failures (a bad KB-JWT, a replayed nonce) say nothing
			// of the session, which a stranger could otherwise end; nor
			// does expired, which may be a hop's of some other chain on
			// the same root, while the credential's own exp ends its
			// session by itself (sessionEnd).
			c.sessions.DeleteIf(kid, func(s *session) bool { return s.credID == d.credID })
		}
		return nil, &refusal{status: refusalStatus(res.Error.Code, http.StatusUnauthorized), err: errcode.New(res.Error.Code, "%s", res.Error.Message), keyid: kid}
	}
	key, err := sdjwt.HolderKey(res.presenterClaims()) // a chain's last delegate
	if err != nil {
		return nil, &refusal{status: http.StatusUnauthorized, err: asCodeErr(err)}
	}
	tp, err := httpsig.Thumbprint(key)
	if err != nil {
		return nil, &refusal{status: http.StatusUnauthorized, err: errcode.Wrap(errcode.KBNoHolderKey, err, "cnf.jwk has no thumbprint")}
	}
	if tp != kid {
		return nil, refuse(http.StatusUnauthorized, errcode.SigKeyMismatch, "keyid %s is not the thumbprint of the credential's cnf key", kid)
	}
	alg, err := httpsig.KeyAlg(key)
	if err != nil {
		return nil, &refusal{status: http.StatusUnauthorized, err: asCodeErr(err)}
	}
	var raw any
	if err := key.Raw(&raw); err != nil {
		return nil, &refusal{status: http.StatusUnauthorized, err: errcode.Wrap(errcode.KBNoHolderKey, err, "cnf.jwk is not a usable key")}
	}
	sess := &session{key: raw, alg: alg, res: *res, expires: c.sessionEnd(res, now), ref: d.ref, credID: d.credID}
	sess.res.Decision = nil
	if sess.expires.After(now) {
		c.sessions.Put(kid, sess, sess.expires)
	}
	return sess, nil
}

// sessionEnd is the earliest of the session lifetime, the end of the
// credential (and of every delegation hop), the moment its status becomes
// older than MaxStatusAge and the end of the status list token it was
// checked against (its exp, or its fetch plus its ttl).
func (c *Channel) sessionEnd(res *Result, now time.Time) time.Time {
	end := now.Add(c.o.SessionLifetime)
	if t := res.validUntil(); !t.IsZero() && t.Before(end) {
		end = t // the credential's exp, its task's, and every delegation hop's
	}
	if c.v.p.CheckStatus {
		from := now
		if res.Status.FetchedAt != nil {
			from = *res.Status.FetchedAt
		}
		if t := from.Add(c.v.p.MaxStatusAge); t.Before(end) {
			end = t
		}
		if t := res.statusUntil; !t.IsZero() && t.Before(end) {
			end = t // the status client would fetch the list anew by then
		}
	}
	return end
}

// checkBody reads the body (bounded), checks Content-Digest against it and
// gives the request a fresh copy of it.
func (c *Channel) checkBody(r *http.Request, s *httpsig.Signature) (*http.Request, *refusal) {
	if !s.Covers("content-digest") {
		return r, nil
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, c.o.MaxBody+1))
		if err != nil {
			return r, refuse(http.StatusBadRequest, errcode.InvalidInput, "the body could not be read")
		}
		if int64(len(b)) > c.o.MaxBody {
			return r, refuse(http.StatusRequestEntityTooLarge, errcode.TooLarge, "the body is larger than %d bytes", c.o.MaxBody)
		}
		body = b
		_ = r.Body.Close()
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	if err := httpsig.CheckContentDigest(r.Header.Values(httpsig.HeaderContentDigest), body); err != nil {
		return r2, &refusal{status: http.StatusUnauthorized, err: asCodeErr(err)}
	}
	return r2, nil
}

// useNonce refuses a nonce seen before under the same keyid while its
// signature could still be accepted.
func (c *Channel) useNonce(ctx context.Context, s *httpsig.Signature) *refusal {
	key := s.Params.KeyID + " " + s.Params.Nonce
	until := s.Params.Expires.Add(c.v.p.Leeway)
	if t := s.Params.Created.Add(c.o.MaxSignatureAge + c.v.p.Leeway); t.Before(until) {
		until = t
	}
	sum := sha256.Sum256([]byte(key))
	fresh, err := c.spent.Spend(ctx, "sig:"+base64.RawURLEncoding.EncodeToString(sum[:]), until)
	switch {
	case errcode.CodeOf(err) == errcode.RateLimited:
		// This process's set is full: nonces expire within the signature age.
		ce := refuse(http.StatusTooManyRequests, errcode.RateLimited, "too many signed requests in flight")
		ce.retry = c.o.MaxSignatureAge
		return ce
	case err != nil:
		return refuse(http.StatusServiceUnavailable, errcode.NonceStoreUnavailable, "the nonce store cannot be reached")
	case !fresh:
		return refuse(http.StatusUnauthorized, errcode.NonceReplayed, "the signature nonce was used before")
	}
	return nil
}

func asCodeErr(err error) *errcode.Error {
	var e *errcode.Error
	if errors.As(err, &e) {
		return e
	}
	return errcode.Wrap(errcode.Internal, err, "internal error")
}

// acceptSignatureHint is the Accept-Signature field a refusal carries:
// the components and parameters the channel wants.
func acceptSignatureHint(keyid string) string {
	return httpsig.AcceptSignature("sig1", httpsig.Components(append(ChannelComponents, "content-digest")...), TagAgentCert, keyid)
}

// write answers a refused request: problem+json with the code,
// WWW-Authenticate on 401 (and Accept-Signature for a signed request),
// Retry-After on 429, and a fresh nonce when a credential is asked for.
func (ce *refusal) write(w http.ResponseWriter, nonces *Nonces) {
	if ce.status == http.StatusUnauthorized && ce.signed {
		w.Header().Set(httpsig.HeaderAcceptSignature, acceptSignatureHint(ce.keyid))
	}
	if ce.retry > 0 {
		secs := int64((ce.retry + time.Second - 1) / time.Second)
		if ce.retry >= time.Duration(math.MaxInt64) || secs > 86400 {
			secs = 86400
		}
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	extra := map[string]any{}
	for k, v := range ce.extra {
		extra[k] = v
	}
	if ce.err.Code == errcode.CredentialRequired && nonces != nil {
		if n, exp, err := nonces.Issue(); err == nil {
			extra["nonce"] = n
			extra["nonce_expires_at"] = exp.UTC().Format(time.RFC3339)
			w.Header().Set(HeaderCredentialNonce, n)
		}
	}
	denyWith(w, ce.status, ce.err.Code, ce.err.Message, extra)
}

// HeaderCredentialNonce carries, on a credential_required answer, a fresh
// nonce for the KB-JWT of the presentation the agent sends next.
const HeaderCredentialNonce = "Agent-Credential-Nonce"

func (ce *refusal) String() string { return fmt.Sprintf("%d %s", ce.status, ce.err.Code) }

// limit applies the rate limits to a verified, authorized request.
func limit(v *Verifier, o *MiddlewareOptions, action string, res *Result) *refusal {
	if o.Limits == nil || res == nil {
		return nil
	}
	principal := ""
	if p, ok := res.Claims["principal"].(map[string]any); ok {
		principal, _ = p["id"].(string)
	}
	if principal == "" && o.Limits.perPrincipal(action) {
		// An issuer may make principal selectively disclosable. Were a
		// withheld principal counted as "", an agent over its principal's
		// terms would withhold it and go on in a bucket of its own.
		return refuse(http.StatusForbidden, errcode.MissingClaim, "requests of this kind are rate limited per principal; the presentation must disclose principal.id")
	}
	if res.Subject == "" && o.Limits.perAgent(action) {
		// Likewise for sub, which an issuer may make selectively
		// disclosable: every agent withholding it would share the bucket
		// of the empty subject, a fresh one for an agent over its terms.
		return refuse(http.StatusForbidden, errcode.MissingClaim, "requests of this kind are rate limited per agent; the presentation must disclose sub")
	}
	wait, err := o.Limits.allow(action, principal, res.Subject, v.s.now())
	if err == nil {
		return nil
	}
	ce := refuse(http.StatusTooManyRequests, errcode.RateLimited, "this agent's requests of this kind are over their rate limit")
	ce.retry = wait
	return ce
}
