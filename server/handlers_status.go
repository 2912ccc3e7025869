package server

import (
	"net/http"
	"strconv"

	"github.com/agentcert/agentcert/issuer"
	"github.com/gorilla/mux"
)

// Media types of the published status lists.
const (
	mediaStatusListJWT = "application/statuslist+jwt"
	mediaVCJWT         = "application/vc+jwt"
)

func (s *Server) statusList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, purpose := q.Get("format"), q.Get("purpose")
	if format == "" && r.Header.Get("Accept") == mediaVCJWT {
		format = "w3c"
	}
	if format == "w3c" && purpose == "" {
		purpose = "revocation"
	}
	p, err := s.status.Publish(r.Context(), mux.Vars(r)["id"], format, purpose)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	ctype := mediaStatusListJWT
	if format == "w3c" {
		ctype = mediaVCJWT
	}
	h := w.Header()
	h.Set("ETag", p.ETag)
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(p.TTL.Seconds())))
	h.Set("Vary", "Accept")
	if match := r.Header.Get("If-None-Match"); match != "" && match == p.ETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", ctype)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(p.Token))
}

func (s *Server) changeStatus(w http.ResponseWriter, r *http.Request) {
	var req issuer.StatusRequest
	if _, err := decodeBody(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	action := mux.Vars(r)["action"]
	c, err := s.status.Change(r.Context(), actorOf(r), mux.Vars(r)["id"], action, req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.metrics.statusCh.WithLabelValues(StatusName(c.Status)).Inc()
	writeJSON(w, http.StatusOK, s.view(c))
}

func (s *Server) bulkRevoke(w http.ResponseWriter, r *http.Request) {
	var req issuer.BulkRequest
	if _, err := decodeBody(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	n, err := s.status.Bulk(r.Context(), actorOf(r), req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"action": req.Action, "count": n, "dry_run": req.DryRun})
}
