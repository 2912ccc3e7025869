package verifier

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// HeaderAgentCredential carries an agent's presentation to a counterparty.
const HeaderAgentCredential = "Agent-Credential"

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
	// its terms gets 429 with Retry-After.
	Limits *RateLimiter
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
// context (ResultFrom).
func Middleware(v *Verifier, opts MiddlewareOptions) func(http.Handler) http.Handler {
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
			if opts.Nonces == nil {
				deny(w, http.StatusUnauthorized, errcode.NonceInvalid, "this service issues no nonces")
				return
			}
			req := Request{Presentation: pres, Audience: opts.Audience, RequireKB: true, Nonces: opts.Nonces}
			if opts.Action != nil {
				req.Action, req.Attributes = opts.Action(r)
			}
			res := v.Verify(r.Context(), req)
			if !res.Verified {
				e := res.Errors[0]
				deny(w, http.StatusUnauthorized, e.Code, e.Message)
				return
			}
			if res.Decision != nil && !res.Decision.Allowed {
				deny(w, http.StatusForbidden, res.Decision.Code, res.Decision.Reason)
				return
			}
			if !admit(w, v, &opts, req.Action, res) {
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), resultKey{}, res)))
		})
	}
}

func deny(w http.ResponseWriter, status int, code errcode.Code, detail string) {
	denyWith(w, status, code, detail, nil)
}

// denyWith is deny with extension members in the problem.
func denyWith(w http.ResponseWriter, status int, code errcode.Code, detail string, extra map[string]any) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `AgentCredential error="`+string(code)+`"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	p := map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "code": code, "detail": detail}
	for k, v := range extra {
		p[k] = v
	}
	_ = json.NewEncoder(w).Encode(p)
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
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]string{"nonce": nonce, "expires_at": exp.UTC().Format(time.RFC3339)})
	})
}
