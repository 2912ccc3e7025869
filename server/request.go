package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/agentcert/agentcert/errcode"
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

// decodeStrict decodes one JSON value into v: unknown fields are refused
// and numbers stay exact.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errcode.New(errcode.InvalidInput, "request body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return errcode.New(errcode.InvalidInput, "request body: trailing data after the JSON value")
	}
	return nil
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
