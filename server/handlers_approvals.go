package server

import (
	"context"
	"net/http"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/verifier"
)

// approvalRequestBody is the body of POST /v1/approvals/requests.
type approvalRequestBody struct {
	Action    string         `json:"action"`
	Request   map[string]any `json:"request,omitempty"` // the request attributes, as /v1/verify takes them
	Audience  string         `json:"audience"`
	Principal string         `json:"principal"`
	Subject   string         `json:"subject"`
	ValidFor  string         `json:"valid_for,omitempty"` // Go duration, at most 15m; default 5m
}

// approvalAnswer is the answer of POST /v1/approvals/requests.
type approvalAnswer struct {
	ApprovalRequest approval.Request `json:"approval_request"`
	Description     string           `json:"description"`   // what approving means, in words
	ApprovalLink    string           `json:"approval_link"` // the request by value, for the approver's tool (approval.LinkScheme)
}

// createApprovalRequest makes an approval request for an action: the
// agent or the counterparty asks before the action, a person of the
// principal approves it (agentcert approve), and the approval goes to
// /v1/verify (member approval) or the middleware (header Agent-Approval)
// with the same action and request. When this server is also the issuer,
// the request is in its audit log (approval.request).
func (s *Server) createApprovalRequest(w http.ResponseWriter, r *http.Request) {
	var body approvalRequestBody
	if _, err := decodeBody(r, &body); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if !verifier.IsConcreteAction(body.Action) {
		writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "action must be a concrete resource:verb"))
		return
	}
	ttl := 5 * time.Minute
	if body.ValidFor != "" {
		d, err := time.ParseDuration(body.ValidFor)
		if err != nil || d <= 0 || d > approval.MaxLifetime {
			writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "valid_for must be a positive duration of at most %s", approval.MaxLifetime))
			return
		}
		ttl = d
	}
	req, err := approval.NewRequest(body.Action, body.Request, body.Audience, body.Principal, body.Subject, ttl, s.now())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if err := s.auditApproval(r.Context(), "approval.request", req.Nonce, map[string]any{
		"action": req.Action, "digest": req.Digest, "audience": req.Audience, "principal": req.Principal, "subject": req.Subject, "expires_at": time.Unix(req.Expiry, 0).UTC(),
	}); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	link, err := approval.Link(req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, approvalAnswer{ApprovalRequest: req, Description: approval.Describe(req), ApprovalLink: link})
}

// auditApproval appends an approval event to the issuer's audit log when
// this server is the issuer (a verifier-only server has no audit log).
func (s *Server) auditApproval(ctx context.Context, action, target string, details map[string]any) error {
	if s.issuer == nil || s.store == nil {
		return nil
	}
	t, _ := tokenFrom(ctx)
	actor := t.ID
	if actor == "" {
		actor = "anonymous"
	}
	_, err := s.store.AppendAudit(ctx, store.AuditEntry{Time: s.now().UTC(), Actor: actor, Action: action, Target: target, Details: records.AuditDetails(ctx, details)})
	if err != nil {
		return errcode.Wrap(errcode.Internal, err, "the audit entry could not be recorded")
	}
	return nil
}

// auditDecision records, on the issuer's audit log, an approval a
// verification (/v1/verify, or a presentation over OpenID4VP) used or
// asked for.
func (s *Server) auditDecision(ctx context.Context, res *verifier.Result) error {
	d := res.Decision
	switch {
	case d == nil:
		return nil
	case d.Approval != nil:
		return s.auditApproval(ctx, "approval.use", d.Approval.Nonce, map[string]any{
			"action": d.Action, "digest": d.Approval.Digest, "approver": d.Approval.Approver, "principal": d.Approval.Principal, "subject": res.Subject,
		})
	case d.ApprovalRequest != nil:
		a := d.ApprovalRequest
		return s.auditApproval(ctx, "approval.request", a.Nonce, map[string]any{
			"action": a.Action, "digest": a.Digest, "audience": a.Audience, "principal": a.Principal, "subject": a.Subject, "expires_at": time.Unix(a.Expiry, 0).UTC(),
		})
	}
	return nil
}
