// Package problem is the one renderer of RFC 9457 problem details
// (application/problem+json) with the project's stable code, used by the
// service (server) and by the verifier's middleware.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/agentcert/agentcert/errcode"
)

// MediaType is the media type of a problem details document.
const MediaType = "application/problem+json"

// Problem is an RFC 9457 problem details object with the stable code.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Code     errcode.Code `json:"code"`
	Instance string       `json:"instance,omitempty"`
	// RequestID is the request's X-Request-Id, to quote when reporting it.
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// FieldError names one failing JSON location of a request.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// New returns the problem for status and code, with type about:blank and
// the status text as title. detail must be safe to show.
func New(status int, code errcode.Code, detail string) Problem {
	return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

// statusOf is the HTTP status of each code that is not the client's
// mistake (those are 400 Bad Request). It is only read.
var statusOf = map[errcode.Code]int{
	errcode.Unauthorized: http.StatusUnauthorized,
	errcode.Forbidden:    http.StatusForbidden,
	errcode.NotFound:     http.StatusNotFound,
	errcode.Conflict:     http.StatusConflict,
	errcode.TooLarge:     http.StatusRequestEntityTooLarge,
	errcode.RateLimited:  http.StatusTooManyRequests,
	errcode.Overloaded:   http.StatusServiceUnavailable,
	errcode.Internal:     http.StatusInternalServerError,
	"":                   http.StatusInternalServerError,
	// The request was fine; something we depend on was not.
	errcode.FetchFailed:         http.StatusBadGateway,
	errcode.StatusUnavailable:   http.StatusBadGateway,
	errcode.DIDResolutionFailed: http.StatusBadGateway,
	// The request was fine and may be sent again once the store's storage
	// takes writes; reads are still served.
	errcode.StorageUnwritable: http.StatusServiceUnavailable,
	// The shared Redis (spent nonces, OpenID4VP requests) did not answer:
	// send the same request again later.
	errcode.NonceStoreUnavailable: http.StatusServiceUnavailable,
}

// StatusOf maps a code to the HTTP status it is served with, on every
// surface (the JSON API and the console's pages alike).
func StatusOf(c errcode.Code) int {
	if status, ok := statusOf[c]; ok {
		return status
	}
	return http.StatusBadRequest
}

// Write sends p with its status.
func Write(w http.ResponseWriter, p Problem) {
	WriteJSON(w, p.Status, MediaType, p)
}

// WriteJSON sends v as JSON of media type ctype with status, and tells
// browsers not to sniff it.
func WriteJSON(w http.ResponseWriter, status int, ctype string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a value no JSON can hold gets here: answer as the encoder
		// would have, with the status and no body.
		writeHeader(w, status, ctype)
		return
	}
	WriteEncoded(w, status, ctype, b)
}

// WriteEncoded is WriteJSON for a body already encoded (b, without the
// final newline, which it adds as json.Encoder does). The answer carries
// its Content-Length, so that it goes out in one piece, not chunked.
func WriteEncoded(w http.ResponseWriter, status int, ctype string, b []byte) {
	b = append(b, '\n')
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	writeHeader(w, status, ctype)
	_, _ = w.Write(b)
}

func writeHeader(w http.ResponseWriter, status int, ctype string) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
}
