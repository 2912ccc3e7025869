package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/apiwire"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/gorilla/mux"
)

func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target")}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), defaultPageSize, maxPageSize); err != nil {
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
			if *dst, err = timeParam(name, v); err != nil {
				writeError(w, r, s.log, err)
				return
			}
		}
	}
	es, err := s.store.Audit(r.Context(), f)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	out := apiwire.AuditPage{Entries: []apiwire.AuditEntry{}}
	for _, e := range es {
		d := e.Details
		if len(d) == 0 {
			d = json.RawMessage("{}")
		}
		out.Entries = append(out.Entries, apiwire.AuditEntry{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Details: d, Hash: fmt.Sprintf("%x", e.Hash)})
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
	secret, tok, err := tokens.Create(r.Context(), s.store, req.Role, req.Name, actorOf(r).TokenID, s.now())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": tok.ID, "role": tok.Role, "name": tok.Name, "token": secret})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	writeList(s, w, r, "tokens", s.store.Tokens, func(t store.Token) apiwire.Token {
		return apiwire.Token{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt}
	})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	now := s.now().UTC()
	err := s.store.RevokeToken(r.Context(), id, now, &store.AuditEntry{Time: now, Actor: actorOf(r).TokenID, Action: "token.revoke", Target: id, Details: records.AuditDetails(r.Context(), nil)})
	// Whatever the outcome (already revoked, say by the CLI), no cached
	// token outlives this answer.
	s.tokenCache.invalidate()
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = errcode.New(errcode.NotFound, "no token %s", id)
	case errors.Is(err, store.ErrConflict):
		err = errcode.New(errcode.Conflict, "token %s is already revoked", id)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	type view struct {
		KID       string          `json:"kid"`
		Alg       string          `json:"alg"`
		Active    bool            `json:"active"`
		CreatedAt time.Time       `json:"created_at"`
		RetiredAt *time.Time      `json:"retired_at,omitempty"`
		PublicJWK json.RawMessage `json:"public_jwk"`
	}
	writeList(s, w, r, "keys", s.store.Keys, func(k store.Key) view {
		return view{k.KID, k.Alg, k.Active, k.CreatedAt, k.RetiredAt, k.PublicJWK}
	})
}

// writeList answers a listing: every record list returns, as view shows
// it, under name (an empty list is [], never null).
func writeList[T, V any](s *Server, w http.ResponseWriter, r *http.Request, name string, list func(context.Context) ([]T, error), view func(T) V) {
	recs, err := list(r.Context())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	out := make([]V, 0, len(recs))
	for _, rec := range recs {
		out = append(out, view(rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{name: out})
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
