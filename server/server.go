// Package server is agentcert's HTTP layer: the gorilla/mux router, bearer
// token authentication, body limits, problem+json errors, metrics and the
// handlers that translate HTTP to the issuer, revocation and verifier cores.
// It holds no business logic of its own.
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agentcert/agentcert/console"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/incident"
	"github.com/agentcert/agentcert/internal/admission"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/problem"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/oid4vci"
	"github.com/agentcert/agentcert/oid4vp"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/verifier"
	"github.com/gorilla/mux"
)

// Options wires a server. Store and Issuer are nil in verifier-only mode.
type Options struct {
	Config   config.Config
	Logger   *slog.Logger
	Store    store.Store
	Issuer   *issuer.Service
	Statuses *issuer.Statuses
	Schemas  *schemas.Registry
	Verifier *verifier.Verifier // nil when the verifier is disabled
	Nonces   *verifier.Nonces
	OID4VCI  *oid4vci.Service // nil when OpenID4VCI issuance is off
	OID4VP   *oid4vp.Service  // nil when OpenID4VP presentation requests are off
	Now      func() time.Time
	// Receipts is the verifier's receipt signer (its key is published in
	// the DID document); ReceiptSink, when set, records every receipt
	// /v1/verify makes. Incidents is nil without an issuer.
	Receipts    *receipt.Signer
	ReceiptSink receipt.Sink
	Incidents   *incident.Service
}

// Server is one agentcert HTTP server.
type Server struct {
	cfg        config.Config
	log        *slog.Logger
	store      store.Store
	tokens     TokenLookup
	tokenCache *tokenCache
	issuer     *issuer.Service
	schemas    *schemas.Registry
	now        func() time.Time
	metrics    *metrics
	router     *mux.Router
	status     *issuer.Statuses
	sigDir     sigDirCache

	verifier *verifier.Verifier
	nonces   *verifier.Nonces
	vci      *oid4vci.Service
	vp       *oid4vp.Service

	receipts     *receipt.Signer
	receiptSink  receipt.Sink
	incidents    *incident.Service
	console      http.Handler // nil when the console is off
	admission    *admitter
	conns        atomic.Pointer[admission.ConnLimiter] // set by Serve with http.max_connections
	keepAliveOff atomic.Bool                           // the connection bound is reached: no keep-alive

	readyAt atomic.Int64 // unix nanos of the last successful store check
}

// New builds the server and its routes.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{cfg: o.Config, log: o.Logger, store: o.Store, issuer: o.Issuer, schemas: o.Schemas, now: o.Now, metrics: newMetrics()}
	// Only this server writes a SQLite store's tokens while it runs (the
	// data directory lock keeps the offline CLI out), so its cache sees
	// every revocation. Nodes sharing a PostgreSQL store read the token on
	// every request, so that one revoked on any node is refused by all at
	// once.
	tokenTTL := o.Config.HTTP.TokenCacheTTL
	if o.Config.Store.URL != "" {
		tokenTTL = 0
	}
	s.tokenCache = newTokenCache(tokenTTL, o.Now)
	if o.Store != nil {
		s.tokens = o.Store
		if st, ok := o.Store.(interface{ Stats() store.Stats }); ok {
			s.metrics.watchStore(st)
		}
	}
	if o.Issuer != nil && o.Store == nil {
		return nil, errors.New("server: the issuer needs a store")
	}
	s.status = o.Statuses
	s.receipts, s.receiptSink, s.incidents = o.Receipts, o.ReceiptSink, o.Incidents
	if s.incidents != nil {
		// A resolution's status change is counted as the API's are.
		s.incidents.OnStatusChange(func(c records.Credential) { s.statusChanged(c.Status) })
	}
	s.vci, s.vp = o.OID4VCI, o.OID4VP
	if s.vp != nil {
		s.vp.OnPresentation(s.recordPresentation)
	}
	if o.OID4VP != nil && o.Verifier == nil {
		return nil, errors.New("server: OpenID4VP needs the verifier")
	}
	if o.OID4VCI != nil && o.Issuer == nil {
		return nil, errors.New("server: OpenID4VCI needs the issuer")
	}
	s.verifier, s.nonces = o.Verifier, o.Nonces
	if o.Verifier != nil && o.Nonces == nil {
		return nil, errors.New("server: the verifier needs a nonce service")
	}
	if o.Verifier != nil && o.Verifier.Inspecting() {
		return nil, errors.New("server: the verifier was built for offline inspection (a pinned issuer key or any issuer); a service trusts only its policy")
	}
	if o.Issuer != nil && o.Statuses == nil {
		return nil, errors.New("server: the issuer needs its status service")
	}
	adm, err := newAdmitter(o.Config.HTTP.Admission)
	if err != nil {
		return nil, err
	}
	s.admission = adm
	s.metrics.watchAdmission(adm)
	s.metrics.watchConns(&s.conns)
	if o.Issuer != nil && o.Config.Console.Enabled {
		if err := s.newConsole(); err != nil {
			return nil, err
		}
	}
	s.routes()
	if err := adm.checkRoutes(s.router); err != nil {
		return nil, err
	}
	return s, nil
}

// newConsole builds the auditor console over the issuer's services.
func (s *Server) newConsole() error {
	o := console.Options{
		Store: s.store, Statuses: consoleStatuses{s}, StatusURI: s.issuer.StatusURI, PublicURL: s.cfg.PublicURL,
		IdleTimeout: s.cfg.Console.IdleTimeout, MaxAge: s.cfg.Console.MaxAge, Logger: s.log, Now: s.now,
		Authenticated: func(r *http.Request, tokenID, role string) {
			if info := reqInfoFrom(r.Context()); info != nil {
				info.tokenID, info.role = tokenID, role
			}
		},
	}
	if s.incidents != nil {
		o.Incidents = consoleIncidents{s.incidents, s}
	}
	c, err := console.New(o)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	// Outside the router, the console counts in the admin admission class.
	s.console = s.metrics.instrumentAs(consoleRoute, s.admit(s.limitBody(c.Handler())))
	return nil
}

// consoleRoute is the console's route in metrics and request logs; its
// pages are served beside the API's router, not in it.
const consoleRoute = "/console"

// Router exposes the routes (for the OpenAPI agreement test).
func (s *Server) Router() *mux.Router { return s.router }

// Handler returns the root handler: the router behind the request log.
func (s *Server) Handler() http.Handler {
	if s.console == nil {
		return s.logRequests(s.router)
	}
	return s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == consoleRoute || strings.HasPrefix(r.URL.Path, consoleRoute+"/") {
			if info := reqInfoFrom(r.Context()); info != nil {
				info.route = consoleRoute
			}
			s.console.ServeHTTP(w, r)
			return
		}
		s.router.ServeHTTP(w, r)
	}))
}

func (s *Server) routes() {
	r := mux.NewRouter()
	r.Use(noteRoute, s.metrics.instrument, s.admit, s.limitBody)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// A path served for other methods is 405, wherever a subrouter
		// made the router give up on it.
		if allow := s.allowedMethods(req); len(allow) > 0 {
			s.methodNotAllowed(w, req, allow)
			return
		}
		writeError(w, req, s.log, errcode.New(errcode.NotFound, "no such endpoint"))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.methodNotAllowed(w, req, s.allowedMethods(req))
	})
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.Handle("/metrics", s.metrics.handler()).Methods(http.MethodGet)
	r.HandleFunc("/openapi.yaml", s.openapi).Methods(http.MethodGet)
	if s.schemas != nil {
		sub, err := fs.Sub(s.schemas.FS(), ".")
		if err == nil {
			r.PathPrefix("/vct/").Handler(http.StripPrefix("/vct/", s.filesOnly(http.FileServer(http.FS(sub)), sub))).Methods(http.MethodGet)
		}
	}
	if s.verifier != nil {
		var guard func(http.Handler) http.Handler = func(h http.Handler) http.Handler { return h }
		if s.cfg.Verifier.RequireToken {
			guard = s.authenticate()
		}
		r.Handle("/v1/verify", guard(http.HandlerFunc(s.verify))).Methods(http.MethodPost)
		r.Handle("/v1/nonce", guard(http.HandlerFunc(s.nonce))).Methods(http.MethodGet)
		s.oid4vpRoutes(r, guard)
		r.Handle("/v1/approvals/requests", guard(http.HandlerFunc(s.createApprovalRequest))).Methods(http.MethodPost)
	}
	if s.issuer == nil && s.receipts != nil && strings.HasPrefix(s.receipts.Issuer(), "did:web:") {
		r.HandleFunc("/.well-known/did.json", s.verifierDocument).Methods(http.MethodGet)
	}
	if s.issuer != nil {
		if s.cfg.Issuer.DIDMethod == "web" {
			r.HandleFunc("/.well-known/did.json", s.didDocument).Methods(http.MethodGet)
		}
		r.HandleFunc("/.well-known/jwt-vc-issuer", s.issuerMetadata).Methods(http.MethodGet)
		r.HandleFunc(sigDirPath, s.signaturesDirectory).Methods(http.MethodGet)
		r.HandleFunc("/statuslists/{id}", s.statusList).Methods(http.MethodGet, http.MethodHead)

		api := r.PathPrefix("/v1").Subrouter()
		api.Handle("/credentials", s.authenticate(tokens.RoleIssuer)(http.HandlerFunc(s.issueCredential))).Methods(http.MethodPost)
		api.Handle("/credentials", s.authenticate(tokens.RoleAuditor)(http.HandlerFunc(s.listCredentials))).Methods(http.MethodGet)
		api.Handle("/credentials/{id}", s.authenticate(tokens.RoleIssuer, tokens.RoleAuditor)(http.HandlerFunc(s.getCredential))).Methods(http.MethodGet)
		api.Handle("/credentials/{id}/{action:revoke|suspend|reinstate}", s.authenticate(tokens.RoleAuditor, tokens.RoleIssuer)(http.HandlerFunc(s.changeStatus))).Methods(http.MethodPost)
		api.Handle("/revocations", s.authenticate(tokens.RoleAuditor)(http.HandlerFunc(s.bulkRevoke))).Methods(http.MethodPost)
		api.Handle("/audit", s.authenticate(tokens.RoleAuditor)(http.HandlerFunc(s.audit))).Methods(http.MethodGet)
		if s.incidents != nil {
			api.Handle("/incidents", s.authenticate(tokens.RoleReporter)(http.HandlerFunc(s.reportIncident))).Methods(http.MethodPost)
			api.Handle("/incidents", s.authenticate(tokens.RoleAuditor)(http.HandlerFunc(s.listIncidents))).Methods(http.MethodGet)
			api.Handle("/incidents/{id}", s.authenticate(tokens.RoleAuditor)(http.HandlerFunc(s.getIncident))).Methods(http.MethodGet)
			api.Handle("/incidents/{id}/resolve", s.authenticate(tokens.RoleAuditor)(http.HandlerFunc(s.resolveIncident))).Methods(http.MethodPost)
		}
		api.Handle("/admin/tokens", s.authenticate(tokens.RoleAdmin)(http.HandlerFunc(s.createToken))).Methods(http.MethodPost)
		api.Handle("/admin/tokens", s.authenticate(tokens.RoleAdmin)(http.HandlerFunc(s.listTokens))).Methods(http.MethodGet)
		api.Handle("/admin/tokens/{id}", s.authenticate(tokens.RoleAdmin)(http.HandlerFunc(s.revokeToken))).Methods(http.MethodDelete)
		api.Handle("/admin/keys", s.authenticate(tokens.RoleAdmin)(http.HandlerFunc(s.listKeys))).Methods(http.MethodGet)
		api.Handle("/admin/keys/rotate", s.authenticate(tokens.RoleAdmin)(http.HandlerFunc(s.rotateKey))).Methods(http.MethodPost)
		api.Handle("/admin/keys/retire", s.authenticate(tokens.RoleAdmin)(http.HandlerFunc(s.retireKey))).Methods(http.MethodPost)
		s.oid4vciRoutes(r, api)
	}
	s.router = r
}

// probeMethods are the methods tried to find what a path allows.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods lists the methods some route serves req's path with.
func (s *Server) allowedMethods(req *http.Request) []string {
	var allow []string
	for _, m := range probeMethods {
		if m == req.Method {
			continue
		}
		probe := req.Clone(req.Context())
		probe.Method = m
		var match mux.RouteMatch
		if s.router.Match(probe, &match) && match.MatchErr == nil {
			allow = append(allow, m)
		}
	}
	return allow
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, req *http.Request, allow []string) {
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
	}
	p := problem.New(http.StatusMethodNotAllowed, errcode.InvalidInput, "method "+req.Method+" not allowed")
	p.Instance, p.RequestID = req.URL.Path, requestID(req.Context())
	problem.Write(w, p)
}

// limitBody caps every request body.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.HTTP.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.store != nil && time.Since(time.Unix(0, s.readyAt.Load())) > readyInterval {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			s.log.WarnContext(r.Context(), "store not ready", "err", err)
			p := problem.New(http.StatusServiceUnavailable, errcode.Internal, "store unreachable")
			p.RequestID = requestID(r.Context())
			problem.Write(w, p)
			return
		}
		s.readyAt.Store(time.Now().UnixNano())
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully:
// in-flight requests get ShutdownTimeout to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadTimeout:       s.cfg.HTTP.ReadTimeout,
		ReadHeaderTimeout: s.cfg.HTTP.ReadTimeout,
		WriteTimeout:      s.cfg.HTTP.WriteTimeout,
		IdleTimeout:       s.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if n := s.cfg.HTTP.MaxConnections; n > 0 {
		cl := admission.LimitConns(ln, n, func(full bool) {
			if full {
				s.metrics.connLimitReached.Inc()
			}
		})
		s.conns.Store(cl)
		ln = cl
		// At the bound every answer closes its connection, so that the
		// clients waiting in the backlog get their turn. (Closing idle
		// connections at once would race with clients reusing them: a
		// POST sent as the server closes is lost, not retried.)
		h := hs.Handler
		hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if cl.Full() {
				w.Header().Set("Connection", "close")
			}
			h.ServeHTTP(w, r)
		})
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}
