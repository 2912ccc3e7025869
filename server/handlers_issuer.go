package server

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
	"github.com/gorilla/mux"
)

func (s *Server) issueCredential(w http.ResponseWriter, r *http.Request) {
	var req issuer.IssueRequest
	body, err := decodeBody(r, &req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "Idempotency-Key is longer than %d characters", maxIdempotencyKey))
		return
	}
	sum := sha256.Sum256(body)
	out, err := s.issuer.Issue(r.Context(), actorOf(r), req, key, sum[:])
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if !out.Replayed {
		s.metrics.issued.Inc()
	}
	w.Header().Set("Location", "/v1/credentials/"+out.ID)
	writeJSON(w, http.StatusCreated, out)
}

// credentialView is the public form of a credential record (never salts or
// disclosures: the store does not have them).
type credentialView struct {
	ID          string           `json:"id"`
	Subject     string           `json:"subject"`
	PrincipalID string           `json:"principal_id,omitempty"`
	AgentClass  string           `json:"agent_class,omitempty"`
	VCT         string           `json:"vct"`
	Status      string           `json:"status"`
	StatusList  issuer.StatusRef `json:"status_list"`
	IssuedAt    time.Time        `json:"issued_at"`
	ExpiresAt   time.Time        `json:"expires_at"`
	JWTSHA256   string           `json:"jwt_sha256"`
	IssuedBy    string           `json:"issued_by"`
	Reason      string           `json:"status_reason,omitempty"`
	Incident    string           `json:"status_incident,omitempty"`
	Note        string           `json:"status_note,omitempty"`
	ChangedAt   *time.Time       `json:"status_changed_at,omitempty"`
}

func (s *Server) view(c store.Credential) credentialView {
	return credentialView{
		ID: c.ID, Subject: c.Subject, PrincipalID: c.PrincipalID, AgentClass: c.AgentClass, VCT: c.VCT,
		Status: revocation.StatusName(c.Status), StatusList: issuer.StatusRef{Idx: c.Idx, URI: s.issuer.StatusURI(c.ListID)},
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt, JWTSHA256: fmt.Sprintf("%x", c.JWTHash), IssuedBy: c.TokenID,
		Reason: c.StatusReason, Incident: c.StatusIncident, Note: c.StatusNote, ChangedAt: c.StatusChangedAt,
	}
}

func (s *Server) getCredential(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	c, err := s.issuer.Get(r.Context(), id)
	if err == nil {
		// An issuer token reads the records it issued; others are not
		// its business (not found, so as not to confirm they exist).
		if tok, _ := tokenFrom(r.Context()); tok.Role == tokens.RoleIssuer && c.TokenID != tok.ID {
			err = errcode.New(errcode.NotFound, "no credential %s", id)
		}
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(c))
}

func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.CredentialFilter{Subject: q.Get("subject"), PrincipalID: q.Get("principal_id"), AgentClass: q.Get("agent_class"), AfterID: q.Get("cursor")}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), defaultPageSize, maxPageSize); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	for name, dst := range map[string]*time.Time{"issued_after": &f.IssuedAfter, "issued_before": &f.IssuedBefore} {
		if v := q.Get(name); v != "" {
			if *dst, err = timeParam(name, v); err != nil {
				writeError(w, r, s.log, err)
				return
			}
		}
	}
	if v := q.Get("status"); v != "" {
		st, ok := revocation.ParseStatusName(v)
		if !ok {
			writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "status must be %s", revocation.StatusNames()))
			return
		}
		f.Status = &st
	}
	cs, err := s.store.Credentials(r.Context(), f)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	out := struct {
		Credentials []credentialView `json:"credentials"`
		NextCursor  string           `json:"next_cursor,omitempty"`
	}{Credentials: []credentialView{}}
	for _, c := range cs {
		out.Credentials = append(out.Credentials, s.view(c))
	}
	if len(cs) == f.Limit {
		out.NextCursor = cs[len(cs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}
