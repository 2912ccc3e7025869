package verifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonstrict"
)

// Request is one verification, and the JSON body of POST /v1/verify.
type Request struct {
	Presentation string         `json:"presentation"`
	Audience     string         `json:"audience"`
	Nonce        string         `json:"nonce,omitempty"`
	Action       string         `json:"action,omitempty"`
	Attributes   map[string]any `json:"request,omitempty"`
	// Approval is a person's approval of exactly this action and request
	// (a JWT of typ agentcert-approval+jwt carrying its approver
	// credential), for an action that needs one (see package approval).
	Approval string `json:"approval,omitempty"`
	// Nonces, when set, makes the KB-JWT nonce single-use: it must be one
	// these Nonces issued, and it is spent only once everything else has
	// verified (the HTTP middleware sets it; Policy.RequireNonce uses
	// WithNonces). Never read from JSON.
	Nonces *Nonces `json:"-"`
	// RequireKB demands key binding even if the policy does not (the
	// middleware sets it). Never read from JSON.
	RequireKB bool `json:"-"`
	// NonceSpent says that Nonce, one of the verifier's single-use
	// nonces, was spent by an earlier presentation this caller verified
	// for the same answer (OpenID4VP: every presentation of one response
	// carries the request's nonce): the KB-JWT nonce must be Nonce, and is
	// not spent again. Never read from JSON.
	NonceSpent bool `json:"-"`
	// RequireApproval makes an allowed action need Approval too, whatever
	// the permission says: the counterparty asked for a person's approval
	// (OpenID4VP's agentcert_approval transaction data). Never read from
	// JSON.
	RequireApproval bool `json:"-"`
	// spent, when set, is where the approval's nonce is spent (the
	// middleware's heldSpend), in place of approvalSpent.
	spent *heldSpend
}

// ErrorInfo is a failure with its stable code. Cause, when present, is the
// code of the underlying failure (e.g. status_unavailable caused by
// fetch_refused).
type ErrorInfo struct {
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
	Cause   errcode.Code `json:"cause,omitempty"`
}

// Result is the outcome of a verification, and the JSON answer of POST
// /v1/verify. Verified says whether the presentation is genuine, bound,
// current, unrevoked and from a trusted issuer; Decision, when an action was
// named, says whether it is allowed. Error is the failure that stopped the
// verification (nil when Verified).
//
// In JSON the error is the one element of an "errors" array (empty when the
// presentation verified), so that the shape can grow.
type Result struct {
	Verified bool           `json:"verified"`
	Issuer   string         `json:"issuer,omitempty"`
	Subject  string         `json:"subject,omitempty"`
	VCT      string         `json:"vct,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
	Status   StatusInfo     `json:"status"`
	Decision *Decision      `json:"decision,omitempty"`
	Error    *ErrorInfo     `json:"-"`
	// Chain lists the hops of a delegation chain after the root
	// certification; EffectivePermissions are the last hop's, which
	// Decision used.
	Chain                []HopInfo `json:"chain,omitempty"`
	EffectivePermissions []any     `json:"effective_permissions,omitempty"`

	// KeyBinding is the verified KB-JWT payload (nil without one), for
	// callers that check claims of their protocol in it (OpenID4VP's
	// transaction_data_hashes). Never in JSON.
	KeyBinding map[string]any `json:"-"`

	presenter map[string]any // for a chain, the last hop's claims: its cnf is the presenter's key
	// statusUntil is when the status checked stops being usable (its list
	// token's exp, or its fetch plus the token's ttl); zero when the token
	// bounds it by neither or status was not checked.
	statusUntil time.Time
	// Receipt is the signed receipt of this decision (compact JWS), when
	// the verifier signs receipts (WithReceipts).
	Receipt string `json:"receipt,omitempty"`
}

// resultJSON is Result's wire shape.
type resultJSON struct {
	plainResult
	Errors []ErrorInfo `json:"errors"`
}

// plainResult has Result's fields without its JSON methods.
type plainResult Result

// MarshalJSON writes the documented shape: Error as the only element of
// "errors" (see AppendJSON).
func (r Result) MarshalJSON() ([]byte, error) {
	return r.AppendJSON(make([]byte, 0, 2048))
}

// UnmarshalJSON reads the documented shape; more than one error is refused.
func (r *Result) UnmarshalJSON(b []byte) error {
	// A member given twice, or in two cases ("verified" and "VERIFIED"),
	// would be read as the last one: such a result is refused.
	if err := jsonstrict.Check(b); err != nil {
		return fmt.Errorf("verifier: result: %w", err)
	}
	var in resultJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	if len(in.Errors) > 1 {
		return fmt.Errorf("verifier: a result carries at most one error, not %d", len(in.Errors))
	}
	*r = Result(in.plainResult)
	if len(in.Errors) == 1 {
		r.Error = &in.Errors[0]
	}
	return nil
}

// Code returns the code of the failure, or "" when there was none.
func (r *Result) Code() errcode.Code {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
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
	r.Error = &ErrorInfo{Code: errcode.CodeOf(err), Message: msg, Cause: rootCode(err)}
	return r
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
