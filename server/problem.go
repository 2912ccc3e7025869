package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/schemas"
)

// Problem is an RFC 9457 problem details object with agentcert's stable code.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Code     errcode.Code `json:"code"`
	Instance string       `json:"instance,omitempty"`
	// RequestID is the request's X-Request-Id, to quote when reporting it.
	RequestID string         `json:"request_id,omitempty"`
	Errors    []ProblemError `json:"errors,omitempty"`
}

// ProblemError names one failing JSON location of a request.
type ProblemError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// httpStatus maps a code to the status it is served with.
func httpStatus(c errcode.Code) int {
	switch c {
	case errcode.Unauthorized:
		return http.StatusUnauthorized
	case errcode.Forbidden:
		return http.StatusForbidden
	case errcode.NotFound:
		return http.StatusNotFound
	case errcode.Conflict:
		return http.StatusConflict
	case errcode.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errcode.RateLimited:
		return http.StatusTooManyRequests
	case errcode.Internal, "":
		return http.StatusInternalServerError
	case errcode.FetchFailed, errcode.StatusUnavailable, errcode.DIDResolutionFailed:
		// The request was fine; something we depend on was not.
		return http.StatusBadGateway
	}
	return http.StatusBadRequest
}

// writeError renders err as problem+json. Internal errors are logged and
// never shown; everything else shows only the error's safe message.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := errcode.CodeOf(err)
	status := httpStatus(code)
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Instance: r.URL.Path, RequestID: requestID(r.Context())}
	var e *errcode.Error
	if status >= 500 && code == errcode.Internal {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "request_id", p.RequestID, "err", err)
		p.Code = errcode.Internal
		p.Detail = "internal error"
	} else if errors.As(err, &e) {
		p.Detail = e.Message
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
	writeJSONType(w, status, "application/problem+json", p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONType(w, status, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, status int, ctype string, v any) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
