package problem

import (
	"net/http"
	"testing"

	"github.com/agentcert/agentcert/errcode"
)

// TestStatusOf: a client's mistake is 400; what the service or what it
// depends on failed at is not.
func TestStatusOf(t *testing.T) {
	for code, want := range map[errcode.Code]int{
		errcode.InvalidInput:          http.StatusBadRequest,
		errcode.SchemaInvalid:         http.StatusBadRequest,
		errcode.NotFound:              http.StatusNotFound,
		errcode.Conflict:              http.StatusConflict,
		errcode.Internal:              http.StatusInternalServerError,
		"":                            http.StatusInternalServerError,
		errcode.FetchFailed:           http.StatusBadGateway,
		errcode.StorageUnwritable:     http.StatusServiceUnavailable,
		errcode.NonceStoreUnavailable: http.StatusServiceUnavailable,
		errcode.Overloaded:            http.StatusServiceUnavailable,
	} {
		if got := StatusOf(code); got != want {
			t.Errorf("StatusOf(%q) = %d, want %d", code, got, want)
		}
	}
}
