package server

import (
	"net/http"

	"github.com/agentcert/agentcert/incident"
	"github.com/gorilla/mux"
)

func incidentActor(r *http.Request) incident.Actor {
	t, _ := tokenFrom(r.Context())
	return incident.Actor{TokenID: t.ID, Name: t.Name, Role: t.Role}
}

// reportIncident answers 201 with the incident; every receipt must verify
// and name a credential of this issuer.
func (s *Server) reportIncident(w http.ResponseWriter, r *http.Request) {
	var req incident.Report
	if _, err := decodeBody(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	in, err := s.incidents.Report(r.Context(), incidentActor(r), req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.Header().Set("Location", "/v1/incidents/"+in.ID)
	writeJSON(w, http.StatusCreated, in)
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := incident.Filter{CredentialID: q.Get("credential_id"), PrincipalID: q.Get("principal_id"), State: q.Get("state"), AfterID: q.Get("cursor")}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), defaultPageSize, maxPageSize); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	ins, err := s.incidents.List(r.Context(), f)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	out := struct {
		Incidents  []incident.Incident `json:"incidents"`
		NextCursor string              `json:"next_cursor,omitempty"`
	}{Incidents: ins}
	if len(ins) == f.Limit {
		out.NextCursor = ins[len(ins)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	in, err := s.incidents.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, in)
}

func (s *Server) resolveIncident(w http.ResponseWriter, r *http.Request) {
	var req incident.Resolution
	if _, err := decodeBody(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	in, err := s.incidents.Resolve(r.Context(), incidentActor(r), mux.Vars(r)["id"], req)
	// A status may have changed, even when closing the incident failed.
	s.sigDir.reset()
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, in)
}
