package verifier

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// HopInfo is one verified hop of a delegation chain, as a result shows it.
type HopInfo struct {
	Subject    string         `json:"sub"`
	Task       map[string]any `json:"task,omitempty"`
	OnBehalfOf map[string]any `json:"on_behalf_of,omitempty"`
	IssuedAt   int64          `json:"iat"`
	Expires    int64          `json:"exp"`
	Link       string         `json:"link"` // sd_hash or issuer_jwt_hash
}

// DelegationLimits bound a chain beyond the format's own limits.
type DelegationLimits struct {
	MaxDepth    int           // hops; 0 = DefaultMaxDelegationDepth
	MaxLifetime time.Duration // exp - iat of each hop; 0 = DefaultMaxDelegationLifetime
}

func (l DelegationLimits) withDefaults() DelegationLimits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDelegationDepth
	}
	if l.MaxLifetime <= 0 {
		l.MaxLifetime = DefaultMaxDelegationLifetime
	}
	return l
}

// Authority is what a certification or a delegation hop grants: its
// disclosed permissions, its prohibitions and when it ends.
type Authority struct {
	Permissions  []any
	Prohibitions []any
	Expires      time.Time // zero: no end stated
}

// RootAuthority is the authority of a certification's processed claims:
// it ends at exp, or at task.expires when that is earlier.
func RootAuthority(claims map[string]any) Authority {
	a := authorityOf(claims)
	if task, ok := claims["task"].(map[string]any); ok {
		if t, ok := numericTime(task["expires"]); ok && (a.Expires.IsZero() || t.Before(a.Expires)) {
			a.Expires = t
		}
	}
	return a
}

// DelegateAuthority is the authority a hop's delegate payload grants.
func DelegateAuthority(delegate map[string]any) Authority { return authorityOf(delegate) }

// authorityOf reads the permissions, prohibitions and exp of a claim set.
func authorityOf(claims map[string]any) Authority {
	a := Authority{}
	a.Permissions, _ = asList(claims["permissions"])
	a.Prohibitions, _ = asList(claims["prohibitions"])
	if t, ok := numericTime(claims["exp"]); ok {
		a.Expires = t
	}
	return a
}

// verifyPresentation verifies a plain SD-JWT, or a Delegate SD-JWT chain
// (whose root result carries the final KB-JWT as its KeyBinding).
func (v *Verifier) verifyPresentation(ctx context.Context, pres string, opts sdjwt.VerifyOptions) (*sdjwt.Result, *sdjwt.ChainResult, error) {
	if !sdjwt.IsChain(pres) {
		out, err := sdjwt.Verify(ctx, pres, opts)
		return out, nil, err
	}
	c, err := sdjwt.VerifyChain(ctx, pres, sdjwt.ChainOptions{VerifyOptions: opts})
	if err != nil {
		return nil, nil, err
	}
	return c.Root, c, nil
}

// checkDelegation applies agentcert's narrowing rules to a verified chain
// and records it in res. Without a chain it does nothing.
func (v *Verifier) checkDelegation(res *Result, c *sdjwt.ChainResult) error {
	if c == nil {
		return nil
	}
	if res.VCT != schemas.AgentCertificationV1 {
		return errcode.New(errcode.DelegationMalformed, "a delegation chain must start from an agent certification, not vct %q", res.VCT)
	}
	lim := DelegationLimits{MaxDepth: v.p.MaxDelegationDepth, MaxLifetime: v.p.MaxDelegationLifetime}.withDefaults()
	if len(c.Hops) > lim.MaxDepth {
		return errcode.New(errcode.DelegationDepth, "%d delegation hops, more than the policy's max_delegation_depth %d", len(c.Hops), lim.MaxDepth)
	}
	if why := unreadableRestriction(res.Claims); why != "" {
		// Authorize denies the certification every action; RootAuthority
		// would drop the restriction, and a hop would grant what the
		// certification does not.
		return errcode.New(errcode.DelegationWidened, "the certification's %s, so no hop can be shown to keep it", why)
	}
	parent := RootAuthority(res.Claims)
	res.Chain = make([]HopInfo, 0, len(c.Hops))
	restricting := schemas.RestrictingClaims(schemas.DelegationV1)
	for i, h := range c.Hops {
		if err := checkRestrictions(h.DelegatePayload, h.Delegate, hopDisclosure(h), restricting); err != nil {
			return errcode.Prefix(err, "delegation hop %d", i+1)
		}
		if hidesClaims(h.DelegatePayload) {
			return errcode.New(errcode.MissingClaim, "delegation hop %d: every claim of a hop must be in clear", i+1)
		}
		// The schema's verdict on these exact bytes may be known; every
		// other rule runs.
		reg, key := v.reg, v.hopSchemas.key(h)
		if v.hopSchemas.validated(key) {
			reg = nil
		}
		next, err := checkHop(reg, parent, h.Delegate, h.Key, lim)
		if err != nil {
			return errcode.Prefix(err, "delegation hop %d", i+1)
		}
		if reg != nil {
			v.hopSchemas.put(key)
		}
		info := HopInfo{Link: string(h.Link)}
		info.Subject, _ = h.Delegate["sub"].(string)
		info.Task, _ = h.Delegate["task"].(map[string]any)
		info.OnBehalfOf, _ = h.Delegate["on_behalf_of"].(map[string]any)
		if t, ok := numericTime(h.Delegate["iat"]); ok {
			info.IssuedAt = t.Unix()
		}
		info.Expires = next.Expires.Unix()
		res.Chain = append(res.Chain, info)
		parent = next
	}
	res.EffectivePermissions = parent.Permissions
	res.presenter = c.Hops[len(c.Hops)-1].Delegate
	return nil
}

// unreadableRestriction names a restriction of a certification's claims
// that cannot be read (a prohibitions claim that is not an array, a task
// that is not an object or whose expires is not a NumericDate), or is "".
// Authorize denies every action of such a claim set.
func unreadableRestriction(claims map[string]any) string {
	if raw, ok := claims["prohibitions"]; ok {
		if _, ok := asList(raw); !ok {
			return "prohibitions claim is malformed"
		}
	}
	if raw, ok := claims["task"]; ok && raw != nil {
		task, ok := raw.(map[string]any)
		if !ok {
			return "task claim is malformed"
		}
		if exp, ok := task["expires"]; ok {
			if _, ok := numericTime(exp); !ok {
				return "task expires is malformed"
			}
		}
	}
	return ""
}

// hopDisclosure finds a disclosure sent with hop h by its digest.
func hopDisclosure(h *sdjwt.Hop) func(digest string) (*sdjwt.Disclosure, bool) {
	return func(digest string) (*sdjwt.Disclosure, bool) {
		for _, d := range h.Disclosures {
			if d.Digest == digest {
				return d, true
			}
		}
		return nil, false
	}
}

// Authority is what an action of this result is decided on (by Verify,
// the middleware and the signed-request channel alike): the credential's
// claims, or for a delegation chain the last hop's delegate payload, whose
// permissions, prohibitions and task the narrowing rules keep within every
// ancestor's. Pass it, not Claims, to Authorize. A chain's Result read
// back from JSON (the answer of POST /v1/verify) does not hold the last
// hop's payload: its Authority is empty and grants nothing (decide with
// the Decision the verifier made, Request.Action).
func (r *Result) Authority() map[string]any {
	if r.presenter == nil && len(r.Chain) > 0 {
		return map[string]any{}
	}
	return r.presenterClaims()
}

// presenterClaims are the claims that name the key of whoever presented:
// the credential's, or for a chain the last hop's. They are also the
// authority an action is decided on (authority), on every path.
func (r *Result) presenterClaims() map[string]any {
	if r.presenter != nil {
		return r.presenter
	}
	return r.Claims
}

// validUntil is the earliest end the credential states (exp, task.expires)
// and, for a chain, that any hop states; zero when none does.
func (r *Result) validUntil() time.Time {
	end := RootAuthority(r.Claims).Expires
	for _, h := range r.Chain {
		if t := time.Unix(h.Expires, 0); end.IsZero() || t.Before(end) {
			end = t
		}
	}
	return end
}

// authority is what Authorize decides against: the claims of a plain
// credential, or the last hop's delegate payload of a chain (which the
// narrowing rules make a subset of every ancestor's authority).
func authority(out *sdjwt.Result, c *sdjwt.ChainResult) map[string]any {
	if c == nil {
		return out.Claims
	}
	return c.Hops[len(c.Hops)-1].Delegate
}

// CheckHop checks one delegation hop's payload against its parent's
// authority and returns the hop's own authority. The rules, in order:
//
//  1. unknown_constraint: a constraint other than max_amount, currency and approval,
//     in the hop or in a parent permission it must be compared with.
//  2. schema_invalid: the payload does not validate against the JSON Schema
//     of vct urn:agentcert:delegation:v1.
//  3. delegation_key_mismatch: a did:key or did:jwk sub whose key is not
//     cnf.jwk.
//  4. delegation_lifetime: exp - iat longer than lim.MaxLifetime.
//  5. delegation_outlives_parent: exp after the parent's end.
//  6. delegation_widened: a parent prohibition the hop does not carry (the
//     same action, or its resource with "*"), or a permission no parent
//     permission covers. A parent permission covers a hop permission when
//     its action is the same or "resource:*" over the same resource; when
//     it names a resource, the hop's resource equals it or, for a parent
//     resource ending in "*", starts with the part before the "*" (no "."
//     or ".." segments after it); and each parent constraint holds in the
//     hop at least as strictly (max_amount not larger, the same currency,
//     approval "always" kept, an approval threshold not higher or replaced
//     by "always"), and the hop's reversibility is not milder than the
//     parent's (reversible < compensable < irreversible).
//
// reg validates the payload; nil skips the schema step.
func CheckHop(reg *schemas.Registry, parent Authority, hop map[string]any, lim DelegationLimits) (Authority, error) {
	return checkHop(reg, parent, hop, nil, lim)
}

// checkHop is CheckHop with the hop's cnf.jwk already parsed (nil: parse it).
func checkHop(reg *schemas.Registry, parent Authority, hop map[string]any, key jwk.Key, lim DelegationLimits) (Authority, error) {
	lim = lim.withDefaults()
	perms, _ := asList(hop["permissions"])
	for i, p := range perms {
		if m, ok := p.(map[string]any); ok {
			if err := knownConstraints(m); err != nil {
				return Authority{}, errcode.New(errcode.UnknownConstraint, "permission %d: %s", i, err.Error())
			}
		}
	}
	if reg != nil {
		if err := reg.Validate(schemas.DelegationV1, hop); err != nil {
			return Authority{}, err
		}
	}
	sub, _ := hop["sub"].(string)
	if strings.HasPrefix(sub, "did:key:") || strings.HasPrefix(sub, "did:jwk:") {
		if err := keyMatchesDID(sub, hop, key); err != nil {
			return Authority{}, err
		}
	}
	iat, okI := numericTime(hop["iat"])
	exp, okE := numericTime(hop["exp"])
	if !okI || !okE {
		return Authority{}, errcode.New(errcode.MissingClaim, "a hop needs iat and exp")
	}
	if life := exp.Sub(iat); life > lim.MaxLifetime {
		return Authority{}, errcode.New(errcode.DelegationLifetime, "the hop is valid for %s, more than the policy's maximum %s", life, lim.MaxLifetime)
	}
	if !parent.Expires.IsZero() && exp.After(parent.Expires) {
		return Authority{}, errcode.New(errcode.DelegationOutlivesParent, "the hop expires at %s, after its parent (%s)", exp.UTC().Format(time.RFC3339), parent.Expires.UTC().Format(time.RFC3339))
	}
	child := Authority{Permissions: perms, Expires: exp}
	child.Prohibitions, _ = asList(hop["prohibitions"])
	for _, pp := range parent.Prohibitions {
		ps, _ := pp.(string)
		if !prohibitionCarried(ps, child.Prohibitions) {
			return Authority{}, errcode.New(errcode.DelegationWidened, "the hop drops the parent's prohibition %q", ps)
		}
	}
	for i, p := range perms {
		cp, _ := p.(map[string]any)
		if err := covered(cp, parent.Permissions); err != nil {
			return Authority{}, errcode.Wrap(errcode.CodeOf(err), err, "permission %d (%v) is not covered by the parent: %s", i, cp["action"], reason(err))
		}
	}
	return child, nil
}

func reason(err error) string {
	if ce, ok := err.(*errcode.Error); ok {
		return ce.Message
	}
	return err.Error()
}

// knownConstraints reports a constraint key agentcert does not enforce.
func knownConstraints(perm map[string]any) error {
	raw, ok := perm["constraints"]
	if !ok {
		return nil
	}
	cons, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("constraints is not an object")
	}
	keys := make([]string, 0, len(cons))
	for k := range cons {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k != "max_amount" && k != "currency" && k != "approval" {
			return fmt.Errorf("unknown constraint %q", k)
		}
	}
	return nil
}

// prohibitionCarried reports whether the hop's prohibitions include the
// parent's prohibition p, literally or through "resource:*".
func prohibitionCarried(p string, child []any) bool {
	pr, pv, ok := parseAction(p)
	if !ok {
		return slices.Contains(child, any(p))
	}
	for _, c := range child {
		cs, _ := c.(string)
		cr, cv, ok := parseAction(cs)
		if ok && cr == pr && (cv == "*" || cv == pv) {
			return true
		}
	}
	return false
}

// covered returns nil when one of parents covers the permission cp, or the
// reason the closest candidate (the first with a matching action) does not.
func covered(cp map[string]any, parents []any) error {
	action, _ := cp["action"].(string)
	cr, cv, ok := parseAction(action)
	if !ok {
		return errcode.New(errcode.DelegationWidened, "action %q is malformed", action)
	}
	var first error
	for _, p := range parents {
		pp, ok := p.(map[string]any)
		if !ok {
			continue
		}
		pa, _ := pp["action"].(string)
		pr, pv, ok := parseAction(pa)
		if !ok || pr != cr || (pv != "*" && pv != cv) {
			continue
		}
		err := coveredBy(cp, pp)
		if err == nil {
			return nil
		}
		if errcode.CodeOf(err) == errcode.UnknownConstraint {
			return err
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return errcode.New(errcode.DelegationWidened, "no parent permission grants %q", action)
	}
	return first
}

// coveredBy checks resource and constraints of cp against one parent
// permission pp whose action covers cp's.
func coveredBy(cp, pp map[string]any) error {
	if err := knownConstraints(pp); err != nil {
		return errcode.New(errcode.UnknownConstraint, "the parent's permission %v: %s", pp["action"], err.Error())
	}
	if pres, ok := pp["resource"]; ok {
		ps, _ := pres.(string)
		cs, ok := cp["resource"].(string)
		if !ok {
			return errcode.New(errcode.DelegationWidened, "the parent limits %v to resource %q and the hop does not", pp["action"], ps)
		}
		if !resourceCovered(ps, cs) {
			return errcode.New(errcode.DelegationWidened, "resource %q is not within the parent's %q", cs, ps)
		}
	}
	pc, _ := pp["constraints"].(map[string]any)
	cc, _ := cp["constraints"].(map[string]any)
	if want, ok := pc["max_amount"]; ok {
		limit, ok1 := toRat(want)
		got, ok2 := toRat(cc["max_amount"])
		if !ok1 {
			return errcode.New(errcode.DelegationWidened, "the parent's max_amount is malformed")
		}
		if !ok2 {
			return errcode.New(errcode.DelegationWidened, "the parent limits max_amount to %v and the hop does not", want)
		}
		if got.Cmp(limit) > 0 {
			return errcode.New(errcode.DelegationWidened, "max_amount %v is larger than the parent's %v", cc["max_amount"], want)
		}
	}
	if want, ok := pc["currency"]; ok {
		if got, _ := cc["currency"].(string); got == "" || got != want {
			return errcode.New(errcode.DelegationWidened, "currency %v is not the parent's %v", cc["currency"], want)
		}
	}
	if want, ok := pc["approval"]; ok {
		if err := approvalNarrowed(want, cc["approval"]); err != nil {
			return err
		}
	}
	pr, _ := pp["reversibility"].(string)
	cr, _ := cp["reversibility"].(string)
	if reversibilityRank(cr) < reversibilityRank(pr) {
		return errcode.New(errcode.DelegationWidened, "reversibility %q is milder than the parent's %q", cr, pr)
	}
	return nil
}

// approvalNarrowed checks that a hop's approval constraint got is at least
// as strict as the parent's want.
func approvalNarrowed(want, got any) error {
	if approvalHolds(want) != "" {
		return errcode.New(errcode.DelegationWidened, "the parent's approval constraint is malformed")
	}
	if got == nil {
		return errcode.New(errcode.DelegationWidened, "the parent requires approval (%v) and the hop does not", want)
	}
	if approvalHolds(got) != "" {
		return errcode.New(errcode.DelegationWidened, "the hop's approval constraint is malformed")
	}
	if got == "always" {
		return nil
	}
	if want == "always" {
		return errcode.New(errcode.DelegationWidened, "the parent requires approval always and the hop only above an amount")
	}
	w, _ := toRat(want.(map[string]any)["above_amount"])
	g, _ := toRat(got.(map[string]any)["above_amount"])
	if g.Cmp(w) > 0 {
		return errcode.New(errcode.DelegationWidened, "approval threshold %v is higher than the parent's %v", got.(map[string]any)["above_amount"], want.(map[string]any)["above_amount"])
	}
	return nil
}

// resourceCovered reports whether the hop's resource c (which may itself
// end in "*") lies within the parent's resource p.
func resourceCovered(p, c string) bool {
	if p == "" || c == "" {
		return false
	}
	if c == p {
		return true
	}
	prefix, wild := strings.CutSuffix(p, "*")
	if !wild {
		return false
	}
	rest, ok := strings.CutPrefix(c, prefix)
	// No dot, empty or encoded segment may step out of the prefix (the
	// same rule as a requested resource, see resourceProblem).
	return ok && resourceProblem(strings.TrimSuffix(strings.TrimSuffix(rest, "*"), "/")) == "" && resourceProblem(strings.TrimSuffix(strings.TrimSuffix(c, "*"), "/")) == ""
}

// keyMatchesDID checks that cnf.jwk is the key a did:key or did:jwk names.
func keyMatchesDID(sub string, hop map[string]any, got jwk.Key) error {
	if got == nil {
		var err error
		if got, err = sdjwt.HolderKey(hop); err != nil {
			return errcode.Wrap(errcode.DelegationKeyMismatch, err, "the hop's cnf.jwk is unusable")
		}
	}
	// Fast path: the DID this key has is the sub (did:key is canonical;
	// did:jwk usually is).
	encode := did.KeyDID
	if strings.HasPrefix(sub, "did:jwk:") {
		encode = did.JWKDID
	}
	if id, err := encode(got); err == nil && id == sub {
		return nil
	}
	want, err := did.PublicKey(sub)
	if err != nil {
		return errcode.Wrap(errcode.DelegationKeyMismatch, err, "sub %q does not decode to a key", sub)
	}
	if !keyutil.SameKey(want, got) {
		return errcode.New(errcode.DelegationKeyMismatch, "cnf.jwk is not the key of %s", sub)
	}
	return nil
}

// numericTime reads a NumericDate claim.
func numericTime(v any) (time.Time, bool) {
	r, ok := toRat(v)
	if !ok || r.Sign() < 0 {
		return time.Time{}, false
	}
	f, _ := r.Float64()
	if f > 1e12 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}
