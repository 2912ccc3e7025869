package server

import (
	"net/http"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/internal/problem"
	"github.com/agentcert/agentcert/verifier"
)

// verify answers 200 with the result for every verification outcome, and
// 400 only when the request itself is malformed. Body and answer are the
// verifier's own Request and Result, which the CLI sends and reads.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	req, err := decodeVerifyRequest(b)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if req.Presentation == "" {
		writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "presentation is required"))
		return
	}
	if req.Audience == "" && s.cfg.Verifier.RequireKB {
		writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "audience is required"))
		return
	}
	res := s.verifier.Verify(r.Context(), req)
	code := "ok"
	if res.Error != nil {
		code = string(res.Error.Code)
	}
	s.metrics.verified.WithLabelValues(code).Inc()
	if err := s.auditDecision(r.Context(), res); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if err := s.recordReceipt(r.Context(), res); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	// The result's own encoder: the bytes json.Encoder would write, without
	// reflection over the claims and without re-scanning them.
	out, err := res.AppendJSON(make([]byte, 0, 4096))
	if err != nil {
		writeError(w, r, s.log, errcode.Wrap(errcode.Internal, err, "the result does not encode"))
		return
	}
	problem.WriteEncoded(w, http.StatusOK, "application/json", out)
}

// decodeVerifyRequest decodes a POST /v1/verify body in one pass (the
// usual body by decodeVerifyBodyFast, any other by jsonstrict.DecodeValue,
// with every check decodeStrict applies) into the
// verifier's Request, refusing what decodeStrict refuses: a member that is
// not exactly one of Request's JSON names, a value of the wrong type.
func decodeVerifyRequest(b []byte) (verifier.Request, error) {
	if req, ok := decodeVerifyBodyFast(b); ok {
		return req, nil
	}
	var req verifier.Request
	v, err := jsonstrict.DecodeValue(b)
	if err != nil {
		return req, errcode.Wrap(errcode.InvalidInput, err, "request body: %s", err)
	}
	if v == nil {
		return req, nil // null, as encoding/json reads it
	}
	m, ok := v.(map[string]any)
	if !ok {
		return req, errcode.New(errcode.InvalidInput, "request body: the body is not a JSON object")
	}
	for name, val := range m {
		var dst *string
		switch name {
		case "presentation":
			dst = &req.Presentation
		case "audience":
			dst = &req.Audience
		case "nonce":
			dst = &req.Nonce
		case "action":
			dst = &req.Action
		case "approval":
			dst = &req.Approval
		case "request":
			if val == nil {
				continue
			}
			if req.Attributes, ok = val.(map[string]any); !ok {
				return req, errcode.New(errcode.InvalidInput, "request body: request must be a JSON object")
			}
			continue
		default:
			return req, errcode.New(errcode.InvalidInput, "request body: (root): unknown member %q", name)
		}
		if val == nil {
			continue
		}
		if *dst, ok = val.(string); !ok {
			return req, errcode.New(errcode.InvalidInput, "request body: %s must be a string", name)
		}
	}
	return req, nil
}

func (s *Server) nonce(w http.ResponseWriter, r *http.Request) {
	n, exp, err := s.nonces.Issue()
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"nonce": n, "expires_at": exp.UTC().Format(time.RFC3339)})
}
