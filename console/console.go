package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/incident"
	"github.com/agentcert/agentcert/internal/problem"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/issuer"
	"github.com/gorilla/mux"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Store is the part of the issuer's store the console reads.
type Store interface {
	TokenByHash(ctx context.Context, hash []byte) (records.Token, error)
	Credential(ctx context.Context, id string) (records.Credential, error)
	Credentials(ctx context.Context, f records.CredentialFilter) ([]records.Credential, error)
	CredentialStats(ctx context.Context, since time.Time) (records.CredentialStats, error)
	StatusLists(ctx context.Context) ([]records.StatusList, error)
	Audit(ctx context.Context, f records.AuditFilter) ([]records.AuditEntry, error)
	VerifyAudit(ctx context.Context) (checked int64, firstBroken int64, err error)
	AppendAudit(ctx context.Context, a records.AuditEntry) (records.AuditEntry, error)

	// The sessions, shared by every node (store.ConsoleSessions).
	CreateConsoleSession(ctx context.Context, s records.ConsoleSession, limit int, idleSince, createdSince time.Time, a *records.AuditEntry) error
	ConsoleSession(ctx context.Context, key []byte) (records.ConsoleSession, error)
	TouchConsoleSession(ctx context.Context, key []byte, at time.Time) error
	DeleteConsoleSession(ctx context.Context, key []byte, a *records.AuditEntry) error
}

// Statuses changes credential statuses (issuer.Statuses).
type Statuses interface {
	Change(ctx context.Context, actor issuer.Actor, id, action string, req issuer.StatusRequest) (records.Credential, error)
	Bulk(ctx context.Context, actor issuer.Actor, req issuer.BulkRequest) (int, error)
}

// Incidents lists and resolves incidents (incident.Service).
type Incidents interface {
	List(ctx context.Context, f incident.Filter) ([]incident.Incident, error)
	Get(ctx context.Context, id string) (incident.Incident, error)
	Resolve(ctx context.Context, actor incident.Actor, id string, r incident.Resolution) (incident.Incident, error)
}

// Options wires the console.
type Options struct {
	Store     Store
	Statuses  Statuses
	Incidents Incidents // nil: no incidents pages
	// StatusURI is the URI a status list is served at.
	StatusURI func(listID string) string
	// PublicURL is the URL clients use; https makes the cookies Secure, and
	// its origin is the only one a form may be posted from.
	PublicURL   string
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// MaxSessions bounds the live sessions in the store, all nodes
	// together; 0 is DefaultMaxSessions. Sign-in is refused while that
	// many are live.
	MaxSessions int
	Logger      *slog.Logger
	Now         func() time.Time
	// Authenticated, when set, is told who a request's session belongs to
	// (the server's request log records it).
	Authenticated func(r *http.Request, tokenID, role string)
}

// Console serves the pages. It is safe for concurrent use.
type Console struct {
	o      Options
	secure bool
	origin string
	pages  map[string]*template.Template
	router *mux.Router
}

// New returns the console.
func New(o Options) (*Console, error) {
	if o.Store == nil || o.Statuses == nil || o.StatusURI == nil {
		return nil, errors.New("console: store, statuses and status URI are required")
	}
	if o.IdleTimeout <= 0 || o.MaxAge <= 0 {
		return nil, errors.New("console: idle timeout and max age must be positive")
	}
	if o.MaxSessions < 0 {
		return nil, errors.New("console: max sessions must not be negative")
	}
	if o.MaxSessions == 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Console{o: o}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("console: public URL %q is not a URL", o.PublicURL)
		}
		c.secure = u.Scheme == "https"
		c.origin = u.Scheme + "://" + u.Host
	}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"signin", "dashboard", "credentials", "credential", "bulk", "audit", "incidents", "incident", "error"}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

func (c *Console) routes() {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c.fail(w, req, nil, errcode.New(errcode.NotFound, "no such page"))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c.fail(w, req, nil, errcode.New(errcode.InvalidInput, "method %s not allowed here", req.Method))
	})
	sub, _ := fs.Sub(assetFS, "assets")
	r.PathPrefix("/console/assets/").Handler(http.StripPrefix("/console/assets/", http.FileServer(http.FS(sub)))).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/console/signin", c.signinForm).Methods(http.MethodGet)
	r.HandleFunc("/console/signin", c.signin).Methods(http.MethodPost)
	r.Handle("/console/signout", c.change(c.signout)).Methods(http.MethodPost)
	r.Handle("/console", c.read(c.dashboard)).Methods(http.MethodGet)
	r.HandleFunc("/console/", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/console", http.StatusSeeOther)
	}).Methods(http.MethodGet)
	r.Handle("/console/credentials", c.read(c.credentials)).Methods(http.MethodGet)
	r.Handle("/console/credentials/{id}", c.read(c.credential)).Methods(http.MethodGet)
	r.Handle("/console/credentials/{id}/status", c.change(c.auditorOnly(c.changeStatus))).Methods(http.MethodPost)
	r.Handle("/console/bulk", c.read(c.bulkForm)).Methods(http.MethodGet)
	r.Handle("/console/bulk", c.change(c.auditorOnly(c.bulk))).Methods(http.MethodPost)
	r.Handle("/console/audit", c.read(c.audit)).Methods(http.MethodGet)
	if c.o.Incidents != nil {
		r.Handle("/console/incidents", c.read(c.incidents)).Methods(http.MethodGet)
		r.Handle("/console/incidents/{id}", c.read(c.incident)).Methods(http.MethodGet)
		r.Handle("/console/incidents/{id}/resolve", c.change(c.auditorOnly(c.resolve))).Methods(http.MethodPost)
	}
	c.router = r
}

// Handler serves every path under /console.
func (c *Console) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin") // no-referrer would make browsers send Origin: null with forms
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		h.Set("Cache-Control", "no-store")
		if c.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		c.router.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows styles and images from this origin only, no
// script at all, forms posted here only, and no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string // the current section, for the navigation
	Session *session
	CSRF    string
	Error   string
	Notice  string
	Data    any
}

// render writes page name with status.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	if v.Session != nil {
		v.CSRF = v.Session.csrf
	}
	var buf bytes.Buffer
	if err := c.pages[name].Execute(&buf, v); err != nil {
		c.o.Logger.ErrorContext(r.Context(), "console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows err in the error page, with its status. Internal errors are
// logged and not shown.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status, msg := c.explain(r, err)
	c.render(w, r, status, "error", view{Title: http.StatusText(status), Session: s, Error: msg})
}

// failIn shows err in page name itself, above what v holds.
func (c *Console) failIn(w http.ResponseWriter, r *http.Request, name string, v view, err error) {
	status, msg := c.explain(r, err)
	v.Error = msg
	c.render(w, r, status, name, v)
}

// explain returns the status of err and the message safe to show.
func (c *Console) explain(r *http.Request, err error) (int, string) {
	code := errcode.CodeOf(err)
	status := problem.StatusOf(code)
	var e *errcode.Error
	if code == errcode.Internal || code == "" || !errors.As(err, &e) {
		c.o.Logger.ErrorContext(r.Context(), "console: request failed", "path", r.URL.Path, "request_id", records.RequestID(r.Context()), "err", err)
		return http.StatusInternalServerError, "Something went wrong on the server; the error is logged (request " + records.RequestID(r.Context()) + ")."
	}
	return status, e.Message
}

// seeOther redirects after a change, so that reloading does not repeat it.
func seeOther(w http.ResponseWriter, r *http.Request, path string, q url.Values) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// credentialPath is the console path of a credential's page.
func credentialPath(id string) string { return "/console/credentials/" + url.PathEscape(id) }

// incidentPath is the console path of an incident's page.
func incidentPath(id string) string { return "/console/incidents/" + url.PathEscape(id) }

var funcs = template.FuncMap{
	"credentialPath": credentialPath,
	"incidentPath":   incidentPath,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"timep": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"statusName": statusName,
	"join":       strings.Join,
}
