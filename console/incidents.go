package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/agentcert/agentcert/incident"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/gorilla/mux"
)

type incidentsData struct {
	State       string
	Rows        []incident.Incident
	Next, First string
}

// incidents is the queue: open incidents first (state=open), or all.
func (c *Console) incidents(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	state := q.Get("state")
	if !q.Has("state") {
		state = records.IncidentOpen
	}
	d := &incidentsData{State: state}
	v := view{Title: "Incidents", Nav: "incidents", Session: s, Data: d}
	rows, err := c.o.Incidents.List(r.Context(), incident.Filter{State: state, AfterID: q.Get("cursor"), Limit: pageSize})
	if err != nil {
		c.failIn(w, r, "incidents", v, err)
		return
	}
	d.Rows = rows
	if len(rows) == pageSize {
		d.Next = "/console/incidents?" + url.Values{"state": {state}, "cursor": {rows[len(rows)-1].ID}}.Encode()
	}
	if q.Get("cursor") != "" {
		d.First = "/console/incidents?" + url.Values{"state": {state}}.Encode()
	}
	c.render(w, r, http.StatusOK, "incidents", v)
}

type incidentData struct {
	In        incident.Incident
	Decisions []string
	Form      incident.Resolution
}

func (c *Console) incident(w http.ResponseWriter, r *http.Request, s *session) {
	in, err := c.o.Incidents.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := view{Title: "Incident " + in.ID, Nav: "incidents", Session: s, Data: &incidentData{In: in, Decisions: incident.Decisions}}
	if r.URL.Query().Get("done") == "1" {
		v.Notice = "The incident is resolved (" + in.Decision + ")."
	}
	c.render(w, r, http.StatusOK, "incident", v)
}

// resolve decides an incident through incident.Service, which changes the
// credential's status through the status path first.
func (c *Console) resolve(w http.ResponseWriter, r *http.Request, s *session) {
	id := mux.Vars(r)["id"]
	form := incident.Resolution{Decision: r.PostForm.Get("decision"), Note: strings.TrimSpace(r.PostForm.Get("note"))}
	_, err := c.o.Incidents.Resolve(r.Context(), incident.Actor{TokenID: s.TokenID, Name: s.Name, Role: s.Role}, id, form)
	if err == nil {
		seeOther(w, r, incidentPath(id), url.Values{"done": {"1"}})
		return
	}
	in, gerr := c.o.Incidents.Get(r.Context(), id)
	if gerr != nil {
		c.fail(w, r, s, err)
		return
	}
	c.failIn(w, r, "incident", view{Title: "Incident " + id, Nav: "incidents", Session: s, Data: &incidentData{In: in, Decisions: incident.Decisions, Form: form}}, err)
}
