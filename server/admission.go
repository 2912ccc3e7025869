package server

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/admission"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/oid4vci"
	"github.com/agentcert/agentcert/oid4vp"
	"github.com/gorilla/mux"
)

// Route classes: every route belongs to exactly one, and each class has
// its own concurrency limit and queue (http.admission.<class>).
const (
	classVerify = "verify" // verification: the counterparties' traffic
	classIssue  = "issue"  // writes of credentials and their status
	classStatus = "status" // public, cacheable reads
	classAdmin  = "admin"  // management, audit and records
	classNever  = ""       // health, readiness and metrics: never shed
)

// routeClasses maps "METHOD template" of every route to its class. New
// refuses a router with a route missing here, so a new route cannot go
// unclassified.
func routeClasses() map[string]string {
	m := map[string]string{}
	add := func(class, method string, templates ...string) {
		for _, t := range templates {
			m[method+" "+t] = class
		}
	}
	get, post := http.MethodGet, http.MethodPost
	add(classNever, get, "/healthz", "/readyz", "/metrics")

	add(classVerify, post, "/v1/verify", "/v1/approvals/requests", "/v1/presentation-requests", oid4vp.ResponsePath+"{ref}")
	add(classVerify, get, "/v1/nonce", "/v1/presentation-requests/{id}", oid4vp.RequestPath+"{ref}")

	add(classIssue, post, "/v1/credentials", "/v1/credentials/{id}/{action:revoke|suspend|reinstate}", "/v1/revocations", "/v1/offers",
		oid4vci.TokenPath, oid4vci.NoncePath, oid4vci.CredentialPath)

	add(classStatus, get, "/openapi.yaml", "/vct/", "/.well-known/did.json", "/.well-known/jwt-vc-issuer", sigDirPath, "/statuslists/{id}",
		oid4vci.WellKnownIssuer, oid4vci.WellKnownAS, oid4vci.OfferPath+"{ref}")
	add(classStatus, http.MethodHead, "/statuslists/{id}")

	add(classAdmin, get, "/v1/credentials", "/v1/credentials/{id}", "/v1/audit", "/v1/incidents", "/v1/incidents/{id}", "/v1/admin/tokens", "/v1/admin/keys")
	add(classAdmin, post, "/v1/incidents", "/v1/incidents/{id}/resolve", "/v1/admin/tokens", "/v1/admin/keys/rotate", "/v1/admin/keys/retire")
	add(classAdmin, http.MethodDelete, "/v1/admin/tokens/{id}")
	return m
}

// admitter holds the limiters of every class and the per-token rate.
type admitter struct {
	retryAfter int                           // seconds
	classes    map[string]*admission.Limiter // by class
	routes     map[string]*admission.Limiter // by "METHOD template"; nil value: never shed
	names      map[*admission.Limiter]string // class of a limiter
	tokenRate  *admission.TokenRate          // nil: no per-token limit
}

func newAdmitter(cfg config.Admission) (*admitter, error) {
	a := &admitter{
		retryAfter: retrySeconds(cfg.RetryAfter),
		classes:    map[string]*admission.Limiter{},
		routes:     map[string]*admission.Limiter{},
		names:      map[*admission.Limiter]string{},
	}
	for class, c := range map[string]config.AdmissionClass{classVerify: cfg.Verify, classIssue: cfg.Issue, classStatus: cfg.Status, classAdmin: cfg.Admin} {
		l, err := admission.New(admission.Limits{
			MaxConcurrent: slots(c.MaxConcurrent, runtime.GOMAXPROCS(0)), MaxQueue: c.MaxQueue, QueueTimeout: c.QueueTimeout,
			OverloadAfter: cfg.OverloadAfter, OverloadWait: cfg.OverloadWait,
		})
		if err != nil {
			return nil, fmt.Errorf("server: http.admission.%s: %w", class, err)
		}
		a.classes[class], a.names[l] = l, class
	}
	for route, class := range routeClasses() {
		a.routes[route] = a.classes[class] // nil for classNever
	}
	if cfg.TokenRate > 0 {
		tr, err := admission.NewTokenRate(cfg.TokenRate, cfg.TokenBurst, 0)
		if err != nil {
			return nil, fmt.Errorf("server: http.admission.token_rate: %w", err)
		}
		a.tokenRate = tr
	}
	return a, nil
}

// slots is a class's max_concurrent: as configured, or for 0 one fewer
// than the procs the Go runtime runs code on (at least 1). A CPU-bound
// class given every core leaves none for what runs before admission
// (accepting, reading and routing requests, answering the shed ones), and
// its admitted requests then wait for the CPU behind the very load that is
// being shed.
func slots(configured, procs int) int {
	if configured > 0 {
		return configured
	}
	return max(1, procs-1)
}

// retrySeconds is d in whole seconds, rounded up, at least 1.
func retrySeconds(d time.Duration) int {
	s := math.Ceil(d.Seconds())
	if s < 1 {
		return 1
	}
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(s)
}

// checkRoutes returns an error naming every route of r that has no class.
func (a *admitter) checkRoutes(r *mux.Router) error {
	var missing []string
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if route.GetHandler() == nil {
			return nil // a subrouter's prefix
		}
		t, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			missing = append(missing, "(any method) "+t)
			return nil
		}
		for _, m := range methods {
			if _, ok := a.routes[m+" "+t]; !ok {
				missing = append(missing, m+" "+t)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("server: walk routes: %w", err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("server: routes without an admission class (add them to routeClasses in server/admission.go): %s", strings.Join(missing, ", "))
	}
	return nil
}

// limiter is the limiter of the request's route; nil when it is never
// shed. A route New did not see (none should exist) counts as admin, the
// smallest class.
func (a *admitter) limiter(r *http.Request) *admission.Limiter {
	cr := mux.CurrentRoute(r)
	if cr == nil {
		return a.classes[classAdmin]
	}
	t, err := cr.GetPathTemplate()
	if err != nil {
		return a.classes[classAdmin]
	}
	l, ok := a.routes[r.Method+" "+t]
	if !ok {
		return a.classes[classAdmin]
	}
	return l
}

// admit is the router middleware that sheds load: a request of a class
// whose slots are taken waits in its queue; past the queue bound, after
// the queue timeout, or when its client goes away, it is answered 503
// overloaded with Retry-After and never reaches the handler.
func (s *Server) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := s.admission.limiter(r)
		if l == nil {
			next.ServeHTTP(w, r)
			return
		}
		class := s.admission.names[l]
		info := reqInfoFrom(r.Context())
		if info != nil {
			info.class = class
		}
		tk, err := l.Acquire(r.Context())
		if err != nil {
			if info != nil {
				info.shed = true
			}
			reason := "queue_full"
			switch {
			case errors.Is(err, admission.ErrQueueTimeout):
				reason = "queue_timeout"
			case !errors.Is(err, admission.ErrQueueFull):
				reason = "client_gone" // nobody reads this answer
			}
			s.metrics.shed(class, reason)
			w.Header().Set("Retry-After", strconv.Itoa(s.admission.retryAfter))
			writeError(w, r, s.log, errcode.New(errcode.Overloaded, "the service is at capacity for %s requests; retry after %d s", class, s.admission.retryAfter))
			return
		}
		defer tk.Release()
		s.metrics.admit(class, tk.Queued)
		next.ServeHTTP(w, r)
	})
}

// tokenAllowed takes one request from the token's rate; when the token is
// over it, it answers 429 rate_limited with Retry-After and returns false.
func (s *Server) tokenAllowed(w http.ResponseWriter, r *http.Request, tokenID string) bool {
	if s.admission.tokenRate == nil {
		return true
	}
	ok, wait := s.admission.tokenRate.Allow(tokenID, time.Now())
	if ok {
		return true
	}
	class := "unclassified"
	if info := reqInfoFrom(r.Context()); info != nil {
		info.shed = true
		if info.class != "" {
			class = info.class
		}
	}
	s.metrics.shed(class, "token_rate")
	secs := retrySeconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, r, s.log, errcode.New(errcode.RateLimited, "this token is over its rate of requests; retry after %d s", secs))
	return false
}
