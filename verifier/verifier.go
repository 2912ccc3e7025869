package verifier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/jsonptr"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Verifier checks presentations against a policy. It keeps no state beyond
// caches and is safe for concurrent use.
type Verifier struct {
	p      Policy
	s      settings
	status *revocation.Client

	jwks       *ttlcache.Cache[jwk.Set] // https issuer key sets, by issuer
	keys       *ttlcache.Cache[jwk.Key] // parsed DID issuer keys, by issuer and kid
	verified   *credentialCache         // issuer-signed JWTs already verified; nil when off
	hopSchemas *hopSchemaCache          // delegate payloads already schema-validated; nil when off
	subjects   *subjectKeys             // keys of did:key and did:jwk subjects, decoded once
	reg        *schemas.Registry        // validates delegation hops

	localLists   *ttlcache.Cache[*localList] // the local issuer's verified lists, by uri
	localKeys    *did.KeyMemo                // the local issuer's keys, parsed once per key
	approvals    *MemorySpentStore           // used approval nonces, when there is no nonce service
	policyDigest string                      // JCS digest of p, for receipts
}

// New returns a verifier for policy p. Without options it fetches through
// the guarded fetcher (HTTPS only, no private addresses), resolves DIDs
// through a caching resolver, and reads time.Now; options replace these.
// A policy that cannot work (RequireNonce without WithNonces, a malformed
// required-claim pointer) is refused here, not at the first request.
func New(p Policy, opts ...Option) (*Verifier, error) {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	if len(p.Algorithms) == 0 {
		p.Algorithms = jose.DefaultAlgorithms()
	}
	if len(p.AcceptTyp) == 0 {
		p.AcceptTyp = []string{sdjwt.TypVC, sdjwt.TypVCLegacy}
	}
	if p.MaxKBAge <= 0 {
		p.MaxKBAge = DefaultMaxKBAge
	}
	if p.RequireNonce && s.nonces == nil {
		return nil, errors.New("verifier: Policy.RequireNonce needs WithNonces")
	}
	for _, rc := range p.RequiredClaims {
		if _, err := jsonptr.Parse(rc); err != nil {
			return nil, fmt.Errorf("verifier: Policy.RequiredClaims: %w", err)
		}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cacheTTL <= 0 {
		s.cacheTTL = DefaultCacheTTL
	}
	if s.cacheEntries <= 0 {
		s.cacheEntries = DefaultCacheEntries
	}
	if s.fetcher == nil && (s.fetch == nil || s.resolver == nil) {
		s.fetcher = did.NewFetcher(did.FetcherConfig{})
	}
	if s.fetch == nil {
		s.fetch = s.fetcher.Fetch
	}
	if s.resolver == nil {
		s.resolver = did.NewCachingResolver(did.NewResolver(s.fetcher), s.cacheTTL, s.cacheEntries, s.now)
	}
	v := &Verifier{p: p, s: s, jwks: ttlcache.New[jwk.Set](s.cacheEntries, s.now), keys: ttlcache.New[jwk.Key](s.cacheEntries, s.now),
		localLists: ttlcache.New[*localList](s.cacheEntries, s.now), subjects: newSubjectKeys(s.cacheEntries, s.now),
		localKeys: did.NewKeyMemo(s.cacheEntries)}
	if !s.noCredentialCache {
		v.verified = newCredentialCache(s.cacheEntries, s.cacheTTL, s.now)
		v.hopSchemas = newHopSchemaCache(s.cacheEntries, s.cacheTTL, s.now)
	}
	reg, err := schemas.New()
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	v.reg = reg
	pd, err := PolicyDigest(p)
	if err != nil {
		return nil, err
	}
	v.policyDigest = pd
	for _, a := range p.IrreversibleActions {
		if _, _, ok := parseAction(a); !ok {
			return nil, fmt.Errorf("verifier: Policy.IrreversibleActions: %q is not resource:verb", a)
		}
	}
	v.approvals = NewMemorySpentStore(DefaultMaxNonces, s.now)
	v.status = revocation.NewClient(revocation.ClientOptions{
		Fetch: revocation.FetchFunc(s.fetch), Key: v.issuerKey, MaxAge: p.MaxStatusAge,
		MaxEntries: s.cacheEntries, Now: s.now, Leeway: p.Leeway, Algorithms: p.Algorithms,
	})
	return v, nil
}

// Inspecting reports whether v was built with a trust mode of offline
// inspection (WithPinnedIssuerKey, WithAnyIssuer). A service refuses such
// a verifier.
func (v *Verifier) Inspecting() bool {
	return v.s.pinned != nil || v.s.anyIssuer
}

// trusts reports whether the policy trusts iss for vct.
func (v *Verifier) trusts(iss, vct string) bool {
	return v.Inspecting() || slices.Contains(v.p.Trusted[iss], vct) || slices.Contains(v.p.Trusted[iss], AnyVCT)
}

// verify runs every step of Verify but the receipt.
func (v *Verifier) verify(ctx context.Context, req Request) *Result {
	res := &Result{}
	opts := sdjwt.VerifyOptions{
		IssuerKey: v.trustedIssuerKey, Algorithms: v.p.Algorithms, AcceptTyp: v.p.AcceptTyp, Now: v.s.now,
		Leeway: v.p.Leeway, RequireKB: v.p.RequireKB || req.RequireKB, Audience: req.Audience, Nonce: req.Nonce, MaxKBAge: v.p.MaxKBAge,
	}
	if v.verified != nil {
		opts.Verified = v.verified
	}
	if opts.RequireKB && req.Audience == "" {
		return res.fail(errcode.New(errcode.InvalidInput, "an audience is required to check key binding"))
	}
	if req.NonceSpent && req.Nonce == "" {
		return res.fail(errcode.New(errcode.InvalidInput, "a spent nonce needs the nonce"))
	}
	// A nonce that carries our MAC is single-use, whatever RequireNonce
	// says; RequireNonce (or a middleware's Request.Nonces) only decides
	// whether a foreign nonce, the caller's own, is refused.
	nonces, requireOurs := req.Nonces, req.Nonces != nil || v.p.RequireNonce
	if nonces == nil {
		nonces = v.s.nonces
	}
	spend := false
	if nonces != nil {
		if requireOurs {
			opts.RequireKB = true
		}
		opts.NonceCheck = func(n string) error {
			if req.Nonce != "" && n != req.Nonce {
				return errcode.New(errcode.KBWrongNonce, "the KB-JWT nonce is not the expected one")
			}
			if req.NonceSpent {
				return nil // the caller's earlier presentation spent it
			}
			if !requireOurs && !nonces.mine(n) {
				if req.Nonce == "" {
					return errcode.New(errcode.KBWrongNonce, "the KB-JWT nonce is not the expected one")
				}
				return nil // the caller's own nonce, checked above
			}
			spend = true
			return nonces.Validate(n)
		}
	}
	out, chain, err := v.verifyPresentation(ctx, req.Presentation, opts)
	if err != nil {
		return res.fail(err)
	}
	res.Claims, res.KeyBinding = out.Claims, out.KeyBinding
	res.Issuer, _ = out.Claims["iss"].(string)
	res.Subject, _ = out.Claims["sub"].(string)
	res.VCT, _ = out.Claims["vct"].(string)
	if !v.trusts(res.Issuer, res.VCT) {
		return res.fail(errcode.New(errcode.UntrustedIssuer, "issuer %q is not trusted for vct %q", res.Issuer, res.VCT))
	}
	if err := checkSubjectKey(out.Claims, out.KBKey(), v.subjects); err != nil {
		return res.fail(err)
	}
	if err := checkRestrictions(out.IssuerPayload, out.Claims, out.Disclosure, v.p.Restrictions[res.VCT]); err != nil {
		return res.fail(err)
	}
	for _, rc := range v.p.RequiredClaims {
		p, err := jsonptr.Parse(rc) // checked by New
		if _, ok := jsonptr.Get(out.Claims, p); !ok || err != nil {
			return res.fail(errcode.New(errcode.ClaimNotDisclosed, "claim %s must be disclosed", rc))
		}
	}
	if err := v.checkDelegation(res, chain); err != nil {
		return res.fail(err)
	}
	if err := v.checkStatus(ctx, res); err != nil {
		return res.fail(err)
	}
	if spend {
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
		d := authorize(authority(out, chain), req.Action, req.Attributes, v.s.now().Add(-v.p.Leeway), v.authzOptions())
		if req.RequireApproval && d.Allowed {
			d.Allowed, d.Code, d.Reason = false, errcode.ApprovalRequired, "the counterparty asks for a person's approval"
		}
		if d.Code == errcode.ApprovalRequired {
			spent := v.approvalSpent(req.Nonces)
			if req.spent != nil {
				spent = req.spent // the middleware's, spent once within its rate limit
			}
			v.settleApproval(ctx, &d, res, req.Attributes, req.Audience, req.Approval, spent)
		}
		res.Decision = &d
	}
	return res
}
