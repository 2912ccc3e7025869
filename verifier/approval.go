package verifier

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Reversibility values of a permission.
const (
	Reversible   = "reversible"
	Compensable  = "compensable"
	Irreversible = "irreversible"
)

// ApprovalInfo is the approval that allowed an action.
type ApprovalInfo struct {
	Approver  string `json:"approver"`  // the approver's DID (sub of the approver credential)
	Principal string `json:"principal"` // for whom it approved
	Digest    string `json:"digest"`    // the request object's JCS digest
	Nonce     string `json:"nonce"`     // spent: the approval cannot be used again
}

// needsApproval says why the permission perm, which holds for request,
// needs a person's approval, or "" when it does not: its approval
// constraint ("always", or an amount above above_amount; a request with no
// readable amount, or a negative one, needs approval), or the policy's rule for irreversible
// actions (irreversible is the reversibility the verifier settled on).
func needsApproval(perm, request map[string]any, irreversible, policyApproves bool) string {
	cons, _ := perm["constraints"].(map[string]any)
	switch a := cons["approval"].(type) {
	case nil:
	case string:
		if a == "always" {
			return "the permission requires approval"
		}
	case map[string]any:
		limit, _ := toRat(a["above_amount"])
		amount, ok := toRat(request["amount"])
		if !ok || limit == nil || amount.Sign() < 0 {
			// A negative amount is none under the threshold: without
			// max_amount nothing else refuses it.
			return "the permission requires approval above an amount, and the request has no readable, non-negative amount"
		}
		if amount.Cmp(limit) > 0 {
			return fmt.Sprintf("amount %v is above the approval threshold %v", request["amount"], a["above_amount"])
		}
	}
	if irreversible && policyApproves {
		return "the policy requires approval of irreversible actions"
	}
	return ""
}

// approvalHolds returns "" when an approval constraint is well formed
// (its need is decided by needsApproval), or why it is not.
func approvalHolds(v any) string {
	switch a := v.(type) {
	case string:
		if a == "always" {
			return ""
		}
	case map[string]any:
		if len(a) == 1 {
			if r, ok := toRat(a["above_amount"]); ok && r.Sign() >= 0 {
				return ""
			}
		}
	}
	return "constraint approval is malformed"
}

// reversibilityOf is the permission's reversibility, made irreversible
// when the policy lists the action as irreversible.
func (o authzOptions) reversibilityOf(perm map[string]any, res, verb string) string {
	for _, s := range o.irreversible {
		if pr, pv, ok := parseAction(s); ok && actionMatches(pr, pv, res, verb) {
			return Irreversible
		}
	}
	r, _ := perm["reversibility"].(string)
	switch r {
	case Reversible, Compensable, Irreversible:
		return r
	}
	return ""
}

// authzOptions are the policy's rules Authorize applies beyond the
// credential.
type authzOptions struct {
	approveIrreversible bool
	irreversible        []string
}

func (v *Verifier) authzOptions() authzOptions {
	return authzOptions{approveIrreversible: v.p.ApproveIrreversible, irreversible: v.p.IrreversibleActions}
}

// approvalSpent is where the verifier records used approval nonces: the
// store of the request's nonce service (a middleware's Nonces) when there
// is one, else that of the verifier's (WithNonces), else its own set. A
// nonce service's store is the one replicas share (Redis), so an approval
// used on one replica is refused on the others.
func (v *Verifier) approvalSpent(n *Nonces) approval.Replay {
	if n != nil {
		return n.store
	}
	if v.s.nonces != nil {
		return v.s.nonces.store
	}
	return v.approvals
}

// heldSpend is an approval.Replay that holds the one spend asked of it
// until commit: the middleware applies its rate limit between an
// approval's checks and the spending of its nonce, so that a request
// refused by the limit does not use up the approval (a person would have
// to approve again).
type heldSpend struct {
	store   approval.Replay
	id      string
	expires time.Time
	held    bool
}

// RemembersSince is that of the store the spend goes to
// (approval.Forgetful), zero for a store that forgets nothing.
func (h *heldSpend) RemembersSince() time.Time {
	if f, ok := h.store.(approval.Forgetful); ok {
		return f.RemembersSince()
	}
	return time.Time{}
}

// Spend holds id and reports it fresh; commit spends it.
func (h *heldSpend) Spend(_ context.Context, id string, expires time.Time) (bool, error) {
	h.id, h.expires, h.held = id, expires, true
	return true, nil
}

// commit spends the nonce held, if any, in the store; d, allowed by the
// approval, becomes a refusal when the nonce was spent meanwhile
// (approval_replayed) or the store fails (nonce_store_unavailable).
func (h *heldSpend) commit(ctx context.Context, d *Decision) {
	if h == nil || !h.held || d == nil || d.Approval == nil {
		return
	}
	h.held = false
	fresh, err := h.store.Spend(ctx, h.id, h.expires)
	switch {
	case err != nil:
		d.Code, d.Reason = errcode.NonceStoreUnavailable, "approval: nonce store: "+err.Error()
	case !fresh:
		d.Code, d.Reason = errcode.ApprovalReplayed, "approval: already used"
	default:
		return
	}
	d.Allowed, d.Approval = false, nil
}

// settleApproval turns an approval_required decision into an allowed one
// when token is a valid approval of exactly this request; without a token
// it attaches the approval request to ask for. res is the verified result
// (its issuer, principal and presenter); spent records the approval's
// nonce (approvalSpent, or a heldSpend).
func (v *Verifier) settleApproval(ctx context.Context, d *Decision, res *Result, attrs map[string]any, audience, token string, spent approval.Replay) {
	principal := principalID(res.Claims)
	subject, _ := res.presenterClaims()["sub"].(string)
	if principal == "" || subject == "" || audience == "" {
		d.Reason += "; an approval cannot be asked for: the principal id, the agent subject and an audience are needed"
		return
	}
	if token == "" {
		req, err := approval.NewRequest(d.Action, attrs, audience, principal, subject, DefaultApprovalTTL, v.s.now())
		if err != nil {
			d.Reason += "; " + err.Error()
			return
		}
		d.ApprovalRequest = &req
		return
	}
	info, err := v.checkApproval(ctx, token, approval.Expect{Action: d.Action, Params: attrs, Audience: audience, Principal: principal, Subject: subject}, res.Issuer, agentsOf(res), spent)
	if err != nil {
		d.Code = errcode.CodeOf(err)
		d.Reason = reason(err)
		return
	}
	d.Allowed, d.Code, d.Approval = true, "", info
	d.Reason = fmt.Sprintf("permitted by %q, approved by %s", d.Permission["action"], info.Approver)
}

// DefaultApprovalTTL is how long an approval request the verifier makes
// stays valid.
const DefaultApprovalTTL = approval.MaxLifetime

// checkApproval verifies an approval and the approver credential it
// carries: an SD-JWT VC of vct urn:agentcert:approver:v1 from iss, the
// issuer of the agent's certification, for the same principal, current and
// unrevoked, whose cnf.jwk signed the approval (kid: its RFC 7638
// thumbprint) and whose sub is the approval's iss; its nonce is spent in
// spent.
func (v *Verifier) checkApproval(ctx context.Context, token string, want approval.Expect, iss string, agents agentIDs, spent approval.Replay) (*ApprovalInfo, error) {
	c, h, err := approval.Parse(token)
	if err != nil {
		return nil, err
	}
	if a := h.Algorithm(); !jose.Allowed(a.String(), v.p.Algorithms) {
		return nil, errcode.New(errcode.UnsupportedAlg, "approval: alg %q is not one the policy accepts", a)
	}
	cred := approval.Credential(h)
	if cred == "" {
		return nil, errcode.New(errcode.ApprovalUnauthorized, "the approval carries no approver credential (header %s)", approval.HeaderCredential)
	}
	key, sub, err := v.approverKey(ctx, cred, iss, want.Principal)
	if err != nil {
		return nil, errcode.Wrap(errcode.ApprovalUnauthorized, err, "the approver credential: %s", reason(err))
	}
	if c.Issuer != sub {
		return nil, errcode.New(errcode.ApprovalUnauthorized, "the approval names approver %q, its credential %q", c.Issuer, sub)
	}
	if agents.include(sub, key) {
		// A person approves what the agent asks; an agent of the
		// presentation (the certified agent or a delegate) that also holds
		// an approver credential, for its DID or its key, approves nothing.
		return nil, errcode.New(errcode.ApprovalUnauthorized, "the approver %s is an agent of the presentation: an agent cannot approve its own action or its delegate's", sub)
	}
	claims, err := approval.Verify(ctx, token, want, approval.Roster{want.Principal: {key}}, spent, v.s.now())
	if err != nil {
		return nil, err
	}
	return &ApprovalInfo{Approver: sub, Principal: claims.Principal, Digest: claims.Digest, Nonce: claims.Nonce}, nil
}

// agentIDs are the agents a presentation names: the certified agent, every
// delegation hop's subject, and the keys of the certification and of the
// presenter.
type agentIDs struct {
	subjects []string
	keys     []jwk.Key
}

func agentsOf(res *Result) agentIDs {
	var a agentIDs
	for _, claims := range []map[string]any{res.Claims, res.presenterClaims()} {
		if sub, _ := claims["sub"].(string); sub != "" {
			a.subjects = append(a.subjects, sub)
		}
		if k, err := sdjwt.HolderKey(claims); err == nil {
			a.keys = append(a.keys, k)
		}
	}
	for _, h := range res.Chain {
		if h.Subject != "" {
			a.subjects = append(a.subjects, h.Subject)
		}
	}
	return a
}

// include reports whether sub or key is one of the agents'.
func (a agentIDs) include(sub string, key jwk.Key) bool {
	if slices.Contains(a.subjects, sub) {
		return true
	}
	return slices.ContainsFunc(a.keys, func(k jwk.Key) bool { return keyutil.SameKey(k, key) })
}

// approverKey verifies an approver credential and returns its key (kid set
// to the key's thumbprint) and subject.
func (v *Verifier) approverKey(ctx context.Context, cred, iss, principal string) (jwk.Key, string, error) {
	out, err := sdjwt.Verify(ctx, cred, sdjwt.VerifyOptions{
		IssuerKey: v.trustedIssuerKey, Algorithms: v.p.Algorithms, AcceptTyp: v.p.AcceptTyp, Now: v.s.now, Leeway: v.p.Leeway,
	})
	if err != nil {
		return nil, "", err
	}
	if vct, _ := out.Claims["vct"].(string); vct != schemas.ApproverV1 {
		return nil, "", errcode.New(errcode.ApprovalUnauthorized, "vct is %q, not %q", vct, schemas.ApproverV1)
	}
	if got, _ := out.Claims["iss"].(string); got != iss {
		return nil, "", errcode.New(errcode.ApprovalUnauthorized, "issued by %q, not by %q, the issuer of the agent's certification", got, iss)
	}
	if err := v.reg.Validate(schemas.ApproverV1, out.Claims); err != nil {
		return nil, "", err
	}
	if got := principalID(out.Claims); got != principal {
		return nil, "", errcode.New(errcode.ApprovalUnauthorized, "certifies an approver for %q, not for %q", got, principal)
	}
	if err := v.checkStatus(ctx, &Result{Claims: out.Claims, Issuer: iss}); err != nil {
		return nil, "", err
	}
	key, err := sdjwt.HolderKey(out.Claims)
	if err != nil {
		return nil, "", err
	}
	tp, err := httpsig.Thumbprint(key)
	if err != nil {
		return nil, "", errcode.Wrap(errcode.ApprovalUnauthorized, err, "cnf.jwk has no thumbprint")
	}
	var raw any
	if err := key.Raw(&raw); err != nil {
		return nil, "", errcode.Wrap(errcode.ApprovalUnauthorized, err, "cnf.jwk is not a usable key")
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, "", errcode.Wrap(errcode.ApprovalUnauthorized, err, "cnf.jwk is not a usable key")
	}
	_ = k.Set(jwk.KeyIDKey, tp)
	sub, _ := out.Claims["sub"].(string)
	return k, sub, nil
}

// IsConcreteAction reports whether s is an action a request can name:
// "resource:verb" with neither part "*".
func IsConcreteAction(s string) bool {
	_, verb, ok := parseAction(s)
	return ok && verb != "*"
}

// principalID is principal.id of claims, or "".
func principalID(claims map[string]any) string {
	p, _ := claims["principal"].(map[string]any)
	id, _ := p["id"].(string)
	return id
}

// reversibilityRank orders reversibility from least to most severe; a
// delegation hop may state a more severe one than its parent, never a
// milder one.
func reversibilityRank(r string) int {
	return slices.Index([]string{"", Reversible, Compensable, Irreversible}, r)
}
