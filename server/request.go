package server

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/issuer"
)

// readBody reads the (already size-limited) body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errcode.New(errcode.TooLarge, "request body exceeds %d bytes", mbe.Limit)
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "read request body")
	}
	return b, nil
}

// decodeStrict decodes one JSON value into v through jsonstrict: unknown
// fields, duplicate members, members that differ only in case and numbers
// beyond its bounds are refused before anything is decoded, and numbers
// stay exact.
func decodeStrict(b []byte, v any) error {
	if err := jsonstrict.Decode(b, v); err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "request body: %s", err)
	}
	return nil
}

// timeParam parses an RFC 3339 query parameter; times before 1970 are
// refused (see issuer.CheckTime).
func timeParam(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errcode.New(errcode.InvalidInput, "%s must be RFC 3339", name)
	}
	return t, issuer.CheckTime(name, t)
}

func decodeBody(r *http.Request, v any) ([]byte, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return b, decodeStrict(b, v)
}

func actorOf(r *http.Request) issuer.Actor {
	t, _ := tokenFrom(r.Context())
	return issuer.Actor{TokenID: t.ID, Role: t.Role}
}

func intParam(v string, def, max int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, errcode.New(errcode.InvalidInput, "limit must be between 1 and %d", max)
	}
	return n, nil
}
