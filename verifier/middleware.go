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
	// that agents can get one. Its spent-nonce store also records the
	// approvals (Agent-Approval) used, so replicas that share it refuse an
	// approval another replica accepted.
	Nonces *Nonces
	// Action maps a request to the action it needs (and its attributes,
	// e.g. amount and currency). Nil, or an empty action, means the request
	// needs only a verified credential.
	Action func(r *http.Request) (action string, attributes map[string]any)
	// Channel, when set, accepts requests signed with HTTP Message
	// Signatures (RFC 9421) by the key of a credential verified earlier or
	// presented in the same request (see Channel), and made for one of its
	// ChannelOptions.Authorities (by default this Audience's host when it
	// is a URL). Requests without a Signature-Input header still need a
	// presentation each.
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
// every decision — served or refused, presented or signed on the agent
// channel — gets one receipt, in the Agent-Credential-Receipt header of the
// answer; the handler finds it in Result.Receipt; with Sink set, each is
// recorded before the answer.
//
// Options that cannot work are refused when the middleware is built: no
// verifier, a verifier built for offline inspection (Inspecting), no
// Audience, no Nonces, or a Channel without ChannelOptions.Authorities
// behind an Audience that is not an https:// or http:// URL.
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
	var authorities map[string]bool
	if opts.Channel != nil {
		var err error
		if authorities, err = opts.Channel.authoritiesFor(opts.Audience); err != nil {
			return nil, err
		}
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
			var d *decision
			if opts.Channel != nil && r.Header.Get("Signature-Input") != "" {
				d, r = opts.Channel.accept(r, &opts, authorities)
			} else {
				d = decidePresented(v, r, &opts)
			}
			if d.refused == nil {
				d.refused = limit(v, &opts, d.req.Action, d.res)
			}
			if d.refused == nil && d.res != nil && d.res.Decision != nil {
				// Within the limit: the approval that allowed the
				// action is used up now, not before.
				d.held.commit(r.Context(), d.res.Decision)
				if !d.res.Decision.Allowed {
					d.refused = refuseDecision(d.res.Decision)
				}
			}
			if v.s.receipts != nil {
				jwt, err := v.decisionReceipt(d)
				if err == nil && opts.Sink != nil {
					err = record(r.Context(), opts.Sink, jwt)
				}
				if err != nil {
					deny(w, http.StatusInternalServerError, errcode.Internal, "the receipt could not be made or recorded")
					return
				}
				w.Header().Set(HeaderReceipt, jwt)
				if d.res != nil {
					d.res.Receipt = jwt
				}
			}
			if d.refused != nil {
				d.refused.write(w, opts.Nonces)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), resultKey{}, d.res)))
		})
	}, nil
}

// decision is what the middleware concluded about one request, and what
// its receipt states.
type decision struct {
	req Request // what was asked; on a session request without Presentation
	// res is what verified, nil when nothing did; on success it goes to the
	// handler.
	res *Result
	// ref and credID are the presentation's reference and credential id
	// (on a session request, those of the presentation that opened it).
	ref, credID string
	channel     *receipt.Channel // the signed request, on the channel path
	refused     *refusal         // nil: the request is served
	// held is the spend of the approval that allowed the action, made
	// once the rate limit let the request through.
	held *heldSpend
}

// decidePresented is the middleware's path for a request with a
// presentation (and no signature).
func decidePresented(v *Verifier, r *http.Request, opts *MiddlewareOptions) *decision {
	pres := r.Header.Get(HeaderAgentCredential)
	d := &decision{req: Request{Presentation: pres, Audience: opts.Audience, RequireKB: true, Nonces: opts.Nonces, Approval: r.Header.Get(HeaderApproval)},
		ref: receipt.Reference(pres), credID: receipt.CredentialID(pres), held: &heldSpend{store: v.approvalSpent(opts.Nonces)}}
	d.req.spent = d.held
	if opts.Action != nil {
		d.req.Action, d.req.Attributes = opts.Action(r)
	}
	if pres == "" {
		d.ref = ""
		d.refused = refuse(http.StatusUnauthorized, errcode.KBMissing, "an Agent-Credential header with a presentation is required")
		return d
	}
	d.res = v.verify(r.Context(), d.req)
	switch {
	case !d.res.Verified:
		d.refused = &refusal{status: refusalStatus(d.res.Error.Code, http.StatusUnauthorized), err: errcode.New(d.res.Error.Code, "%s", d.res.Error.Message)}
	case d.res.Decision != nil && !d.res.Decision.Allowed:
		d.refused = refuseDecision(d.res.Decision)
	}
	return d
}

// decisionReceipt signs the receipt of d: what verified, and the answer
// given, which is an error when the request was refused.
func (v *Verifier) decisionReceipt(d *decision) (string, error) {
	res := d.res
	if res == nil {
		res = &Result{}
	}
	c, err := receiptClaims(d.req, res, v.policyDigest, d.ref, d.credID)
	if err != nil {
		return "", err
	}
	if d.refused != nil {
		c.Result, c.Error, c.ErrorDescription = receipt.Error, string(d.refused.err.Code), d.refused.err.Message
		if len(c.ErrorDescription) > maxReceiptDescription {
			c.ErrorDescription = c.ErrorDescription[:maxReceiptDescription]
		}
	}
	c.Channel = d.channel
	return v.s.receipts.Sign(c)
}

// record hands a receipt the verifier just signed to sink, with its claims.
func record(ctx context.Context, sink receipt.Sink, jwt string) error {
	c, err := receipt.Unverified(jwt)
	if err != nil {
		return err
	}
	return sink.Put(ctx, receipt.Record{Receipt: jwt, Claims: *c})
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
