package server

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/problem"
	"github.com/agentcert/agentcert/schemas"
)

// Problem is an RFC 9457 problem details object with agentcert's stable code.
type Problem = problem.Problem

// ProblemError names one failing JSON location of a request.
type ProblemError = problem.FieldError

// httpStatus maps a code to the status it is served with.
func httpStatus(c errcode.Code) int { return problem.StatusOf(c) }

// writeError renders err as problem+json. Internal errors are logged and
// never shown; everything else shows only the error's safe message. The
// log line names the route template, never the path's values (an offer's
// or a presentation request's reference is a secret).
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := errcode.CodeOf(err)
	status := httpStatus(code)
	p := problem.New(status, code, "")
	p.Instance, p.RequestID = r.URL.Path, requestID(r.Context())
	var e *errcode.Error
	if status >= 500 && code == errcode.Internal {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", routeOf(r), "request_id", p.RequestID, "err", err)
		p.Code = errcode.Internal
		p.Detail = "internal error"
	} else if errors.As(err, &e) {
		p.Detail = e.Message
	}
	if code == errcode.StorageUnwritable {
		// An operator has to free space or repair the file system.
		log.ErrorContext(r.Context(), "the store refuses writes", "method", r.Method, "route", routeOf(r), "request_id", p.RequestID, "err", err)
	}
	var ve *schemas.ValidationError
	if errors.As(err, &ve) {
		for _, pr := range ve.Problems {
			p.Errors = append(p.Errors, ProblemError{Path: pr.Path, Message: pr.Message})
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentcert"`)
	}
	problem.Write(w, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONType(w, status, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, status int, ctype string, v any) {
	problem.WriteJSON(w, status, ctype, v)
}
