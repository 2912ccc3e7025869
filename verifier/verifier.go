package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Policy is what a verifier accepts.
type Policy struct {
	// Trusted maps an issuer (a DID or an https issuer identifier) to the
	// credential types (vct) it is trusted for; AnyVCT trusts it for every
	// type. Nothing else is trusted.
	Trusted        map[string][]string
	Algorithms     []jwa.SignatureAlgorithm // default ES256, EdDSA
	AcceptTyp      []string                 // default dc+sd-jwt, vc+sd-jwt
	RequireKB      bool
	MaxKBAge       time.Duration // default 5 minutes
	Leeway         time.Duration
	RequiredClaims []string // JSON Pointers that must be disclosed
	// ClearClaims maps a vct to top-level claims that must be present in
	// the issuer-signed payload in clear, with nothing inside them
	// selectively disclosable: claims whose withholding would widen what
	// the holder may do (an agent certification's prohibitions).
	ClearClaims map[string][]string
	// ClearElements maps a vct to top-level array claims that must be in
	// clear; their elements may be selectively disclosable, but what each
	// element says must be in clear (a permission's constraints cannot be
	// withheld while the permission is shown).
	ClearElements map[string][]string
	CheckStatus   bool
	MaxStatusAge  time.Duration // how stale a cached status list may be; 0 = always fetch
	RequireNonce  bool          // the KB-JWT nonce must be one issued by Nonces
	// TrustAny accepts any issuer whose key resolves, for every vct. It is
	// for offline inspection (agentcert verify without --trust), never for
	// a service.
	TrustAny bool
}

// AnyVCT in a Trusted list trusts the issuer for every credential type.
const AnyVCT = "*"

// DefaultPolicy returns the secure defaults: key binding required, status
// checked (fail closed), status at most 5 minutes old. It trusts nobody.
func DefaultPolicy() Policy {
	return Policy{
		Trusted: map[string][]string{}, Algorithms: []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA},
		ClearClaims:   map[string][]string{schemas.AgentCertificationV1: {"prohibitions"}},
		ClearElements: map[string][]string{schemas.AgentCertificationV1: {"permissions"}},
		RequireKB:     true, MaxKBAge: 5 * time.Minute, Leeway: 30 * time.Second,
		CheckStatus: true, MaxStatusAge: 5 * time.Minute,
	}
}

// FetchFunc fetches a URL through the guarded fetcher.
type FetchFunc func(ctx context.Context, url, accept string, maxBytes int64) ([]byte, error)

// Options are a verifier's collaborators.
type Options struct {
	Resolver     did.Resolver // DID issuers (use a caching resolver)
	Fetch        FetchFunc    // https issuer metadata and status lists (use the guarded fetcher)
	Nonces       *Nonces      // required when Policy.RequireNonce
	Now          func() time.Time
	CacheTTL     time.Duration // parsed issuer keys and https issuer metadata; default 5 minutes
	CacheEntries int           // default 1024
	// PinnedIssuerKey, when set, is the issuer key for every credential and
	// status list, whatever iss says (agentcert verify --issuer-jwk).
	PinnedIssuerKey jwk.Key
}

// Verifier checks presentations against a policy. It keeps no state beyond
// caches and is safe for concurrent use.
type Verifier struct {
	p      Policy
	o      Options
	status *revocation.Client

	jwks *ttlcache.Cache[jwk.Set] // https issuer key sets, by issuer
	keys *ttlcache.Cache[jwk.Key] // parsed DID issuer keys, by issuer and kid
}

// New returns a verifier.
func New(p Policy, o Options) (*Verifier, error) {
	if len(p.Algorithms) == 0 {
		p.Algorithms = []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA}
	}
	if len(p.AcceptTyp) == 0 {
		p.AcceptTyp = []string{sdjwt.TypVC, sdjwt.TypVCLegacy}
	}
	if p.MaxKBAge <= 0 {
		p.MaxKBAge = 5 * time.Minute
	}
	if p.RequireNonce && o.Nonces == nil {
		return nil, errors.New("verifier: RequireNonce needs Options.Nonces")
	}
	if o.Resolver == nil || o.Fetch == nil {
		return nil, errors.New("verifier: Options.Resolver and Options.Fetch are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 5 * time.Minute
	}
	if o.CacheEntries <= 0 {
		o.CacheEntries = 1024
	}
	v := &Verifier{p: p, o: o, jwks: ttlcache.New[jwk.Set](o.CacheEntries, o.Now), keys: ttlcache.New[jwk.Key](o.CacheEntries, o.Now)}
	v.status = revocation.NewClient(revocation.ClientOptions{
		Fetch: revocation.FetchFunc(o.Fetch), Key: v.issuerKey, MaxAge: p.MaxStatusAge,
		MaxEntries: o.CacheEntries, Now: o.Now, Leeway: p.Leeway, Algorithms: p.Algorithms,
	})
	return v, nil
}

// Request is one verification.
type Request struct {
	Presentation string         `json:"presentation"`
	Audience     string         `json:"audience"`
	Nonce        string         `json:"nonce,omitempty"`
	Action       string         `json:"action,omitempty"`
	Attributes   map[string]any `json:"request,omitempty"`
	// Nonces, when set, makes the KB-JWT nonce single-use: it must be one
	// these Nonces issued, and it is spent only once everything else has
	// verified (the HTTP middleware sets it; Policy.RequireNonce uses
	// Options.Nonces).
	Nonces *Nonces `json:"-"`
	// RequireKB demands key binding even if the policy does not (the
	// middleware sets it).
	RequireKB bool `json:"-"`
}

// StatusInfo states what was learned about revocation, and how fresh it is.
type StatusInfo struct {
	Checked   bool       `json:"checked"`
	Value     string     `json:"value,omitempty"` // valid | revoked | suspended | status_N
	AsOf      *time.Time `json:"as_of,omitempty"`
	FetchedAt *time.Time `json:"fetched_at,omitempty"`
}

// ErrorInfo is one failure with its stable code. Cause, when present, is
// the code of the underlying failure (e.g. status_unavailable caused by
// fetch_refused).
type ErrorInfo struct {
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
	Cause   errcode.Code `json:"cause,omitempty"`
}

// Result is the outcome of a verification. Verified says whether the
// presentation is genuine, bound, current, unrevoked and from a trusted
// issuer; Decision, when an action was named, says whether it is allowed.
type Result struct {
	Verified bool           `json:"verified"`
	Issuer   string         `json:"issuer,omitempty"`
	Subject  string         `json:"subject,omitempty"`
	VCT      string         `json:"vct,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
	Status   StatusInfo     `json:"status"`
	Decision *Decision      `json:"decision,omitempty"`
	Errors   []ErrorInfo    `json:"errors"`
}

// Allowed reports whether the presentation verified and the named action,
// if any, was allowed.
func (r *Result) Allowed() bool {
	return r.Verified && (r.Decision == nil || r.Decision.Allowed)
}

func (r *Result) fail(err error) *Result {
	r.Verified = false
	msg := err.Error()
	var e *errcode.Error
	if errors.As(err, &e) {
		msg = e.Message
	}
	r.Errors = append(r.Errors, ErrorInfo{Code: errcode.CodeOf(err), Message: msg, Cause: rootCode(err)})
	return r
}

// Verify runs every step — presentation (signature, disclosures, key
// binding), trust, required claims, status, authorization — and always
// returns a result; failures are in Result.Errors with their codes.
func (v *Verifier) Verify(ctx context.Context, req Request) *Result {
	res := &Result{Errors: []ErrorInfo{}}
	opts := sdjwt.VerifyOptions{
		IssuerKey: v.trustedIssuerKey, Algorithms: v.p.Algorithms, AcceptTyp: v.p.AcceptTyp, Now: v.o.Now,
		Leeway: v.p.Leeway, RequireKB: v.p.RequireKB || req.RequireKB, Audience: req.Audience, Nonce: req.Nonce, MaxKBAge: v.p.MaxKBAge,
	}
	if opts.RequireKB && req.Audience == "" {
		return res.fail(errcode.New(errcode.InvalidInput, "an audience is required to check key binding"))
	}
	nonces := req.Nonces
	if nonces == nil && v.p.RequireNonce {
		nonces = v.o.Nonces
	}
	if nonces != nil {
		opts.RequireKB = true
		opts.NonceCheck = func(n string) error {
			if req.Nonce != "" && n != req.Nonce {
				return errcode.New(errcode.KBWrongNonce, "the KB-JWT nonce is not the expected one")
			}
			return nonces.Validate(n)
		}
	}
	out, err := sdjwt.Verify(ctx, req.Presentation, opts)
	if err != nil {
		return res.fail(err)
	}
	res.Claims = out.Claims
	res.Issuer, _ = out.Claims["iss"].(string)
	res.Subject, _ = out.Claims["sub"].(string)
	res.VCT, _ = out.Claims["vct"].(string)
	if !v.p.TrustAny && v.o.PinnedIssuerKey == nil && !slices.Contains(v.p.Trusted[res.Issuer], res.VCT) && !slices.Contains(v.p.Trusted[res.Issuer], AnyVCT) {
		return res.fail(errcode.New(errcode.UntrustedIssuer, "issuer %q is not trusted for vct %q", res.Issuer, res.VCT))
	}
	if err := checkClear(out.IssuerPayload, v.p.ClearClaims[res.VCT]); err != nil {
		return res.fail(err)
	}
	if err := checkClearElements(out.IssuerPayload, out.Disclosures, v.p.ClearElements[res.VCT]); err != nil {
		return res.fail(err)
	}
	for _, p := range v.p.RequiredClaims {
		if _, ok := lookupPointer(out.Claims, p); !ok {
			return res.fail(errcode.New(errcode.ClaimNotDisclosed, "claim %s must be disclosed", p))
		}
	}
	if err := v.checkStatus(ctx, res); err != nil {
		return res.fail(err)
	}
	if nonces != nil {
		// Spent last, so that a tampered copy or a passing outage does not
		// use up the agent's nonce.
		n, _ := out.KeyBinding["nonce"].(string)
		if err := nonces.Use(ctx, n); err != nil {
			return res.fail(err)
		}
	}
	res.Verified = true
	if req.Action != "" {
		// A task's expiry gets the same leeway as exp.
		d := Authorize(out.Claims, req.Action, req.Attributes, v.o.Now().Add(-v.p.Leeway))
		res.Decision = &d
	}
	return res
}

// checkStatus fills res.Status; revoked and suspended are errors.
func (v *Verifier) checkStatus(ctx context.Context, res *Result) error {
	if !v.p.CheckStatus {
		return nil
	}
	st, ok := res.Claims["status"].(map[string]any)
	if !ok {
		// Fail closed: the reference may have been withheld by the holder.
		return errcode.New(errcode.StatusInvalid, "the credential carries no status reference, so its revocation status cannot be checked")
	}
	sl, ok := st["status_list"].(map[string]any)
	if !ok {
		return errcode.New(errcode.StatusInvalid, "status has no status_list reference")
	}
	uri, _ := sl["uri"].(string)
	idx, err := toIndex(sl["idx"])
	if uri == "" || err != nil {
		return errcode.New(errcode.StatusInvalid, "status_list needs a uri and a non-negative integer idx")
	}
	s, err := v.status.Status(ctx, revocation.Reference{URI: uri, Idx: idx}, res.Issuer)
	if err != nil {
		return err
	}
	asOf, fetched := s.AsOf, s.FetchedAt
	res.Status = StatusInfo{Checked: true, AsOf: &asOf, FetchedAt: &fetched}
	switch s.Value {
	case revocation.StatusValid:
		res.Status.Value = "valid"
	case revocation.StatusRevoked:
		res.Status.Value = "revoked"
		return errcode.New(errcode.Revoked, "the credential is revoked")
	case revocation.StatusSuspended:
		res.Status.Value = "suspended"
		return errcode.New(errcode.Suspended, "the credential is suspended")
	default:
		res.Status.Value = "status_" + strconv.Itoa(int(s.Value))
		return errcode.New(errcode.StatusInvalid, "unknown status value %d", s.Value)
	}
	return nil
}

func toIndex(v any) (int, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return x, nil
	default:
		return 0, errors.New("not a number")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("not a non-negative integer")
	}
	return n, nil
}

// rootCode returns the code of the innermost *errcode.Error in err's chain
// when it differs from the outermost one, else "".
func rootCode(err error) errcode.Code {
	top := errcode.CodeOf(err)
	var root errcode.Code
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ce, ok := e.(*errcode.Error); ok {
			root = ce.Code
		}
	}
	if root == top {
		return ""
	}
	return root
}

// checkClear verifies that each named claim is in payload in clear, with no
// _sd digests or "..." array entries inside it.
func checkClear(payload map[string]any, names []string) error {
	for _, n := range names {
		v, ok := payload[n]
		if !ok {
			return errcode.New(errcode.MissingClaim, "claim %q must be present in clear; it may not be selectively disclosable", n)
		}
		if hidesClaims(v) {
			return errcode.New(errcode.MissingClaim, "claim %q must not contain selectively disclosable parts", n)
		}
	}
	return nil
}

// checkClearElements verifies that each named array claim is in payload in
// clear and that every element, in clear or disclosed, hides nothing.
func checkClearElements(payload map[string]any, ds []*sdjwt.Disclosure, names []string) error {
	if len(names) == 0 {
		return nil
	}
	byDigest := make(map[string]*sdjwt.Disclosure, len(ds))
	for _, d := range ds {
		byDigest[d.Digest] = d
	}
	for _, n := range names {
		arr, ok := payload[n].([]any)
		if !ok {
			return errcode.New(errcode.MissingClaim, "claim %q must be an array in clear", n)
		}
		for i, e := range arr {
			if m, ok := e.(map[string]any); ok && len(m) == 1 {
				if digest, ok := m["..."].(string); ok {
					d, disclosed := byDigest[digest]
					if !disclosed {
						continue // an element not shown grants nothing
					}
					e = d.Value
				}
			}
			if hidesClaims(e) {
				return errcode.New(errcode.MissingClaim, "element %d of claim %q must not contain selectively disclosable parts", i, n)
			}
		}
	}
	return nil
}

func hidesClaims(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["_sd"]; ok {
			return true
		}
		if _, ok := x["..."]; ok && len(x) == 1 {
			return true
		}
		for _, e := range x {
			if hidesClaims(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hidesClaims(e) {
				return true
			}
		}
	}
	return false
}

// trustedIssuerKey refuses untrusted issuers before any key lookup, so that
// nothing is fetched on behalf of an issuer the policy does not name.
func (v *Verifier) trustedIssuerKey(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
	if _, ok := v.p.Trusted[iss]; !ok && !v.p.TrustAny && v.o.PinnedIssuerKey == nil {
		return nil, errcode.New(errcode.UntrustedIssuer, "issuer %q is not trusted", iss)
	}
	return v.issuerKey(ctx, iss, hdr)
}

// issuerKey resolves the key of a DID issuer (kid under assertionMethod) or
// of an https issuer (its /.well-known/jwt-vc-issuer metadata).
func (v *Verifier) issuerKey(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
	if v.o.PinnedIssuerKey != nil {
		return v.o.PinnedIssuerKey, nil
	}
	if strings.HasPrefix(iss, "did:") {
		ck := iss + "\x00" + hdr.KeyID()
		if k, ok := v.keys.Get(ck); ok {
			return k, nil
		}
		k, err := DIDIssuerKey(ctx, v.o.Resolver, iss, hdr)
		if err != nil {
			return nil, err
		}
		v.keys.Put(ck, k, v.o.Now().Add(v.o.CacheTTL))
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
	body, err := v.o.Fetch(ctx, mu, "application/json", 0)
	if err != nil {
		return nil, err
	}
	var md struct {
		Issuer  string          `json:"issuer"`
		JWKS    json.RawMessage `json:"jwks"`
		JWKSURI string          `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, errcode.Wrap(errcode.FetchFailed, err, "issuer metadata at %s is not JSON", mu)
	}
	if md.Issuer != iss {
		return nil, errcode.New(errcode.KeyNotFound, "issuer metadata names %q, not %q", md.Issuer, iss)
	}
	raw := md.JWKS
	switch {
	case len(raw) > 0 && md.JWKSURI != "":
		return nil, errcode.New(errcode.KeyNotFound, "issuer metadata has both jwks and jwks_uri")
	case len(raw) == 0 && strings.HasPrefix(md.JWKSURI, "https://"):
		if raw, err = v.o.Fetch(ctx, md.JWKSURI, "application/jwk-set+json, application/json", 0); err != nil {
			return nil, err
		}
	case len(raw) == 0:
		return nil, errcode.New(errcode.KeyNotFound, "issuer metadata has neither jwks nor an https jwks_uri")
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		return nil, errcode.Wrap(errcode.KeyNotFound, err, "issuer JWKS does not parse")
	}
	v.jwks.Put(iss, set, v.o.Now().Add(v.o.CacheTTL))
	return set, nil
}

// lookupPointer resolves an RFC 6901 JSON Pointer in v.
func lookupPointer(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	cur := v
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
