package verifier

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

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
	// Local, when set, is the issuer in this same process: its keys and
	// its status lists are read from it, never fetched nor kept past a
	// change (see LocalIssuer).
	Local *LocalIssuer
}

// Verifier checks presentations against a policy. It keeps no state beyond
// caches and is safe for concurrent use.
type Verifier struct {
	p      Policy
	o      Options
	status *revocation.Client

	jwks *ttlcache.Cache[jwk.Set] // https issuer key sets, by issuer
	keys *ttlcache.Cache[jwk.Key] // parsed DID issuer keys, by issuer and kid

	localLists *ttlcache.Cache[*localList] // the local issuer's verified lists, by uri
}

// New returns a verifier.
func New(p Policy, o Options) (*Verifier, error) {
	if len(p.Algorithms) == 0 {
		p.Algorithms = defaultAlgorithms()
	}
	if len(p.AcceptTyp) == 0 {
		p.AcceptTyp = []string{sdjwt.TypVC, sdjwt.TypVCLegacy}
	}
	if p.MaxKBAge <= 0 {
		p.MaxKBAge = DefaultMaxKBAge
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
		o.CacheTTL = DefaultCacheTTL
	}
	if o.CacheEntries <= 0 {
		o.CacheEntries = DefaultCacheEntries
	}
	v := &Verifier{p: p, o: o, jwks: ttlcache.New[jwk.Set](o.CacheEntries, o.Now), keys: ttlcache.New[jwk.Key](o.CacheEntries, o.Now),
		localLists: ttlcache.New[*localList](o.CacheEntries, o.Now)}
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
		if err := nonces.Use(n); err != nil {
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
