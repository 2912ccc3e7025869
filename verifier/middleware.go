package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/problem"
	"github.com/agentcert/agentcert/receipt"
)

// HeaderAgentCredential carries an agent's presentation to a counterparty.
const HeaderAgentCredential = "Agent-Credential"

// HeaderReceipt carries the verifier's signed receipt of its decision back
// to the agent, on every answer the middleware gives after verifying.
const HeaderReceipt = "Agent-Credential-Receipt"

// HeaderApproval carries a person's approval (package approval) of the
// request it comes with, for an action that needs one.
const HeaderApproval = "Agent-Approval"

// MiddlewareOptions configures Middleware.
type MiddlewareOptions struct {
	// Audience is this service's identifier; the KB-JWT aud must equal it.
	Audience string
	// Nonces issued the nonces this service accepts; every KB-JWT nonce
	// must be one of them, unexpired and unused. Serve Nonces.Handler so
	// that agents can get one.
	Nonces *Nonces
	// Action maps a request to the action it needs (and its attributes,
	// e.g. amount and currency). Nil, or an empty action, means the request
	// needs only a verified credential.
	Action func(r *http.Request) (action string, attributes map[string]any)
	// Channel, when set, accepts requests signed with HTTP Message
	// Signatures (RFC 9421) by the key of a credential verified earlier or
	// presented in the same request (see Channel). Requests without a
	// Signature-Input header still need a presentation each.
	Channel *Channel
	// Limits, when set, applies per-principal and per-agent token buckets
	// to verified requests by the class of their action; a request over
	// its terms gets 429 with Retry-After. Nil uses the policy's
	// RateLimits (a class that does not validate fails Middleware).
	Limits *RateLimiter
	// Sink, when set, receives every receipt before the request is answered
	// (the counterparty's action log); a receipt it cannot record is a 500.
	// Receipts are made when the verifier has a signer (WithReceipts).
	Sink receipt.Sink
}

type resultKey struct{}

// ResultFrom returns the verification result the middleware stored.
func ResultFrom(ctx context.Context) (*Result, bool) {
	r, ok := ctx.Value(resultKey{}).(*Result)
	return r, ok
}

// Middleware puts v in front of next: each request must carry a presentation
// in the Agent-Credential header, bound to opts.Audience with a nonce from
// opts.Nonces. A presentation that does not verify is answered 401 with
// WWW-Authenticate and problem+json carrying the code; a verified agent
// whose action is denied gets 403. On success the *Result is in the request
// context (ResultFrom). When the verifier signs receipts (WithReceipts),
// every answer after a verification carries the receipt in the
// Agent-Credential-Receipt header, and the handler finds it in
// Result.Receipt; with Sink set, each is recorded before the answer.
//
// Options that cannot work are refused when the middleware is built: no
// verifier, a verifier built for offline inspection (Inspecting), no
// Audience, or no Nonces.
func Middleware(v *Verifier, opts MiddlewareOptions) (func(http.Handler) http.Handler, error) {
	switch {
	case v == nil:
		return nil, errors.New("verifier: Middleware needs a verifier")
	case v.Inspecting():
		return nil, errors.New("verifier: Middleware refuses a verifier built for offline inspection (WithPinnedIssuerKey, WithAnyIssuer)")
	case opts.Audience == "":
		return nil, errors.New("verifier: MiddlewareOptions.Audience is required")
	case opts.Nonces == nil:
		return nil, errors.New("verifier: MiddlewareOptions.Nonces is required")
	case opts.Channel != nil && opts.Channel.v != v:
		return nil, errors.New("verifier: MiddlewareOptions.Channel was made for another verifier")
	}
	if opts.Limits == nil && len(v.p.RateLimits) > 0 {
		l, err := NewRateLimiter(v.p.RateLimits, 0)
		if err != nil {
			return nil, err
		}
		opts.Limits = l
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if opts.Channel != nil && r.Header.Get("Signature-Input") != "" {
				opts.Channel.serve(w, r, next, &opts)
				return
			}
			pres := r.Header.Get(HeaderAgentCredential)
			if pres == "" {
				deny(w, http.StatusUnauthorized, errcode.KBMissing, "an Agent-Credential header with a presentation is required")
				return
			}
			req := Request{Presentation: pres, Audience: opts.Audience, RequireKB: true, Nonces: opts.Nonces, Approval: r.Header.Get(HeaderApproval)}
			if opts.Action != nil {
				req.Action, req.Attributes = opts.Action(r)
			}
			res := v.Verify(r.Context(), req)
			if res.Receipt != "" {
				if opts.Sink != nil {
					if err := record(r.Context(), opts.Sink, res.Receipt); err != nil {
						deny(w, http.StatusInternalServerError, errcode.Internal, "the receipt could not be recorded")
						return
					}
				}
				w.Header().Set(HeaderReceipt, res.Receipt)
			}
			if !res.Verified {
				deny(w, http.StatusUnauthorized, res.Error.Code, res.Error.Message)
				return
			}
			if res.Decision != nil && !res.Decision.Allowed {
				denyDecision(w, res.Decision)
				return
			}
			if !admit(w, v, &opts, req.Action, res) {
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), resultKey{}, res)))
		})
	}, nil
}

// record hands a receipt the verifier just signed to sink, with its claims.
func record(ctx context.Context, sink receipt.Sink, jwt string) error {
	c, err := receipt.Unverified(jwt)
	if err != nil {
		return err
	}
	return sink.Put(ctx, receipt.Record{Receipt: jwt, Claims: *c})
}

// denyDecision answers a denied action: 403 problem+json with the
// decision's code; an approval_required decision carries its approval
// request (member approval_request), which the agent has a person of its
// principal approve and sends back in the Agent-Approval header.
func denyDecision(w http.ResponseWriter, d *Decision) {
	var extra map[string]any
	if d.ApprovalRequest != nil {
		extra = map[string]any{"approval_request": d.ApprovalRequest}
	}
	denyWith(w, http.StatusForbidden, d.Code, d.Reason, extra)
}

func deny(w http.ResponseWriter, status int, code errcode.Code, detail string) {
	denyWith(w, status, code, detail, nil)
}

// denyWith is deny with extension members in the problem.
func denyWith(w http.ResponseWriter, status int, code errcode.Code, detail string, extra map[string]any) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `AgentCredential error="`+string(code)+`"`)
	}
	p := problem.New(status, code, detail)
	if len(extra) == 0 {
		problem.Write(w, p)
		return
	}
	b, _ := json.Marshal(p)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k, v := range extra {
		m[k] = v
	}
	problem.WriteJSON(w, status, problem.MediaType, m)
}

// Handler serves GET requests with a fresh nonce:
// {"nonce": "...", "expires_at": "RFC 3339"}.
func (n *Nonces) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			deny(w, http.StatusMethodNotAllowed, errcode.InvalidInput, "use GET")
			return
		}
		nonce, exp, err := n.Issue()
		if err != nil {
			deny(w, http.StatusInternalServerError, errcode.Internal, "could not make a nonce")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		problem.WriteJSON(w, http.StatusOK, "application/json", map[string]string{"nonce": nonce, "expires_at": exp.UTC().Format(time.RFC3339)})
	})
}
