package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/issuer"
	"github.com/gorilla/mux"
	"github.com/lestrrat-go/jwx/v2/jwk"
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

func (s *Server) issueCredential(w http.ResponseWriter, r *http.Request) {
	var req issuer.IssueRequest
	body, err := decodeBody(r, &req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "Idempotency-Key is longer than 255 characters"))
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

// StatusName names a status value.
func StatusName(v uint8) string {
	switch v {
	case store.StatusValid:
		return "valid"
	case store.StatusRevoked:
		return "revoked"
	case store.StatusSuspended:
		return "suspended"
	}
	return "status_" + strconv.Itoa(int(v))
}

func (s *Server) view(c store.Credential) credentialView {
	return credentialView{
		ID: c.ID, Subject: c.Subject, PrincipalID: c.PrincipalID, AgentClass: c.AgentClass, VCT: c.VCT,
		Status: StatusName(c.Status), StatusList: issuer.StatusRef{Idx: c.Idx, URI: s.issuer.StatusURI(c.ListID)},
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
		if tok, _ := tokenFrom(r.Context()); tok.Role == RoleIssuer && c.TokenID != tok.ID {
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
	if f.Limit, err = intParam(q.Get("limit"), 100, 1000); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if v := q.Get("issued_before"); v != "" {
		if f.IssuedBefore, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "issued_before must be RFC 3339"))
			return
		}
	}
	if v := q.Get("status"); v != "" {
		st, ok := map[string]uint8{"valid": 0, "revoked": 1, "suspended": 2}[v]
		if !ok {
			writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "status must be valid, revoked or suspended"))
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

func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target")}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), 100, 1000); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if v := q.Get("cursor"); v != "" {
		if f.AfterSeq, err = strconv.ParseInt(v, 10, 64); err != nil || f.AfterSeq < 0 {
			writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "cursor must be a sequence number"))
			return
		}
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			if *dst, err = time.Parse(time.RFC3339, v); err != nil {
				writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "%s must be RFC 3339", name))
				return
			}
		}
	}
	es, err := s.store.Audit(r.Context(), f)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	type entry struct {
		Seq     int64           `json:"seq"`
		Time    time.Time       `json:"time"`
		Actor   string          `json:"actor"`
		Action  string          `json:"action"`
		Target  string          `json:"target"`
		Details json.RawMessage `json:"details"`
		Hash    string          `json:"hash"`
	}
	out := struct {
		Entries    []entry `json:"entries"`
		NextCursor string  `json:"next_cursor,omitempty"`
	}{Entries: []entry{}}
	for _, e := range es {
		d := e.Details
		if len(d) == 0 {
			d = json.RawMessage("{}")
		}
		out.Entries = append(out.Entries, entry{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Details: d, Hash: fmt.Sprintf("%x", e.Hash)})
	}
	if len(es) == f.Limit {
		out.NextCursor = strconv.FormatInt(es[len(es)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Role string `json:"role"`
		Name string `json:"name"`
	}
	if _, err := decodeBody(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	secret, tok, err := CreateToken(r.Context(), s.store, req.Role, req.Name, actorOf(r).TokenID, s.now())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": tok.ID, "role": tok.Role, "name": tok.Name, "token": secret})
}

// CreateToken makes and stores a token with an audit entry; the secret is
// returned once and only its hash is kept.
func CreateToken(ctx context.Context, st store.Store, role, name, actor string, now time.Time) (string, store.Token, error) {
	if !ValidRole(role) {
		return "", store.Token{}, errcode.New(errcode.InvalidInput, "role must be admin, issuer or auditor")
	}
	secret, id, hash := NewToken()
	t := store.Token{ID: id, Name: name, Role: role, Hash: hash, CreatedAt: now.UTC()}
	details, _ := json.Marshal(map[string]string{"role": role, "name": name})
	if err := st.CreateToken(ctx, t, &store.AuditEntry{Time: now.UTC(), Actor: actor, Action: "token.create", Target: id, Details: details}); err != nil {
		return "", store.Token{}, err
	}
	return secret, t, nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.store.Tokens(r.Context())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	type view struct {
		ID        string     `json:"id"`
		Name      string     `json:"name"`
		Role      string     `json:"role"`
		CreatedAt time.Time  `json:"created_at"`
		RevokedAt *time.Time `json:"revoked_at,omitempty"`
	}
	out := []view{}
	for _, t := range ts {
		out = append(out, view{t.ID, t.Name, t.Role, t.CreatedAt, t.RevokedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	now := s.now().UTC()
	err := s.store.RevokeToken(r.Context(), id, now, &store.AuditEntry{Time: now, Actor: actorOf(r).TokenID, Action: "token.revoke", Target: id, Details: json.RawMessage("{}")})
	if errors.Is(err, store.ErrNotFound) {
		err = errcode.New(errcode.NotFound, "no token %s", id)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := s.store.Keys(r.Context())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	type view struct {
		KID       string          `json:"kid"`
		Alg       string          `json:"alg"`
		Active    bool            `json:"active"`
		CreatedAt time.Time       `json:"created_at"`
		RetiredAt *time.Time      `json:"retired_at,omitempty"`
		PublicJWK json.RawMessage `json:"public_jwk"`
	}
	out := []view{}
	for _, k := range ks {
		out = append(out, view{k.KID, k.Alg, k.Active, k.CreatedAt, k.RetiredAt, k.PublicJWK})
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Alg string `json:"alg"`
	}
	body, err := readBody(r)
	if err == nil && len(bytes.TrimSpace(body)) > 0 {
		err = decodeStrict(body, &req)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if req.Alg == "" {
		req.Alg = s.cfg.Issuer.KeyAlg
	}
	alg, err := keyutil.ParseAlg(req.Alg)
	if err != nil {
		writeError(w, r, s.log, errcode.Wrap(errcode.InvalidInput, err, "alg must be ES256 or EdDSA"))
		return
	}
	kid, err := s.issuer.Keys().Rotate(r.Context(), alg, actorOf(r).TokenID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"kid": kid})
}

func (s *Server) retireKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		KID string `json:"kid"`
	}
	if _, err := decodeBody(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if req.KID == "" {
		writeError(w, r, s.log, errcode.New(errcode.InvalidInput, "kid is required"))
		return
	}
	if err := s.issuer.Keys().Retire(r.Context(), req.KID, actorOf(r).TokenID); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) publicKeys() []jwk.Key { return s.issuer.Keys().PublicKeys() }

func (s *Server) didDocument(w http.ResponseWriter, r *http.Request) {
	doc, err := did.NewWebDocument(s.issuer.Keys().Issuer(), s.publicKeys())
	if err != nil {
		// The key ring is ours: a document we cannot build is our fault.
		writeError(w, r, s.log, errcode.Wrap(errcode.Internal, err, "build the issuer DID document"))
		return
	}
	w.Header().Set("Cache-Control", "max-age=60")
	writeJSONType(w, http.StatusOK, "application/did+json", doc)
}

func (s *Server) issuerMetadata(w http.ResponseWriter, r *http.Request) {
	set := jwk.NewSet()
	for _, k := range s.publicKeys() {
		if err := set.AddKey(k); err != nil {
			writeError(w, r, s.log, err)
			return
		}
	}
	w.Header().Set("Cache-Control", "max-age=60")
	writeJSON(w, http.StatusOK, map[string]any{"issuer": s.issuer.Keys().Issuer(), "jwks": set})
}
