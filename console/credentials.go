package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/incident"
	"github.com/agentcert/agentcert/internal/apiwire"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
	"github.com/gorilla/mux"
)

func statusName(v uint8) string { return revocation.StatusName(v) }

// dateOrTime parses a form's date (2006-01-02, UTC midnight) or RFC 3339
// time; endOfDay moves a bare date to the next midnight, so that an
// "until" date includes its day.
func dateOrTime(name, v string, endOfDay bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	t, err := time.Parse(time.DateOnly, v)
	if err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
	} else if t, err = time.Parse(time.RFC3339, v); err != nil {
		return time.Time{}, errcode.New(errcode.InvalidInput, "%s must be a date (2006-01-02) or an RFC 3339 time", name)
	}
	return t, issuer.CheckTime(name, t)
}

// searchForm is the credential search as typed.
type searchForm struct {
	Subject, Principal, AgentClass, Status, IssuedFrom, IssuedUntil string
}

func (f searchForm) query() url.Values {
	return apiwire.Query(map[string]string{"subject": f.Subject, "principal": f.Principal, "agent_class": f.AgentClass, "status": f.Status, "issued_from": f.IssuedFrom, "issued_until": f.IssuedUntil})
}

func (f searchForm) filter() (records.CredentialFilter, error) {
	out := records.CredentialFilter{Subject: f.Subject, PrincipalID: f.Principal, AgentClass: f.AgentClass}
	var err error
	if f.IssuedFrom != "" {
		if out.IssuedAfter, err = dateOrTime("issued from", f.IssuedFrom, false); err != nil {
			return out, err
		}
	}
	if f.IssuedUntil != "" {
		if out.IssuedBefore, err = dateOrTime("issued until", f.IssuedUntil, true); err != nil {
			return out, err
		}
	}
	if f.Status != "" {
		st, ok := revocation.ParseStatusName(f.Status)
		if !ok {
			return out, errcode.New(errcode.InvalidInput, "status must be %s", revocation.StatusNames())
		}
		out.Status = &st
	}
	return out, nil
}

type credentialsData struct {
	Form     searchForm
	Statuses []string
	Rows     []records.Credential
	Next     string // the next page's URL, "" on the last
	First    string // the first page's URL, "" on it
}

func (c *Console) credentials(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	form := searchForm{Subject: strings.TrimSpace(q.Get("subject")), Principal: strings.TrimSpace(q.Get("principal")), AgentClass: strings.TrimSpace(q.Get("agent_class")),
		Status: q.Get("status"), IssuedFrom: q.Get("issued_from"), IssuedUntil: q.Get("issued_until")}
	d := credentialsData{Form: form, Statuses: []string{"valid", "suspended", "revoked"}}
	v := view{Title: "Credentials", Nav: "credentials", Session: s, Data: &d}
	f, err := form.filter()
	if err != nil {
		c.failIn(w, r, "credentials", v, err)
		return
	}
	f.AfterID, f.Limit = q.Get("cursor"), pageSize
	rows, err := c.o.Store.Credentials(r.Context(), f)
	if err != nil {
		c.failIn(w, r, "credentials", v, err)
		return
	}
	d.Rows = rows
	if len(rows) == pageSize {
		nq := form.query()
		nq.Set("cursor", rows[len(rows)-1].ID)
		d.Next = "/console/credentials?" + nq.Encode()
	}
	if f.AfterID != "" {
		d.First = "/console/credentials?" + form.query().Encode()
	}
	c.render(w, r, http.StatusOK, "credentials", v)
}

// historyEntry is one audit entry about a credential, with its details
// read out.
type historyEntry struct {
	records.AuditEntry
	From, To, Reason, Incident, Note string
	Bulk                             bool
	DetailsText                      string
}

type credentialData struct {
	C         records.Credential
	StatusURI string
	Issued    *historyEntry // the issuance entry: the claims as recorded
	Changes   []historyEntry
	Entries   []historyEntry
	Incidents []incident.Incident
	Reasons   []string
	Form      statusForm
}

type statusForm struct{ Action, Reason, Incident, Note string }

func readHistory(e records.AuditEntry) historyEntry {
	h := historyEntry{AuditEntry: e}
	var d map[string]any
	if json.Unmarshal(e.Details, &d) == nil {
		str := func(k string) string {
			switch v := d[k].(type) {
			case string:
				return v
			case float64:
				if v >= 0 && v <= 2 && v == float64(int(v)) {
					return statusName(uint8(v))
				}
			}
			return ""
		}
		h.From, h.To, h.Reason, h.Incident, h.Note = str("from"), str("to"), str("reason"), str("incident"), str("note")
		h.Bulk, _ = d["bulk"].(bool)
	}
	var buf bytes.Buffer
	if json.Indent(&buf, e.Details, "", "  ") == nil {
		h.DetailsText = buf.String()
	} else {
		h.DetailsText = string(e.Details)
	}
	return h
}

// loadCredential gathers a credential's page.
func (c *Console) loadCredential(r *http.Request, id string) (*credentialData, error) {
	cr, err := c.o.Store.Credential(r.Context(), id)
	if err != nil {
		if errcode.CodeOf(err) == errcode.NotFound {
			return nil, errcode.New(errcode.NotFound, "no credential %s", id)
		}
		return nil, err
	}
	d := &credentialData{C: cr, StatusURI: c.o.StatusURI(cr.ListID), Reasons: issuer.Reasons}
	es, err := c.o.Store.Audit(r.Context(), records.AuditFilter{Target: id, Limit: historySize})
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		h := readHistory(e)
		d.Entries = append(d.Entries, h)
		switch {
		case e.Action == "credential.issue":
			hc := h
			d.Issued = &hc
		case strings.HasPrefix(e.Action, "credential."):
			d.Changes = append(d.Changes, h)
		}
	}
	if c.o.Incidents != nil {
		if d.Incidents, err = c.o.Incidents.List(r.Context(), incident.Filter{CredentialID: id, Limit: pageSize}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (c *Console) credential(w http.ResponseWriter, r *http.Request, s *session) {
	id := mux.Vars(r)["id"]
	d, err := c.loadCredential(r, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := view{Title: "Credential " + id, Nav: "credentials", Session: s, Data: d}
	if done := r.URL.Query().Get("done"); done != "" {
		if past, ok := donePast[done]; ok {
			v.Notice = "The credential is " + past + "; its status list serves the change now."
		}
	}
	c.render(w, r, http.StatusOK, "credential", v)
}

var donePast = map[string]string{"suspend": "suspended", "revoke": "revoked", "reinstate": "reinstated"}

func (c *Console) changeStatus(w http.ResponseWriter, r *http.Request, s *session) {
	id := mux.Vars(r)["id"]
	form := statusForm{Action: r.PostForm.Get("action"), Reason: r.PostForm.Get("reason"), Incident: strings.TrimSpace(r.PostForm.Get("incident")), Note: strings.TrimSpace(r.PostForm.Get("note"))}
	_, err := c.o.Statuses.Change(r.Context(), issuer.Actor{TokenID: s.TokenID, Role: s.Role}, id, form.Action,
		issuer.StatusRequest{Reason: form.Reason, Incident: form.Incident, Note: form.Note})
	if err == nil {
		seeOther(w, r, credentialPath(id), url.Values{"done": {form.Action}})
		return
	}
	d, lerr := c.loadCredential(r, id)
	if lerr != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Form = form
	c.failIn(w, r, "credential", view{Title: "Credential " + id, Nav: "credentials", Session: s, Data: d}, err)
}

// bulkForm is the kill switch as typed.
type bulkForm struct {
	Action, Principal, AgentClass, Reason, Incident, Note string
}

type bulkData struct {
	Form    bulkForm
	Reasons []string
	// Preview is set after a dry run: how many would change, and a sample.
	Preview *bulkPreview
	Done    *int
}

type bulkPreview struct {
	Count  int
	Sample []records.Credential
}

func (c *Console) bulkForm(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, http.StatusOK, "bulk", view{Title: "Bulk revocation", Nav: "bulk", Session: s, Data: &bulkData{Form: bulkForm{Action: "revoke"}, Reasons: issuer.Reasons}})
}

// bulk previews (step=preview, a dry run) or applies (step=confirm) a bulk
// change. A confirmation whose count differs from a fresh dry run's is
// shown again as a preview instead: the set changed since.
func (c *Console) bulk(w http.ResponseWriter, r *http.Request, s *session) {
	p := r.PostForm
	form := bulkForm{Action: p.Get("action"), Principal: strings.TrimSpace(p.Get("principal")), AgentClass: strings.TrimSpace(p.Get("agent_class")),
		Reason: p.Get("reason"), Incident: strings.TrimSpace(p.Get("incident")), Note: strings.TrimSpace(p.Get("note"))}
	d := &bulkData{Form: form, Reasons: issuer.Reasons}
	v := view{Title: "Bulk revocation", Nav: "bulk", Session: s, Data: d}
	show := func(err error) {
		c.failIn(w, r, "bulk", v, err)
	}
	if form.Principal == "" && form.AgentClass == "" {
		show(errcode.New(errcode.InvalidInput, "name a principal or an agent class"))
		return
	}
	actor := issuer.Actor{TokenID: s.TokenID, Role: s.Role}
	req := issuer.BulkRequest{Action: form.Action, PrincipalID: form.Principal, AgentClass: form.AgentClass,
		StatusRequest: issuer.StatusRequest{Reason: form.Reason, Incident: form.Incident, Note: form.Note}}
	dry := req
	dry.DryRun = true
	n, err := c.o.Statuses.Bulk(r.Context(), actor, dry)
	if err != nil {
		show(err)
		return
	}
	if p.Get("step") == "confirm" {
		expect, perr := strconv.Atoi(p.Get("expect"))
		if perr == nil && expect == n && n > 0 {
			// The store counts again in the change's own transaction: a
			// credential issued or changed since this dry run refuses it.
			req.Expect = expect
			done, err := c.o.Statuses.Bulk(r.Context(), actor, req)
			switch {
			case errors.Is(err, records.ErrBulkChanged):
				if n, err = c.o.Statuses.Bulk(r.Context(), actor, dry); err != nil {
					show(err)
					return
				}
			case err != nil:
				show(err)
				return
			default:
				d.Done = &done
				v.Notice = strconv.Itoa(done) + " credentials changed (" + form.Action + ")."
				c.render(w, r, http.StatusOK, "bulk", v)
				return
			}
		}
		v.Error = "The matching credentials changed since the preview; check the new preview and confirm again."
	}
	sample, err := c.sample(r, form)
	if err != nil {
		show(err)
		return
	}
	d.Preview = &bulkPreview{Count: n, Sample: sample}
	status := http.StatusOK
	if v.Error != "" {
		status = http.StatusConflict
	}
	c.render(w, r, status, "bulk", v)
}

// sample returns up to sampleSize of the credentials a bulk change would
// touch: the valid ones, then (for a revocation) the suspended ones.
func (c *Console) sample(r *http.Request, form bulkForm) ([]records.Credential, error) {
	from := []uint8{records.StatusValid}
	if form.Action == "revoke" {
		from = append(from, records.StatusSuspended)
	}
	var out []records.Credential
	for _, st := range from {
		st := st
		rows, err := c.o.Store.Credentials(r.Context(), records.CredentialFilter{PrincipalID: form.Principal, AgentClass: form.AgentClass, Status: &st, Limit: sampleSize - len(out)})
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		if len(out) >= sampleSize {
			break
		}
	}
	return out, nil
}
