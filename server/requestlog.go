package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/problem"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/gorilla/mux"
)

// RequestIDHeader carries a request's id: taken from the client when it is
// well formed, made up otherwise, and always returned.
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLen bounds an accepted X-Request-Id.
const MaxRequestIDLen = 128

// validRequestID accepts 1 to MaxRequestIDLen characters of letters,
// digits and - _ . : (enough for UUIDs, trace ids and most proxies' ids;
// nothing that could break a log line or a header).
func validRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// reqInfo is what the layers of one request learn about it, for its log
// line: the id at the start, the route when one matched, the token once
// authenticated.
type reqInfo struct {
	id      string
	route   string
	tokenID string
	role    string
	class   string // the route's admission class
	shed    bool   // refused by load shedding (503 overloaded or 429)
}

type reqInfoKey struct{}

func reqInfoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	return i
}

// requestID is the id of the request ctx belongs to, "" outside one.
func requestID(ctx context.Context) string {
	if i := reqInfoFrom(ctx); i != nil {
		return i.id
	}
	return ""
}

// logRequests wraps the whole router (404s and 405s included): it settles
// the request id, returns it in X-Request-Id, and writes one log line per
// request with method, route template, status, duration, bytes, request id
// and the token's id and role. Never the token itself, never the path's
// values or the query. A handler's panic is recovered (see
// serveRecovering), so that it is answered and logged as well.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		info := &reqInfo{id: id, route: "unmatched"}
		w.Header().Set(RequestIDHeader, id)
		rec := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		ctx := records.WithRequestID(context.WithValue(r.Context(), reqInfoKey{}, info), id)
		abort := s.serveRecovering(next, rec, r.WithContext(ctx))
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		if info.shed {
			level = slog.LevelWarn // expected under overload, and counted
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method),
			slog.String("route", info.route),
			slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("bytes", rec.bytes),
			slog.String("request_id", id),
			slog.String("token_id", info.tokenID),
			slog.String("role", info.role),
		)
		if abort {
			panic(http.ErrAbortHandler) // net/http closes the connection, as for any panic
		}
	})
}

// serveRecovering serves r with next, recovering from a panic: it is
// logged with its stack (the value may hold secrets, so it never reaches
// the client) and answered 500 internal when no answer has begun. It
// returns true when the connection must be aborted instead: the handler
// panicked with http.ErrAbortHandler, or after it began its answer (a cut
// answer must not pass for a whole one).
func (s *Server) serveRecovering(next http.Handler, w *countingWriter, r *http.Request) (abort bool) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			abort = true
			return
		}
		s.log.ErrorContext(r.Context(), "handler panicked", "method", r.Method, "route", routeOf(r), "request_id", requestID(r.Context()),
			"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if w.wroteHeader {
			abort = true
			return
		}
		p := problem.New(http.StatusInternalServerError, errcode.Internal, "internal error")
		p.Instance, p.RequestID = r.URL.Path, requestID(r.Context())
		problem.Write(w, p)
	}()
	next.ServeHTTP(w, r)
	return false
}

// routeOf is the route template of r for a log line ("unmatched" when no
// route matched): never the path itself, whose values may be secrets.
func routeOf(r *http.Request) string {
	if info := reqInfoFrom(r.Context()); info != nil {
		return info.route
	}
	return "unmatched"
}

// noteRoute records the matched route's template (a router middleware:
// it runs only for matched routes).
func noteRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := reqInfoFrom(r.Context()); info != nil {
			if cr := mux.CurrentRoute(r); cr != nil {
				if t, err := cr.GetPathTemplate(); err == nil {
					info.route = t
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// countingWriter records the status and the body bytes written.
type countingWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (c *countingWriter) WriteHeader(code int) {
	if !c.wroteHeader {
		c.status, c.wroteHeader = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.wroteHeader = true
	n, err := c.ResponseWriter.Write(b)
	c.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
