package server

import (
	"net/http"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/verifier"
)

// verify answers 200 with the result for every verification outcome, and
// 400 only when the request itself is malformed. Body and answer are the
// verifier's own Request and Result, which the CLI sends and reads.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	var req verifier.Request
	if _, err := decodeBody(r, &req); err != nil {
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
	if err := s.auditDecision(r.Context(), r, res); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if err := s.recordReceipt(r.Context(), res); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
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
