package verifier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonptr"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/agentcert/agentcert/receipt"
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
	// Receipts, when set, signs a receipt of every decision Verify makes
	// (Result.Receipt).
	Receipts *receipt.Signer
}

// Verifier checks presentations against a policy. It keeps no state beyond
// caches and is safe for concurrent use.
type Verifier struct {
	p      Policy
	o      Options
	status *revocation.Client

	jwks *ttlcache.Cache[jwk.Set] // https issuer key sets, by issuer
	keys *ttlcache.Cache[jwk.Key] // parsed DID issuer keys, by issuer and kid

	policyDigest string // JCS digest of p, for receipts
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
	v := &Verifier{p: p, o: o, jwks: ttlcache.New[jwk.Set](o.CacheEntries, o.Now), keys: ttlcache.New[jwk.Key](o.CacheEntries, o.Now)}
	for _, s := range p.RequiredClaims {
		if _, err := jsonptr.Parse(s); err != nil {
			return nil, fmt.Errorf("verifier: Policy.RequiredClaims: %w", err)
		}
	}
	pd, err := PolicyDigest(p)
	if err != nil {
		return nil, err
	}
	v.policyDigest = pd
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
	// Receipt is the signed receipt of this decision (compact JWS), when
	// the verifier has a receipt signer.
	Receipt string `json:"receipt,omitempty"`
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

// verify runs every step of Verify but the receipt.
func (v *Verifier) verify(ctx context.Context, req Request) *Result {
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
	for _, s := range v.p.RequiredClaims {
		p, err := jsonptr.Parse(s) // checked by New
		if _, ok := jsonptr.Get(out.Claims, p); !ok || err != nil {
			return res.fail(errcode.New(errcode.ClaimNotDisclosed, "claim %s must be disclosed", s))
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
