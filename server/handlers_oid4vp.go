package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/oid4vci"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/agentcert/agentcert/oid4vp"
	"github.com/gorilla/mux"
)

// NewOID4VP wires the verifier side of OpenID4VP, as `agentcert serve`
// does. Requests live in st (nil: this process's memory, never on disk; a
// store replicas share, such as internal/redisvp, lets a wallet answer any
// replica) for as long as a verifier nonce does, and their nonces are the
// verifier's single-use nonces, so a replay is caught wherever
// verifier.nonce_store reaches.
// With the verifier's DID (sig, whose private key is key) requests are
// signed under decentralized_identifier: with that key, as receipts are
// (typ oauth-authz-req+jwt keeps the two apart); without one only unsigned
// redirect_uri: requests are made. Without a public URL (nowhere for
// wallets to post) it returns nil: OpenID4VP is off.
//
// With verifier.presentation_callback each outcome is posted there as JSON
// through fetch (the outbound guard); a failed delivery is logged and the
// outcome stays for GET /v1/presentation-requests/{id}.
func NewOID4VP(cfg config.Config, st oid4vp.Store, v *verifier.Verifier, nonces *verifier.Nonces, sig *receipt.Signer, key jwk.Key, fetch *did.Fetcher, log *slog.Logger) (*oid4vp.Service, error) {
	if cfg.PublicURL == "" {
		return nil, nil
	}
	c := oid4vp.Config{
		BaseURL: cfg.PublicURL, RequestTTL: cfg.Verifier.NonceTTL,
		NewNonce: func() (string, error) { n, _, err := nonces.Issue(); return n, err },
	}
	if cb := cfg.Verifier.PresentationCallback; cb != "" {
		if fetch == nil || log == nil {
			return nil, errors.New("server: oid4vp: a callback needs a fetcher and a logger")
		}
		c.Notify = func(ctx context.Context, r *oid4vp.Result) bool {
			b, err := json.Marshal(r)
			if err == nil {
				_, err = fetch.Post(ctx, cb, "application/json", b, 0)
			}
			if err != nil {
				log.WarnContext(ctx, "presentation callback failed; the outcome stays for GET", "id", r.ID, "err", err)
				return false
			}
			return true
		}
	}
	if sig != nil && key != nil {
		k, err := key.Clone()
		if err == nil {
			err = k.Set(jwk.KeyIDKey, sig.PublicKey().KeyID())
		}
		if err != nil {
			return nil, fmt.Errorf("server: oid4vp: request object key: %w", err)
		}
		c.ClientDID, c.SigningKey = sig.Issuer(), k
	}
	if st == nil {
		st = oid4vp.NewMemoryStore(nil)
	}
	return oid4vp.New(c, st, v, nil)
}

func (s *Server) oid4vpRoutes(r *mux.Router, guard func(http.Handler) http.Handler) {
	if s.vp == nil {
		return
	}
	r.Handle("/v1/presentation-requests", guard(http.HandlerFunc(s.createPresentationRequest))).Methods(http.MethodPost)
	r.Handle("/v1/presentation-requests/{id}", guard(http.HandlerFunc(s.presentationResult))).Methods(http.MethodGet)
	r.HandleFunc(oid4vp.RequestPath+"{ref}", s.vpRequestObject).Methods(http.MethodGet)
	r.HandleFunc(oid4vp.ResponsePath+"{ref}", s.vpResponse).Methods(http.MethodPost)
}

func (s *Server) createPresentationRequest(w http.ResponseWriter, r *http.Request) {
	var req oid4vp.CreateRequest
	if _, err := decodeBody(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	out, err := s.vp.Create(r.Context(), req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if a := out.ApprovalRequest; a != nil {
		if err := s.auditApproval(r.Context(), "approval.request", a.Nonce, map[string]any{
			"action": a.Action, "digest": a.Digest, "audience": a.Audience, "principal": a.Principal, "subject": a.Subject,
			"expires_at": time.Unix(a.Expiry, 0).UTC(), "via": "openid4vp",
		}); err != nil {
			writeError(w, r, s.log, err)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

// recordPresentation records a presentation verified over OpenID4VP as
// /v1/verify records one: the approval it used or asked for in the
// issuer's audit log, its receipt in the receipt sink.
func (s *Server) recordPresentation(ctx context.Context, res *verifier.Result) error {
	if err := s.auditDecision(ctx, res); err != nil {
		return err
	}
	return s.recordReceipt(ctx, res)
}

func (s *Server) presentationResult(w http.ResponseWriter, r *http.Request) {
	res, err := s.vp.Result(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, res)
}

// vpError answers a wallet's request that failed with err as an OAuth
// error: 503 temporarily_unavailable, with agentcert's code, when the
// Redis of the requests or of the spent nonces does not answer (a fault of
// ours, not of the wallet's request), otherwise as vciError does.
func (s *Server) vpError(w http.ResponseWriter, r *http.Request, err error) {
	code := errcode.CodeOf(err)
	if code != errcode.NonceStoreUnavailable {
		s.vciError(w, r, oid4vp.ResponseError, err)
		return
	}
	s.log.WarnContext(r.Context(), "oid4vp: Redis does not answer", "route", routeOf(r), "err", err)
	e := oid4vci.ErrorResponse{Error: oid4vp.ResponseError(code), Code: string(code), Description: "the verifier's Redis is unavailable"}
	writeJSON(w, http.StatusServiceUnavailable, e)
}

// vpRequestObject serves a signed request object (request_uri); a wallet
// is answered an OAuth error, as at the response endpoint.
func (s *Server) vpRequestObject(w http.ResponseWriter, r *http.Request) {
	jwt, err := s.vp.RequestObject(r.Context(), mux.Vars(r)["ref"])
	if err != nil {
		s.vpError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", oid4vp.RequestObjectMediaType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(jwt))
}

// vpResponse is the response endpoint (direct_post and direct_post.jwt):
// 200 with an empty object when the presentation verified, otherwise an
// OAuth error (invalid_request) with agentcert's code beside it. The
// counterparty learns the outcome from GET /v1/presentation-requests/{id}.
func (s *Server) vpResponse(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := parseForm(r, "the authorization response"); err != nil {
		s.vpError(w, r, err)
		return
	}
	res, err := s.vp.Respond(r.Context(), mux.Vars(r)["ref"], r.PostForm)
	if res != nil {
		code := "ok"
		if res.Error != nil {
			code = string(res.Error.Code)
		}
		s.metrics.verified.WithLabelValues(code).Inc()
	}
	if err != nil {
		s.vpError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}
