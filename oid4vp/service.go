package oid4vp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/oid4vp/dcql"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

var b64 = base64.RawURLEncoding

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// Verifier is the part of the verifier the flow needs.
type Verifier interface {
	Verify(ctx context.Context, req verifier.Request) *verifier.Result
}

// Defaults and bounds of Config.
const (
	DefaultRequestTTL = 5 * time.Minute
	MaxRequestTTL     = time.Hour
	DefaultMaxPending = 10000
)

// Endpoints, relative to the base URL.
const (
	RequestPath  = "/oid4vp/requests/"  // + the request's reference: the request object
	ResponsePath = "/oid4vp/responses/" // + the request's reference: direct_post
)

// EncValues are the content encryptions accepted for direct_post.jwt.
var EncValues = []string{jwa.A128GCM.String(), jwa.A256GCM.String()}

// Config holds the verifier side's settings.
type Config struct {
	BaseURL string // the service's public URL
	// ClientDID and SigningKey (a private JWK whose kid is a DID URL of
	// ClientDID) sign request objects under the decentralized_identifier:
	// prefix. Without them only unsigned redirect_uri: requests are made.
	ClientDID  string
	SigningKey jwk.Key
	RequestTTL time.Duration // how long a request may be answered; default 5 minutes, at most an hour
	MaxPending int           // requests kept at once; default 10000
	// NewNonce makes a request's nonce (the verifier's single-use nonces,
	// so that a replay is caught wherever the nonce store reaches); nil:
	// 128 random bits.
	NewNonce func() (string, error)
	// Notify, when set, is handed each outcome as it is recorded (the
	// counterparty's callback); when it reports delivery, the outcome is
	// forgotten instead of waiting to be fetched.
	Notify func(ctx context.Context, r *Result) bool
	// Algorithms of the presentations' signatures advertised in
	// vp_formats_supported; default ES256, EdDSA.
	Algorithms []jwa.SignatureAlgorithm
}

// Service is the verifier side of OpenID4VP: it makes authorization
// requests, serves their request objects, checks responses and keeps the
// result for the counterparty to fetch once. It is safe for concurrent use.
type Service struct {
	cfg    Config
	store  Store
	v      Verifier
	now    func() time.Time
	record func(ctx context.Context, r *verifier.Result) error
}

// OnPresentation sets record, which Respond hands the verifier's result of
// each presentation of a response (the audit log and receipt sink of an
// agentcert server: an approval's use is recorded as /v1/verify records
// it) before the outcome is stored; an error fails the response
// (internal), so that nothing is allowed unrecorded. Call it before the
// service is used.
func (s *Service) OnPresentation(record func(ctx context.Context, r *verifier.Result) error) {
	s.record = record
}

// New returns the verifier side over a store of pending requests.
func New(cfg Config, st Store, v Verifier, now func() time.Time) (*Service, error) {
	if cfg.BaseURL == "" || st == nil || v == nil {
		return nil, errors.New("oid4vp: the base URL, a store and a verifier are required")
	}
	if (cfg.ClientDID == "") != (cfg.SigningKey == nil) {
		return nil, errors.New("oid4vp: the client DID and the signing key go together")
	}
	if cfg.SigningKey != nil && !strings.HasPrefix(cfg.SigningKey.KeyID(), cfg.ClientDID+"#") {
		return nil, errors.New("oid4vp: the signing key's kid must be a DID URL of the client DID")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.RequestTTL <= 0 {
		cfg.RequestTTL = DefaultRequestTTL
	}
	cfg.RequestTTL = min(cfg.RequestTTL, MaxRequestTTL)
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = jose.DefaultAlgorithms()
	}
	if now == nil {
		now = time.Now
	}
	return &Service{cfg: cfg, store: st, v: v, now: now}, nil
}

// CreateRequest is the body of POST /v1/presentation-requests.
type CreateRequest struct {
	DCQLQuery json.RawMessage `json:"dcql_query"`
	// TransactionData are JSON objects (type, credential_ids, ...), sent
	// base64url-encoded and bound by the wallet into the KB-JWT.
	TransactionData []json.RawMessage `json:"transaction_data,omitempty"`
	ResponseMode    string            `json:"response_mode,omitempty"`    // direct_post (default) or direct_post.jwt
	ClientIDPrefix  string            `json:"client_id_prefix,omitempty"` // decentralized_identifier (default with a DID) or redirect_uri
	// Action, when set, is authorized against the presentation of
	// credential query ActionCredential (default: the first one), with
	// Attributes as the request's attributes.
	Action           string         `json:"action,omitempty"`
	ActionCredential string         `json:"action_credential,omitempty"`
	Attributes       map[string]any `json:"request,omitempty"`
	ExpiresIn        int64          `json:"expires_in,omitempty"` // seconds; default and cap: the service's request TTL
	// Approval, with Action, asks a person's approval of the action: the
	// service adds an agentcert_approval transaction data entry for the
	// action credential (see ApprovalAsk), and the presentation must carry
	// the approval in its KB-JWT.
	Approval *ApprovalAsk `json:"approval,omitempty"`
}

// Created is the answer to a CreateRequest: the request by value (the
// parameters, and the signed request object when signed) and by
// reference, and the link a wallet is given.
type Created struct {
	ID            string               `json:"id"`
	ClientID      string               `json:"client_id"`
	ExpiresAt     time.Time            `json:"expires_at"`
	Request       AuthorizationRequest `json:"request"`
	RequestObject string               `json:"request_object,omitempty"`
	RequestURI    string               `json:"request_uri,omitempty"`
	Link          string               `json:"link"`
	// ApprovalRequest and ApprovalLink, when the request asks for an
	// approval, are what the approver is asked (the agentcert_approval
	// transaction data's approval request, and its approval link for
	// agentcert approve).
	ApprovalRequest *approval.Request `json:"approval_request,omitempty"`
	ApprovalLink    string            `json:"approval_link,omitempty"`
}

// Create makes an authorization request. Errors: invalid_input,
// dcql_invalid, too_large, rate_limited (too many pending). Transaction
// data of type agentcert_approval is made from req.Approval, never taken
// from req.TransactionData.
func (s *Service) Create(ctx context.Context, req CreateRequest) (*Created, error) {
	if len(req.DCQLQuery) == 0 {
		return nil, errcode.New(errcode.InvalidInput, "dcql_query is required")
	}
	q, err := dcql.Parse(req.DCQLQuery)
	if err != nil {
		return nil, err
	}
	mode := req.ResponseMode
	if mode == "" {
		mode = ModeDirectPost
	}
	if mode != ModeDirectPost && mode != ModeDirectPostJWT {
		return nil, errcode.New(errcode.InvalidInput, "response_mode %q is not one of direct_post, direct_post.jwt", mode)
	}
	prefix := req.ClientIDPrefix
	if prefix == "" {
		prefix = "redirect_uri"
		if s.cfg.SigningKey != nil {
			prefix = "decentralized_identifier"
		}
	}
	if prefix != "redirect_uri" && (prefix != "decentralized_identifier" || s.cfg.SigningKey == nil) {
		return nil, errcode.New(errcode.InvalidInput, "client_id_prefix %q is not available (redirect_uri, or decentralized_identifier when the service has a DID)", prefix)
	}
	if req.ActionCredential != "" {
		if _, ok := q.Credential(req.ActionCredential); !ok {
			return nil, errcode.New(errcode.InvalidInput, "action_credential %q is not a credential query of dcql_query", req.ActionCredential)
		}
	}
	if req.ActionCredential != "" && req.Action == "" {
		return nil, errcode.New(errcode.InvalidInput, "action_credential without an action")
	}
	ttl := s.cfg.RequestTTL
	if req.ExpiresIn < 0 {
		return nil, errcode.New(errcode.InvalidInput, "expires_in must be positive")
	}
	if req.ExpiresIn > 0 && req.ExpiresIn < int64(ttl/time.Second) { // no Duration overflow
		ttl = time.Duration(req.ExpiresIn) * time.Second
	}
	if req.Approval != nil && req.Action == "" {
		return nil, errcode.New(errcode.InvalidInput, "approval without an action")
	}
	var td []string
	for _, raw := range req.TransactionData {
		var obj map[string]any
		if err := jsonstrict.Decode(raw, &obj); err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "a transaction_data entry must be a JSON object")
		}
		if obj["type"] == TypeApproval {
			return nil, errcode.New(errcode.InvalidInput, "%s transaction data is made by the service: ask with member approval", TypeApproval)
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "transaction_data")
		}
		td = append(td, b64.EncodeToString(b))
	}
	id, ref, state := randomID(), randomID(), randomID()
	nonce := randomID()
	if s.cfg.NewNonce != nil {
		if nonce, err = s.cfg.NewNonce(); err != nil {
			return nil, errcode.Wrap(errcode.Internal, err, "nonce")
		}
	}
	now := s.now()
	exp := now.Add(ttl)
	responseURI := s.cfg.BaseURL + ResponsePath + ref
	clientID := PrefixRedirectURI + responseURI
	if prefix == "decentralized_identifier" {
		clientID = PrefixDID + s.cfg.ClientDID
	}
	actionCred := req.ActionCredential
	if req.Action != "" && actionCred == "" {
		actionCred = q.Credentials[0].ID
	}
	var areq *approval.Request
	if req.Approval != nil {
		r, err := newApprovalRequest(req, clientID, ttl, now)
		if err != nil {
			return nil, err
		}
		raw, err := approvalTransactionData(r, actionCred)
		if err != nil {
			return nil, err
		}
		areq = &r
		td = append(td, b64.EncodeToString(raw))
	}
	if _, err := checkTransactionData(td, q); err != nil {
		return nil, err
	}
	ar := AuthorizationRequest{
		ResponseType: ResponseTypeVPToken, ClientID: clientID, ResponseMode: mode, ResponseURI: responseURI,
		Nonce: nonce, State: state, DCQLQuery: compact(req.DCQLQuery), TransactionData: td,
		ClientMetadata: &ClientMetadata{VPFormatsSupported: s.vpFormats()},
	}
	rec := &Record{ID: id, Ref: ref, ClientID: clientID, Nonce: nonce, State: state, Mode: mode, Query: q,
		TransactionData: td, Action: req.Action, ActionCredential: actionCred, Attributes: req.Attributes,
		CreatedAt: now, ExpiresAt: exp}
	if mode == ModeDirectPostJWT {
		priv, pub, err := encryptionKey()
		if err != nil {
			return nil, err
		}
		rec.EncryptionKey = priv
		pubJSON, err := json.Marshal(pub)
		if err != nil {
			return nil, errcode.Wrap(errcode.Internal, err, "encryption key")
		}
		ar.ClientMetadata.JWKS = &JWKS{Keys: []json.RawMessage{pubJSON}}
		ar.ClientMetadata.EncryptedResponseEncValuesSupported = EncValues
	}
	out := &Created{ID: id, ClientID: clientID, ExpiresAt: exp.UTC(), Request: ar}
	if areq != nil {
		link, err := approval.Link(*areq)
		if err != nil {
			return nil, err
		}
		out.ApprovalRequest, out.ApprovalLink = areq, link
	}
	if prefix == "decentralized_identifier" {
		obj := ar
		// No iss: client_id names the verifier, and an iss carrying the
		// prefix would not be the DID its kid belongs to.
		obj.Audience, obj.IssuedAt, obj.Expiry = SelfIssuedAudience, now.Unix(), exp.Unix()
		jwt, err := s.sign(obj)
		if err != nil {
			return nil, err
		}
		rec.RequestObject = jwt
		out.RequestObject = jwt
		out.RequestURI = s.cfg.BaseURL + RequestPath + ref
		out.Link = Link(url.Values{"client_id": {clientID}, "request_uri": {out.RequestURI}})
	} else {
		out.Link = Link(ar.values())
	}
	if err := s.store.Create(ctx, rec, s.cfg.MaxPending); err != nil {
		return nil, err
	}
	return out, nil
}

// values renders an unsigned request by value as URL parameters.
func (ar AuthorizationRequest) values() url.Values {
	v := url.Values{
		"response_type": {ar.ResponseType}, "client_id": {ar.ClientID}, "response_mode": {ar.ResponseMode},
		"response_uri": {ar.ResponseURI}, "nonce": {ar.Nonce}, "dcql_query": {string(ar.DCQLQuery)},
	}
	if ar.State != "" {
		v.Set("state", ar.State)
	}
	if ar.ClientMetadata != nil {
		b, _ := json.Marshal(ar.ClientMetadata)
		v.Set("client_metadata", string(b))
	}
	if len(ar.TransactionData) > 0 {
		b, _ := json.Marshal(ar.TransactionData)
		v.Set("transaction_data", string(b))
	}
	return v
}

func (s *Service) vpFormats() map[string]any {
	algs := make([]string, 0, len(s.cfg.Algorithms))
	for _, a := range s.cfg.Algorithms {
		algs = append(algs, a.String())
	}
	return map[string]any{dcql.FormatSDJWTVC: map[string]any{"sd-jwt_alg_values": algs, "kb-jwt_alg_values": algs}}
}

// sign makes the request object.
func (s *Service) sign(obj AuthorizationRequest) (string, error) {
	alg, err := jose.SigningAlg(s.cfg.SigningKey)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "request object")
	}
	out, err := jose.Sign(body, alg, s.cfg.SigningKey, map[string]any{jws.TypeKey: RequestObjectTyp, jws.KeyIDKey: s.cfg.SigningKey.KeyID()})
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "request object signing failed")
	}
	return string(out), nil
}

// encryptionKey makes the ephemeral ECDH-ES key of one direct_post.jwt
// request.
func encryptionKey() (jwk.Key, jwk.Key, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.Internal, err, "encryption key")
	}
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.Internal, err, "encryption key")
	}
	for k, v := range map[string]any{jwk.KeyIDKey: randomID(), jwk.AlgorithmKey: jwa.ECDH_ES, jwk.KeyUsageKey: "enc"} {
		if err := priv.Set(k, v); err != nil {
			return nil, nil, errcode.Wrap(errcode.Internal, err, "encryption key")
		}
	}
	pub, err := priv.PublicKey()
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.Internal, err, "encryption key")
	}
	return priv, pub, nil
}

func compact(raw json.RawMessage) json.RawMessage {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return b
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return b64.EncodeToString(b)
}

// RequestObject returns the signed request object of the request with
// reference ref. Errors: not_found, presentation_request_expired,
// presentation_request_answered.
func (s *Service) RequestObject(ctx context.Context, ref string) (string, error) {
	rec, err := s.open(ctx, ref)
	if err != nil {
		return "", err
	}
	if rec.RequestObject == "" {
		return "", errcode.New(errcode.NotFound, "no such request object")
	}
	return rec.RequestObject, nil
}

// open loads a pending, unexpired request.
func (s *Service) open(ctx context.Context, ref string) (*Record, error) {
	rec, err := s.store.ByRef(ctx, ref)
	if err != nil {
		return nil, err
	}
	if rec.Answered {
		return nil, errcode.New(errcode.RequestAnswered, "the presentation request was already answered")
	}
	if !s.now().Before(rec.ExpiresAt) {
		return nil, errcode.New(errcode.RequestExpired, "the presentation request has expired")
	}
	return rec, nil
}

// Statuses of a Result.
const (
	StatusPending  = "pending"
	StatusVerified = "verified"
	StatusFailed   = "failed"
	StatusDeclined = "declined"
	StatusExpired  = "expired"
)

// Result is what the counterparty fetches: the outcome of one request.
// Presentations are the verifier's results by credential query id;
// Allowed is true when the response verified and the action, if one was
// named, is allowed.
type Result struct {
	ID              string                        `json:"id"`
	Status          string                        `json:"status"`
	Verified        bool                          `json:"verified"`
	Allowed         bool                          `json:"allowed"`
	ExpiresAt       time.Time                     `json:"expires_at"`
	AnsweredAt      *time.Time                    `json:"answered_at,omitempty"`
	Error           *verifier.ErrorInfo           `json:"error,omitempty"`
	Presentations   map[string][]*verifier.Result `json:"presentations,omitempty"`
	TransactionData []map[string]any              `json:"transaction_data,omitempty"`
	WalletError     *WalletError                  `json:"wallet_error,omitempty"`
}

// WalletError is an error response of the wallet (section 8.5).
type WalletError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// response is a decoded authorization response; tok is its vp_token,
// parsed.
type response struct {
	VPToken     json.RawMessage `json:"vp_token,omitempty"`
	State       string          `json:"state,omitempty"`
	Error       string          `json:"error,omitempty"`
	Description string          `json:"error_description,omitempty"`
	tok         map[string][]string
}

// Respond checks the authorization response posted to the response
// endpoint of request ref and records its outcome. The request is closed
// by the first response whose state is the request's, whatever its outcome,
// and a later one is refused (presentation_request_answered). A response
// that failed verification is recorded as failed and also returned as its
// error, for the wallet.
//
// Errors before the request is closed: not_found, presentation_request_expired,
// presentation_request_answered, invalid_request (a malformed response, a
// vp_token that is not a JSON object of arrays of presentations, or one
// that does not decrypt), too_large (more than MaxPresentations),
// state_mismatch.
func (s *Service) Respond(ctx context.Context, ref string, form url.Values) (*Result, error) {
	rec, err := s.open(ctx, ref)
	if err != nil {
		return nil, err
	}
	resp, err := s.decode(rec, form)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(resp.State), []byte(rec.State)) != 1 {
		return nil, errcode.New(errcode.StateMismatch, "the response's state is not the request's")
	}
	if err := s.store.Claim(ctx, ref); err != nil {
		return nil, err
	}
	res := &Result{ID: rec.ID, ExpiresAt: rec.ExpiresAt}
	var failure error
	if resp.Error != "" {
		res.Status = StatusDeclined
		res.WalletError = &WalletError{Error: resp.Error, Description: resp.Description}
		failure = errcode.New(errcode.PresentationDeclined, "the wallet declined: %s", resp.Error)
	} else {
		failure = s.evaluate(ctx, rec, resp.tok, res)
		if err := s.recordAll(ctx, res); err != nil && failure == nil {
			failure = err
		}
		res.Status = StatusVerified
		res.Verified = failure == nil
		res.Allowed = res.Verified
		for _, rs := range res.Presentations {
			for _, r := range rs {
				if r.Decision != nil && !r.Decision.Allowed {
					res.Allowed = false
				}
			}
		}
		if failure != nil {
			res.Status, res.Allowed = StatusFailed, false
		}
	}
	if failure != nil {
		var e *errcode.Error
		msg := failure.Error()
		if errors.As(failure, &e) {
			msg = e.Message
		}
		res.Error = &verifier.ErrorInfo{Code: errcode.CodeOf(failure), Message: msg}
	}
	at := s.now().UTC()
	res.AnsweredAt = &at
	if err := s.store.Finish(ctx, ref, res); err != nil {
		return nil, err
	}
	if s.cfg.Notify != nil && s.cfg.Notify(ctx, res) {
		// not_found: the counterparty fetched it meanwhile.
		if _, err := s.store.Take(ctx, rec.ID, s.now()); err != nil && errcode.CodeOf(err) != errcode.NotFound {
			return nil, err
		}
	}
	return res, failure
}

// decode reads the response parameters: vp_token and state, or for
// direct_post.jwt the encrypted response carrying them.
func (s *Service) decode(rec *Record, form url.Values) (*response, error) {
	bad := func(format string, args ...any) error { return errcode.New(errcode.InvalidRequest, format, args...) }
	single := func(name string) (string, error) {
		if len(form[name]) > 1 {
			return "", bad("the response repeats %s", name)
		}
		return form.Get(name), nil
	}
	if rec.Mode == ModeDirectPostJWT {
		enc, err := single("response")
		if err != nil {
			return nil, err
		}
		if enc == "" {
			return nil, bad("a direct_post.jwt response carries its parameters in response")
		}
		plain, err := decryptResponse(enc, rec.EncryptionKey)
		if err != nil {
			return nil, err
		}
		// Members beyond the response parameters (a signed-then-encrypted
		// response's iss, aud, exp) are allowed; duplicates are not.
		var m map[string]json.RawMessage
		if err := jsonstrict.Decode(plain, &m); err != nil {
			return nil, errcode.Wrap(errcode.InvalidRequest, err, "the decrypted response is not a JSON object")
		}
		r := response{VPToken: m["vp_token"]}
		for name, dst := range map[string]*string{"state": &r.State, "error": &r.Error, "error_description": &r.Description} {
			if raw, ok := m[name]; ok && json.Unmarshal(raw, dst) != nil {
				return nil, bad("the response's %s is not a string", name)
			}
		}
		if r.Error == "" && len(r.VPToken) == 0 {
			return nil, bad("the response carries neither vp_token nor error")
		}
		return parseVPToken(&r)
	}
	var r response
	var err error
	for name, dst := range map[string]*string{"state": &r.State, "error": &r.Error, "error_description": &r.Description} {
		if *dst, err = single(name); err != nil {
			return nil, err
		}
	}
	vp, err := single("vp_token")
	if err != nil {
		return nil, err
	}
	if vp == "" && r.Error == "" {
		return nil, bad("the response carries neither vp_token nor error")
	}
	r.VPToken = json.RawMessage(vp)
	return parseVPToken(&r)
}

// parseVPToken reads the vp_token of a response that is not an error: a
// JSON object of arrays of presentations, at most MaxPresentations in all.
// It is read before the request is closed, so that a response that does
// not parse leaves the request to a proper one. Errors: invalid_request,
// too_large.
func parseVPToken(r *response) (*response, error) {
	if r.Error != "" {
		return r, nil
	}
	if err := jsonstrict.Decode(r.VPToken, &r.tok); err != nil {
		return nil, errcode.Wrap(errcode.InvalidRequest, err, "vp_token must be a JSON object of arrays of presentations")
	}
	n := 0
	for _, ps := range r.tok {
		n += len(ps)
	}
	if n > MaxPresentations {
		return nil, errcode.New(errcode.TooLarge, "at most %d presentations", MaxPresentations)
	}
	return r, nil
}

// decryptResponse opens a direct_post.jwt response: a compact JWE (the
// JSON serialization's unprotected headers, zip among them, would escape
// the checks below), ECDH-ES to the request's key, A128GCM or A256GCM.
func decryptResponse(enc string, key jwk.Key) ([]byte, error) {
	if strings.Count(enc, ".") != 4 || strings.ContainsFunc(enc, func(r rune) bool {
		return r != '.' && r != '-' && r != '_' && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		return nil, errcode.New(errcode.InvalidRequest, "the response is not a compact JWE")
	}
	if strings.Split(enc, ".")[1] != "" {
		return nil, errcode.New(errcode.InvalidRequest, "the response carries an encrypted key, which ECDH-ES (direct key agreement) has not")
	}
	msg, err := jwe.Parse([]byte(enc))
	if err != nil {
		return nil, errcode.New(errcode.InvalidRequest, "the response is not a compact JWE")
	}
	h := msg.ProtectedHeaders()
	if h.Algorithm() != jwa.ECDH_ES {
		return nil, errcode.New(errcode.InvalidRequest, "the response is encrypted with %q, not ECDH-ES", h.Algorithm())
	}
	if !slices.Contains(EncValues, h.ContentEncryption().String()) {
		return nil, errcode.New(errcode.InvalidRequest, "the response's enc %q is not one of %v", h.ContentEncryption(), EncValues)
	}
	if h.Compression() != jwa.NoCompress {
		return nil, errcode.New(errcode.InvalidRequest, "compressed responses are refused")
	}
	plain, err := jwe.Decrypt([]byte(enc), jwe.WithKey(jwa.ECDH_ES, key))
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidRequest, err, "the response does not decrypt with the request's key")
	}
	return plain, nil
}

// evaluate verifies each presentation of the vp_token tok and the whole
// against the query, filling res; it returns the first failure.
func (s *Service) evaluate(ctx context.Context, rec *Record, tok map[string][]string, res *Result) error {
	tds, err := checkTransactionData(rec.TransactionData, rec.Query) // checked at creation
	if err != nil {
		return err
	}
	bound := make([]bool, len(tds))
	ai := approvalIndex(tds)
	res.Presentations = map[string][]*verifier.Result{}
	presented := map[string][]dcql.Presented{}
	ids := make([]string, 0, len(tok))
	for id := range tok {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	// Every presentation carries the request's nonce: the first verified
	// with a KB-JWT spends it (a verifier nonce), the later ones must
	// carry it too and do not spend it again.
	spent := false
	for _, id := range ids {
		cq, ok := rec.Query.Credential(id)
		if !ok {
			return errcode.New(errcode.QueryUnsatisfied, "the response presents %q, which the query does not ask for", id)
		}
		for _, p := range tok[id] {
			vreq := verifier.Request{Presentation: p, Audience: rec.ClientID, Nonce: rec.Nonce, RequireKB: cq.HolderBinding(), NonceSpent: spent}
			if rec.Action != "" && id == rec.ActionCredential {
				vreq.Action, vreq.Attributes = rec.Action, rec.Attributes
			}
			asked := ai >= 0 && slices.Contains(tds[ai].CredentialIDs, id)
			if asked {
				// The approval is read from the KB-JWT before the verifier
				// checks it, and refused there when it answers another
				// request or the KB-JWT does not bind the transaction data,
				// so that it is spent only by the request it was given for.
				kb, err := kbClaims(p)
				if err != nil {
					return err
				}
				if kb == nil {
					return errcode.New(errcode.KBMissing, "transaction data %d asks a person's approval; the presentation of %q has no KB-JWT", ai, id)
				}
				if err := checkHashes(kb, id, rec.TransactionData, tds, make([]bool, len(tds))); err != nil {
					return err
				}
				if vreq.Approval, err = boundApproval(kb, id, ai, tds[ai].Approval); err != nil {
					return err
				}
				vreq.RequireApproval = true
			}
			vr := s.v.Verify(ctx, vreq)
			res.Presentations[id] = append(res.Presentations[id], vr)
			if !vr.Verified {
				return verifierError(vr)
			}
			spent = spent || vr.KeyBinding != nil
			if err := checkHashes(vr.KeyBinding, id, rec.TransactionData, tds, bound); err != nil {
				return err
			}
			if asked {
				if err := approvalOutcome(vr, vreq.Approval, ai, tds[ai].Approval); err != nil {
					return err
				}
			} else if _, ok := vr.KeyBinding[ClaimApproval]; ok {
				return errcode.New(errcode.TransactionDataMismatch, "the KB-JWT of %q carries an approval (%s) no transaction data asked for", id, ClaimApproval)
			}
			paths, err := sdjwt.DisclosurePaths(p)
			if err != nil {
				return err
			}
			presented[id] = append(presented[id], dcql.Presented{VCT: vr.VCT, Claims: vr.Claims, Disclosed: paths, HolderBound: vr.KeyBinding != nil})
		}
	}
	for i, b := range bound {
		if !b {
			return errcode.New(errcode.TransactionDataMismatch, "transaction data %d is bound by no presentation", i)
		}
	}
	if err := rec.Query.Check(presented); err != nil {
		return err
	}
	if rec.Action != "" && len(res.Presentations[rec.ActionCredential]) == 0 {
		return errcode.New(errcode.QueryUnsatisfied, "the credential the action is decided on (%q) was not presented", rec.ActionCredential)
	}
	for _, td := range tds {
		res.TransactionData = append(res.TransactionData, td.Fields)
	}
	return nil
}

// recordAll hands every presentation's result to the record hook, in
// credential query order.
func (s *Service) recordAll(ctx context.Context, res *Result) error {
	if s.record == nil {
		return nil
	}
	ids := make([]string, 0, len(res.Presentations))
	for id := range res.Presentations {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		for _, vr := range res.Presentations[id] {
			if err := s.record(ctx, vr); err != nil {
				return errcode.Wrap(errcode.Internal, err, "the presentation could not be recorded")
			}
		}
	}
	return nil
}

func verifierError(vr *verifier.Result) error {
	if vr.Error == nil {
		return errcode.New(errcode.Internal, "a presentation failed without an error")
	}
	return errcode.New(vr.Error.Code, "%s", vr.Error.Message)
}

// checkHashes checks the transaction_data_hashes of one presentation's
// KB-JWT for credential query id: exactly the hashes of the entries that
// name id, in any order, with sha-256; it marks those entries bound.
func checkHashes(kb map[string]any, id string, entries []string, tds []*TransactionData, bound []bool) error {
	var want []int
	for i, td := range tds {
		if slices.Contains(td.CredentialIDs, id) {
			want = append(want, i)
		}
	}
	raw, has := kb["transaction_data_hashes"]
	if alg, ok := kb["transaction_data_hashes_alg"]; ok && alg != HashSHA256 {
		return errcode.New(errcode.TransactionDataMismatch, "transaction_data_hashes_alg %v is not %s", alg, HashSHA256)
	}
	if len(want) == 0 {
		if has {
			return errcode.New(errcode.TransactionDataMismatch, "the KB-JWT of %q carries transaction_data_hashes the request did not ask it to", id)
		}
		return nil
	}
	list, _ := raw.([]any)
	if len(list) != len(want) {
		return errcode.New(errcode.TransactionDataMismatch, "the KB-JWT of %q must carry %d transaction_data_hashes, not %d", id, len(want), len(list))
	}
	got := map[string]bool{}
	for _, h := range list {
		s, _ := h.(string)
		got[s] = true
	}
	for _, i := range want {
		if !got[TransactionDataHash(entries[i])] {
			return errcode.New(errcode.TransactionDataMismatch, "the KB-JWT of %q does not carry the hash of transaction data %d", id, i)
		}
		bound[i] = true
	}
	return nil
}

// Result returns the outcome of request id for the counterparty: pending
// (or expired) until the wallet answers; once answered, the outcome is
// returned once and the request forgotten. Errors: not_found.
func (s *Service) Result(ctx context.Context, id string) (*Result, error) {
	rec, err := s.store.Take(ctx, id, s.now())
	if err != nil {
		return nil, err
	}
	if rec.Result != nil {
		return rec.Result, nil
	}
	st := StatusPending
	if !rec.Answered && !s.now().Before(rec.ExpiresAt) { // answered: its response is being checked
		st = StatusExpired
	}
	return &Result{ID: rec.ID, Status: st, ExpiresAt: rec.ExpiresAt.UTC()}, nil
}
