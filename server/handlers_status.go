package server

import (
	"context"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/agentcert/agentcert/incident"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
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
	// A field sent on several lines is one comma-separated list (RFC 9110
	// section 5.3): every line counts, not only the first.
	if format == "" && prefersVCJWT(strings.Join(r.Header.Values("Accept"), ",")) {
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
	// A cache may keep the token for what is left of its ttl, rounded
	// down, so that no copy outlives iat + ttl.
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(p.MaxAge.Seconds())))
	h.Set("Vary", "Accept")
	if etagMatches(strings.Join(r.Header.Values("If-None-Match"), ","), p.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(p.Token)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(p.Token))
	}
}

// etagMatches applies If-None-Match (RFC 9110 section 13.1.2): "*" or any
// listed entity tag equal to etag under weak comparison.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	if strings.TrimSpace(header) == "*" {
		return true
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, tag := range strings.Split(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == want {
			return true
		}
	}
	return false
}

// prefersVCJWT reports whether an Accept header ranks application/vc+jwt
// above the Status List Token's media type. Each type takes the weight of
// the most specific range that matches it (RFC 9110 section 12.5.1): for
// application/statuslist+jwt the type itself, then application/*, then
// */*; so "application/vc+jwt;q=0.5, */*" ranks the token first. The W3C
// form is chosen only when the header names application/vc+jwt itself:
// wildcards never select it.
func prefersVCJWT(accept string) bool {
	// best[0] is the weight of application/vc+jwt; best[1..3] those of
	// application/statuslist+jwt, application/* and */*; -1 when unnamed.
	best := [4]float64{-1, -1, -1, -1}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			// RFC 9110 12.4.2: a qvalue is 0 to 1; a range with any other
			// weight is malformed and ignored.
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f >= 0 && f <= 1) {
				continue
			}
			q = f
		}
		i := slices.Index([]string{mediaVCJWT, mediaStatusListJWT, "application/*", "*/*"}, mt)
		if i >= 0 && q > best[i] {
			best[i] = q
		}
	}
	token := 0.0
	for _, q := range best[1:] {
		if q >= 0 {
			token = q
			break
		}
	}
	return best[0] > 0 && best[0] > token
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
	s.statusChanged(c.Status)
	writeJSON(w, http.StatusOK, s.view(c))
}

// statusChanged is what follows every status change this server makes,
// whichever way it was asked for (API, console, incident resolution): it
// is counted, and the signatures directory no longer lists a revoked or
// suspended agent from the next request on.
func (s *Server) statusChanged(status uint8) {
	s.statusesChanged(status, 1)
}

// statusesChanged is statusChanged for n credentials changed to status at
// once (a bulk change).
func (s *Server) statusesChanged(status uint8, n int) {
	s.metrics.statusCh.WithLabelValues(revocation.StatusName(status)).Add(float64(n))
	s.sigDir.reset()
}

// bulkChanged follows a bulk change of n credentials: the statuses a
// dry run would change are not counted, nor is anything reset.
func (s *Server) bulkChanged(req issuer.BulkRequest, n int) {
	if req.DryRun {
		return
	}
	status := records.StatusSuspended
	if req.Action == "revoke" {
		status = records.StatusRevoked
	}
	s.statusesChanged(status, n)
}

// consoleStatuses is the status service as the console uses it: a change
// made there is followed by what follows the API's (statusChanged).
type consoleStatuses struct{ s *Server }

func (c consoleStatuses) Change(ctx context.Context, actor issuer.Actor, id, action string, req issuer.StatusRequest) (records.Credential, error) {
	cr, err := c.s.status.Change(ctx, actor, id, action, req)
	if err == nil {
		c.s.statusChanged(cr.Status)
	}
	return cr, err
}

func (c consoleStatuses) Bulk(ctx context.Context, actor issuer.Actor, req issuer.BulkRequest) (int, error) {
	n, err := c.s.status.Bulk(ctx, actor, req)
	if err == nil {
		c.s.bulkChanged(req, n)
	}
	return n, err
}

// consoleIncidents is the incident service as the console uses it: a
// resolution may change a status (even when closing the incident then
// fails), so the signatures directory is rebuilt, as after the API's.
type consoleIncidents struct {
	*incident.Service
	s *Server
}

func (c consoleIncidents) Resolve(ctx context.Context, actor incident.Actor, id string, r incident.Resolution) (incident.Incident, error) {
	in, err := c.Service.Resolve(ctx, actor, id, r)
	c.s.sigDir.reset()
	return in, err
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
	s.bulkChanged(req, n)
	writeJSON(w, http.StatusOK, map[string]any{"action": req.Action, "count": n, "dry_run": req.DryRun})
}
