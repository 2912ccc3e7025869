package oid4vp

import (
	"encoding/json"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// A person's approval over OpenID4VP (docs/approvals.md, "Over OpenID4VP"):
// the verifier sends the approval request as a transaction_data entry of
// type TypeApproval, naming the credential query the action is decided on;
// the wallet binds the entry's hash into that presentation's KB-JWT, as for
// any transaction data, and carries the approver-signed approval beside it
// in the KB-JWT claim ClaimApproval. The KB-JWT's signature thus covers the
// agent's acceptance of the request and the approval it answers with.
const (
	// TypeApproval is the transaction data type of an approval request.
	TypeApproval = "agentcert_approval"
	// ClaimApproval is the KB-JWT claim that carries the approval (a JWT
	// of typ agentcert-approval+jwt).
	ClaimApproval = "agentcert_approval"
	// memberApprovalRequest is the member of a TypeApproval entry that
	// holds the approval request (package approval's Request).
	memberApprovalRequest = "approval_request"
)

// ApprovalAsk is the approval member of a CreateRequest: ask a person of
// Principal to approve the request's action for the agent Subject. The
// service builds the approval request itself (action and params from the
// CreateRequest, audience the request's client_id, a fresh single-use
// nonce) and sends it as transaction data. Principal and sub are those of
// an approval_required decision's approval_request.
type ApprovalAsk struct {
	Principal string `json:"principal"`
	Subject   string `json:"sub"`
	// ExpiresIn is how long the approval may be used, in seconds; default
	// and cap: the presentation request's lifetime, at most
	// approval.MaxLifetime.
	ExpiresIn int64 `json:"expires_in,omitempty"`
}

// approvalTransactionData makes the transaction data entry that carries req
// for credential query credID.
func approvalTransactionData(req approval.Request, credID string) (json.RawMessage, error) {
	b, err := json.Marshal(map[string]any{
		"type": TypeApproval, "credential_ids": []string{credID},
		"transaction_data_hashes_alg": []string{HashSHA256}, memberApprovalRequest: req,
	})
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "approval transaction data")
	}
	return b, nil
}

// newApprovalRequest builds the approval request of a CreateRequest whose
// presentation request, for clientID, lives for ttl.
func newApprovalRequest(req CreateRequest, clientID string, ttl time.Duration, now time.Time) (approval.Request, error) {
	a := req.Approval
	if !verifier.IsConcreteAction(req.Action) {
		return approval.Request{}, errcode.New(errcode.InvalidInput, "approval needs a concrete action (resource:verb)")
	}
	if a.ExpiresIn < 0 {
		return approval.Request{}, errcode.New(errcode.InvalidInput, "approval.expires_in must be positive")
	}
	ttl = min(ttl, approval.MaxLifetime)
	if a.ExpiresIn > 0 && a.ExpiresIn < int64(ttl/time.Second) { // no Duration overflow
		ttl = time.Duration(a.ExpiresIn) * time.Second
	}
	var params any
	if req.Attributes != nil {
		params = req.Attributes
	}
	return approval.NewRequest(req.Action, params, clientID, a.Principal, a.Subject, ttl, now)
}

// decodeApprovalData reads the approval request of a TypeApproval entry m:
// one credential id, and an approval_request whose digest is that of its
// action and params (approval.ParseRequest). Errors: invalid_input.
func decodeApprovalData(m map[string]any, ids []string) (*approval.Request, error) {
	if len(ids) != 1 {
		return nil, errcode.New(errcode.InvalidInput, "%s transaction data names exactly one credential query", TypeApproval)
	}
	raw, ok := m[memberApprovalRequest]
	if _, isObj := raw.(map[string]any); !ok || !isObj {
		return nil, errcode.New(errcode.InvalidInput, "%s transaction data needs an %s object", TypeApproval, memberApprovalRequest)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "%s transaction data", TypeApproval)
	}
	r, err := approval.ParseRequest(b)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "%s transaction data: %s", TypeApproval, err)
	}
	return &r, nil
}

// approvalIndex is the index of the request's TypeApproval entry, or -1.
func approvalIndex(tds []*TransactionData) int {
	for i, td := range tds {
		if td.Approval != nil {
			return i
		}
	}
	return -1
}

// kbClaims returns the claims of a presentation's KB-JWT, unverified (the
// verifier checks its signature after), or nil when it has none. It parses
// with the SD-JWT parser and jws.Parse, with the verifier's limits.
// Errors: the parser's, kb_malformed.
func kbClaims(presentation string) (map[string]any, error) {
	var kb string
	if sdjwt.IsChain(presentation) {
		c, err := sdjwt.ParseChain(presentation, sdjwt.Limits{})
		if err != nil {
			return nil, err
		}
		kb = c.KBJWT
	} else {
		t, err := sdjwt.Parse(presentation, sdjwt.Limits{})
		if err != nil {
			return nil, err
		}
		kb = t.KBJWT
	}
	if kb == "" {
		return nil, nil
	}
	msg, err := jws.Parse([]byte(kb), jws.WithCompact())
	if err != nil {
		return nil, errcode.Wrap(errcode.KBMalformed, err, "the KB-JWT is not a compact JWS")
	}
	var claims map[string]any
	if err := jsonstrict.Decode(msg.Payload(), &claims); err != nil {
		return nil, errcode.Wrap(errcode.KBMalformed, err, "the KB-JWT's claims are not a JSON object")
	}
	return claims, nil
}

// boundApproval reads, from the unverified KB-JWT claims kb of a
// presentation the approval entry i (req) names, the approval it carries,
// and checks it answers req: the same action and digest
// (approval_digest_mismatch), audience (approval_wrong_audience) and nonce
// (approval_replayed: an approval given for another request). These
// checks come before the verifier's, so an approval made for another
// request is refused without being spent. Errors also: approval_required
// (none), approval_malformed.
func boundApproval(kb map[string]any, id string, i int, req *approval.Request) (string, error) {
	raw, ok := kb[ClaimApproval]
	if !ok {
		return "", errcode.New(errcode.ApprovalRequired, "transaction data %d asks a person's approval of %s; the KB-JWT of %q carries none (claim %s)", i, req.Action, id, ClaimApproval)
	}
	tok, _ := raw.(string)
	if tok == "" {
		return "", errcode.New(errcode.ApprovalMalformed, "the KB-JWT claim %s of %q is not a JWT", ClaimApproval, id)
	}
	c, _, err := approval.Parse(tok)
	if err != nil {
		return "", err
	}
	switch {
	case c.Action != req.Action || c.Digest != req.Digest:
		return "", errcode.New(errcode.ApprovalDigestMismatch, "the approval in the KB-JWT of %q was given for another request object than transaction data %d", id, i)
	case c.Audience != req.Audience:
		return "", errcode.New(errcode.ApprovalWrongAudience, "the approval in the KB-JWT of %q is for audience %q, not %q", id, c.Audience, req.Audience)
	case c.Nonce != req.Nonce:
		return "", errcode.New(errcode.ApprovalReplayed, "the approval in the KB-JWT of %q was given for another presentation request (its nonce is not that of transaction data %d)", id, i)
	}
	return tok, nil
}

// approvalOutcome turns the verifier's decision on an approval-bound
// presentation into the response's failure: nil when the approval of
// transaction data i (req) allowed the action, or when the action was
// denied for a reason of its own before any approval was looked at (the
// decision says why); the approval's refusal (its approval_* code)
// otherwise.
func approvalOutcome(vr *verifier.Result, tok string, i int, req *approval.Request) error {
	if got, _ := vr.KeyBinding[ClaimApproval].(string); got != tok {
		return errcode.New(errcode.ApprovalMalformed, "the verified KB-JWT does not carry the approval that was checked")
	}
	d := vr.Decision
	if d == nil {
		return errcode.New(errcode.ApprovalRequired, "transaction data %d asks a person's approval, and no action was decided", i)
	}
	if d.Approval != nil {
		if d.Approval.Nonce != req.Nonce || d.Approval.Digest != req.Digest {
			return errcode.New(errcode.ApprovalDigestMismatch, "the approval that allowed the action is not that of transaction data %d", i)
		}
		return nil
	}
	switch d.Code {
	case errcode.ApprovalRequired, errcode.ApprovalMalformed, errcode.ApprovalBadSignature, errcode.ApprovalUnauthorized,
		errcode.ApprovalDigestMismatch, errcode.ApprovalWrongAudience, errcode.ApprovalExpired, errcode.ApprovalReplayed,
		errcode.NonceStoreUnavailable:
		return errcode.New(d.Code, "the approval of transaction data %d: %s", i, d.Reason)
	}
	return nil
}
