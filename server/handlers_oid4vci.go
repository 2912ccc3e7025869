package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/oid4vci"
	"github.com/agentcert/agentcert/verifier"
	"github.com/gorilla/mux"
)

// NewOID4VCI wires the OpenID4VCI flow over the issuer and its store, as
// `agentcert serve` does. Its secrets (pre-authorized code derivation, the
// c_nonce MAC) are derived from the key-encryption key, so that they
// survive restarts and are shared by every node of one issuer.
func NewOID4VCI(cfg config.Config, st oid4vci.State, svc *issuer.Service, kek []byte, resolver did.Resolver, now func() time.Time) (*oid4vci.Service, error) {
	if len(kek) < 16 {
		return nil, errors.New("server: oid4vci: the key-encryption key is too short")
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, kek)
		m.Write([]byte("agentcert oid4vci " + label))
		return m.Sum(nil)
	}
	// Spent c_nonces are recorded in the store (durable, shared by nodes).
	nonces, err := verifier.NewNonces([][]byte{derive("c_nonce")}, oid4vci.DefaultProofMaxAge, now, verifier.WithDurableSpending())
	if err != nil {
		return nil, fmt.Errorf("server: oid4vci nonces: %w", err)
	}
	// The metadata names the active key's algorithm, which key rotation
	// may change from the configured one.
	signingAlg := func() string {
		alg, err := keyutil.AlgOf(svc.Keys().Active())
		if err != nil {
			return ""
		}
		return alg.String()
	}
	return oid4vci.New(oid4vci.Config{
		CredentialIssuer: cfg.PublicURL, VCT: config.AgentCertificationVCT,
		SigningAlgs: []string{cfg.Issuer.KeyAlg}, SigningAlg: signingAlg, Leeway: cfg.Verifier.Leeway, Secret: derive("pre-authorized_code"),
	}, st, svc, nonces, resolver, now)
}

func (s *Server) oid4vciRoutes(r, api *mux.Router) {
	if s.vci == nil {
		return
	}
	r.HandleFunc(oid4vci.WellKnownIssuer, s.vciIssuerMetadata).Methods(http.MethodGet)
	r.HandleFunc(oid4vci.WellKnownAS, s.vciASMetadata).Methods(http.MethodGet)
	r.HandleFunc(oid4vci.OfferPath+"{ref}", s.vciOffer).Methods(http.MethodGet)
	r.HandleFunc(oid4vci.TokenPath, s.vciToken).Methods(http.MethodPost)
	r.HandleFunc(oid4vci.NoncePath, s.vciNonce).Methods(http.MethodPost)
	r.HandleFunc(oid4vci.CredentialPath, s.vciCredential).Methods(http.MethodPost)
	api.Handle("/offers", s.authenticate(tokens.RoleIssuer)(http.HandlerFunc(s.createOffer))).Methods(http.MethodPost)
}

func (s *Server) vciIssuerMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", wellKnownMaxAge)
	writeJSON(w, http.StatusOK, s.vci.Metadata())
}

func (s *Server) vciASMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", wellKnownMaxAge)
	writeJSON(w, http.StatusOK, s.vci.ASMetadata())
}

func (s *Server) createOffer(w http.ResponseWriter, r *http.Request) {
	var req oid4vci.OfferRequest
	if _, err := decodeBody(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	out, err := s.vci.CreateOffer(r.Context(), actorOf(r), req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) vciOffer(w http.ResponseWriter, r *http.Request) {
	offer, err := s.vci.OfferByRef(r.Context(), mux.Vars(r)["ref"])
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, offer)
}

func (s *Server) vciToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := parseForm(r, "the token request"); err != nil {
		s.vciError(w, r, oid4vci.TokenError, err)
		return
	}
	out, err := s.vci.Token(r.Context(), r.PostForm)
	if err != nil {
		s.vciError(w, r, oid4vci.TokenError, err)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) vciNonce(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	out, err := s.vci.Nonce()
	if err != nil {
		s.vciError(w, r, oid4vci.CredentialError, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) vciCredential(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		s.vciError(w, r, oid4vci.CredentialError, errcode.New(errcode.InvalidToken, "an access token from the token endpoint is required (Authorization: Bearer)"))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.vciError(w, r, oid4vci.CredentialError, errcode.New(errcode.InvalidCredentialRequest, "the credential request must be application/json"))
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.vciError(w, r, oid4vci.CredentialError, err)
		return
	}
	out, err := s.vci.Credential(r.Context(), strings.TrimSpace(tok), body)
	if err != nil {
		s.vciError(w, r, oid4vci.CredentialError, err)
		return
	}
	s.metrics.issued.Add(float64(len(out.Credentials)))
	writeJSON(w, http.StatusOK, out)
}

// vciError renders a protocol error as the specification asks: a JSON body
// with the OAuth error, beside agentcert's finer code. Faults of ours are
// logged and never shown.
func (s *Server) vciError(w http.ResponseWriter, r *http.Request, oauth func(errcode.Code) string, err error) {
	code := errcode.CodeOf(err)
	e := oid4vci.ErrorResponse{Error: oauth(code), Code: string(code)}
	status := http.StatusBadRequest
	var ce *errcode.Error
	switch {
	case code == errcode.StorageUnwritable:
		s.log.ErrorContext(r.Context(), "the store refuses writes", "route", routeOf(r), "err", err)
		status = http.StatusServiceUnavailable
		if errors.As(err, &ce) {
			e.Description = ce.Message
		}
	case e.Error == "server_error":
		s.log.ErrorContext(r.Context(), "oid4vci request failed", "route", routeOf(r), "err", err)
		status, e.Code, e.Description = http.StatusInternalServerError, string(errcode.Internal), "internal error"
	case e.Error == "invalid_token":
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		fallthrough
	default:
		if errors.As(err, &ce) {
			e.Description = ce.Message
		}
		if p, _, ok := strings.Cut(err.Error(), ": "); ok && strings.HasPrefix(p, "proof ") {
			e.Description = p + ": " + e.Description
		}
	}
	writeJSON(w, status, e)
}

// parseForm parses an application/x-www-form-urlencoded body (what names
// it in messages): invalid_request for another type or a form that does
// not parse, too_large beyond the body limit.
func parseForm(r *http.Request, what string) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return errcode.New(errcode.InvalidRequest, "%s must be application/x-www-form-urlencoded", what)
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errcode.New(errcode.TooLarge, "request body exceeds %d bytes", mbe.Limit)
		}
		return errcode.New(errcode.InvalidRequest, "%s's form does not parse", what)
	}
	return nil
}
