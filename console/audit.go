package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/apiwire"
	"github.com/agentcert/agentcert/internal/records"
)

type auditForm struct{ Actor, Action, Target, Since, Until string }

func (f auditForm) query() url.Values {
	return apiwire.Query(map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target, "since": f.Since, "until": f.Until})
}

// chainCheck is the outcome of recomputing the audit hash chain.
type chainCheck struct {
	Checked     int64
	FirstBroken int64 // 0: intact
	BrokenURL   string
}

type auditData struct {
	Form        auditForm
	Rows        []historyEntry
	Next, First string
	Check       *chainCheck
	CheckURL    string
}

// audit lists audit entries by filter; with check=1 it also recomputes
// the whole hash chain and names the first broken entry.
func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	form := auditForm{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Target: strings.TrimSpace(q.Get("target")), Since: q.Get("since"), Until: q.Get("until")}
	d := &auditData{Form: form}
	cq := form.query()
	cq.Set("check", "1")
	d.CheckURL = "/console/audit?" + cq.Encode()
	v := view{Title: "Audit log", Nav: "audit", Session: s, Data: d}
	show := func(err error) {
		c.failIn(w, r, "audit", v, err)
	}
	f := records.AuditFilter{Actor: form.Actor, Action: form.Action, Target: form.Target, Limit: pageSize}
	var err error
	if form.Since != "" {
		if f.Since, err = dateOrTime("since", form.Since, false); err != nil {
			show(err)
			return
		}
	}
	if form.Until != "" {
		if f.Until, err = dateOrTime("until", form.Until, true); err != nil {
			show(err)
			return
		}
	}
	if cur := q.Get("cursor"); cur != "" {
		if f.AfterSeq, err = strconv.ParseInt(cur, 10, 64); err != nil || f.AfterSeq < 0 {
			show(errcode.New(errcode.InvalidInput, "cursor must be a sequence number"))
			return
		}
	}
	if q.Get("check") == "1" {
		checked, broken, err := c.o.Store.VerifyAudit(r.Context())
		if err != nil {
			show(err)
			return
		}
		d.Check = &chainCheck{Checked: checked, FirstBroken: broken}
		if broken > 0 {
			d.Check.BrokenURL = "/console/audit?" + url.Values{"cursor": {strconv.FormatInt(broken-1, 10)}}.Encode()
		}
	}
	es, err := c.o.Store.Audit(r.Context(), f)
	if err != nil {
		show(err)
		return
	}
	for _, e := range es {
		d.Rows = append(d.Rows, readHistory(e))
	}
	if len(es) == pageSize {
		nq := form.query()
		nq.Set("cursor", strconv.FormatInt(es[len(es)-1].Seq, 10))
		d.Next = "/console/audit?" + nq.Encode()
	}
	if f.AfterSeq > 0 {
		d.First = "/console/audit?" + form.query().Encode()
	}
	c.render(w, r, http.StatusOK, "audit", v)
}
