package oid4vci

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/issuer"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// State is the persistent state of OpenID4VCI issuance. The contract (which
// storetest.RunOID4VCI checks for every store):
//
//   - Methods are safe for concurrent use; a nil error from a write means it
//     is durable; audit entries are appended atomically with the change.
//   - CreateOffer fails with records.ErrConflict on a duplicate id, ref
//     hash or code hash.
//   - OfferByRef, OfferByCode and AccessToken fail with records.ErrNotFound for an
//     unknown hash.
//   - RedeemCode loads the offer with that code hash (records.ErrNotFound
//     when none), calls decide with it while holding it, and applies the
//     Redemption atomically: one more failed attempt, or the offer redeemed
//     with its access token stored; then the audit entry; then returns the
//     Redemption's Err. Two concurrent
//     redemptions of one code never both get a token, and attempts are
//     never lost.
//   - TokenByID returns the API token with that id, revoked or not
//     (records.ErrNotFound when none): an offer is made by, and issues on
//     behalf of, an issuer token, and stops issuing once it is revoked.
//   - SpendToken marks the access token used and records every nonce as
//     spent, atomically: an error wrapping records.ErrTokenSpent when the
//     token was used before, records.ErrNonceSpent when a nonce was, and
//     records.ErrConflict for both; nothing is written then.
type State interface {
	CreateOffer(ctx context.Context, o records.Offer, a *records.AuditEntry) error
	OfferByRef(ctx context.Context, refHash []byte) (records.Offer, error)
	OfferByCode(ctx context.Context, codeHash []byte) (records.Offer, error)
	RedeemCode(ctx context.Context, codeHash []byte, decide func(records.Offer) records.Redemption) error
	AccessToken(ctx context.Context, hash []byte) (records.AccessToken, records.Offer, error)
	TokenByID(ctx context.Context, id string) (records.Token, error)
	SpendToken(ctx context.Context, tokenHash []byte, nonces []records.SpentNonce, at time.Time, a *records.AuditEntry) error
	AppendAudit(ctx context.Context, a records.AuditEntry) (records.AuditEntry, error)
}

// Issuer is the part of the issuer the flow needs.
type Issuer interface {
	Check(ctx context.Context, req issuer.IssueRequest) error
	Issue(ctx context.Context, actor issuer.Actor, req issuer.IssueRequest, idemKey string, reqHash []byte) (*issuer.Issued, error)
}

// Nonces issues c_nonces and opens them: Open returns a valid, unexpired
// nonce's expiry and identity (nonce_invalid, nonce_expired otherwise).
type Nonces interface {
	Issue() (string, time.Time, error)
	Open(nonce string) (time.Time, []byte, error)
}

// Defaults of Config.
const (
	DefaultConfigurationID   = "agent_certification"
	DefaultOfferTTL          = 15 * time.Minute
	MaxOfferTTL              = 7 * 24 * time.Hour
	DefaultTokenTTL          = 5 * time.Minute
	DefaultMaxTxCodeAttempts = 5
	DefaultBatchSize         = 10
	DefaultTxCodeLength      = 6
	DefaultProofMaxAge       = 5 * time.Minute
	DefaultLeeway            = 30 * time.Second
)

// Config holds the flow's settings; zero values take the defaults.
type Config struct {
	CredentialIssuer  string // the Credential Issuer Identifier: the service's public URL
	ConfigurationID   string
	VCT               string
	SigningAlgs       []string // algorithms the issuer signs credentials with
	ProofAlgs         []jwa.SignatureAlgorithm
	OfferTTL          time.Duration
	TokenTTL          time.Duration
	MaxTxCodeAttempts int
	BatchSize         int
	ProofMaxAge       time.Duration
	Leeway            time.Duration
	// Secret derives pre-authorized codes from the secret in an offer's
	// credential_offer_uri, so that neither is stored; at least 32 bytes.
	Secret []byte
	// SigningAlg, when set, returns the algorithm of the key the issuer
	// signs with now (an admin may rotate to another algorithm), which the
	// metadata then names instead of SigningAlgs.
	SigningAlg func() string
}

// Service is the issuer side of the pre-authorized code flow.
type Service struct {
	cfg      Config
	state    State
	issuer   Issuer
	nonces   Nonces
	resolver did.Resolver
	now      func() time.Time
}

// New returns the flow over its state, the issuer and a nonce source.
// resolver resolves DID URLs in proofs' kid (nil: jwk proofs only).
func New(cfg Config, st State, iss Issuer, nonces Nonces, resolver did.Resolver, now func() time.Time) (*Service, error) {
	if cfg.CredentialIssuer == "" || cfg.VCT == "" {
		return nil, errors.New("oid4vci: the credential issuer and vct are required")
	}
	if len(cfg.Secret) < 32 {
		return nil, errors.New("oid4vci: the secret must be at least 32 bytes")
	}
	if st == nil || iss == nil || nonces == nil {
		return nil, errors.New("oid4vci: state, issuer and nonces are required")
	}
	cfg.CredentialIssuer = strings.TrimRight(cfg.CredentialIssuer, "/")
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.OfferTTL, DefaultOfferTTL)
	def(&cfg.TokenTTL, DefaultTokenTTL)
	def(&cfg.ProofMaxAge, DefaultProofMaxAge)
	def(&cfg.Leeway, DefaultLeeway)
	if cfg.ConfigurationID == "" {
		cfg.ConfigurationID = DefaultConfigurationID
	}
	if cfg.MaxTxCodeAttempts <= 0 {
		cfg.MaxTxCodeAttempts = DefaultMaxTxCodeAttempts
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if len(cfg.ProofAlgs) == 0 {
		cfg.ProofAlgs = []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA}
	}
	if len(cfg.SigningAlgs) == 0 {
		cfg.SigningAlgs = []string{"ES256", "EdDSA"}
	}
	if now == nil {
		now = time.Now
	}
	return &Service{cfg: cfg, state: st, issuer: iss, nonces: nonces, resolver: resolver, now: now}, nil
}

// Config returns the settings in effect.
func (s *Service) Config() Config { return s.cfg }

// Endpoints, relative to the credential issuer.
const (
	TokenPath      = "/oid4vci/token"
	NoncePath      = "/oid4vci/nonce"
	CredentialPath = "/oid4vci/credential"
	OfferPath      = "/oid4vci/offers/" // + the offer's reference
)

// Metadata returns the Credential Issuer Metadata.
func (s *Service) Metadata() IssuerMetadata {
	var proofAlgs []string
	for _, a := range s.cfg.ProofAlgs {
		proofAlgs = append(proofAlgs, a.String())
	}
	signingAlgs := s.cfg.SigningAlgs
	if s.cfg.SigningAlg != nil {
		if a := s.cfg.SigningAlg(); a != "" {
			signingAlgs = []string{a}
		}
	}
	base := s.cfg.CredentialIssuer
	disp := func(name, desc string) []Display { return []Display{{Name: name, Locale: "en-US", Description: desc}} }
	return IssuerMetadata{
		CredentialIssuer:        base,
		AuthorizationServers:    []string{base},
		CredentialEndpoint:      base + CredentialPath,
		NonceEndpoint:           base + NoncePath,
		BatchCredentialIssuance: &BatchIssuance{BatchSize: s.cfg.BatchSize},
		Display:                 disp("agentcert issuer", ""),
		CredentialConfigurationsSupported: map[string]CredentialConfiguration{
			s.cfg.ConfigurationID: {
				Format:                               FormatSDJWTVC,
				VCT:                                  s.cfg.VCT,
				CryptographicBindingMethodsSupported: []string{"jwk", "did:key", "did:jwk", "did:web"},
				CredentialSigningAlgValuesSupported:  signingAlgs,
				ProofTypesSupported:                  map[string]ProofType{"jwt": {ProofSigningAlgValuesSupported: proofAlgs}},
				CredentialMetadata: &CredentialMetadata{
					Display: disp("Agent certification", "What an AI agent instance may and may not do, on whose behalf"),
					Claims: []Claim{
						{Path: []any{"principal"}, Mandatory: true, Display: disp("Accountable principal", "")},
						{Path: []any{"agent"}, Mandatory: true, Display: disp("Agent", "")},
						{Path: []any{"permissions", nil}, Display: disp("Permission", "")},
						{Path: []any{"prohibitions"}, Mandatory: true, Display: disp("Prohibited actions", "")},
						{Path: []any{"autonomy"}, Display: disp("Autonomy", "")},
						{Path: []any{"on_behalf_of"}, Display: disp("On behalf of", "")},
						{Path: []any{"task"}, Display: disp("Task", "")},
					},
				},
			},
		},
	}
}

// ASMetadata returns the Authorization Server Metadata.
func (s *Service) ASMetadata() ASMetadata {
	return ASMetadata{
		Issuer:                            s.cfg.CredentialIssuer,
		TokenEndpoint:                     s.cfg.CredentialIssuer + TokenPath,
		GrantTypesSupported:               []string{GrantPreAuthorizedCode},
		ResponseTypesSupported:            []string{},
		TokenEndpointAuthMethodsSupported: []string{"none"},
		PreAuthorizedGrantAnonymous:       true,
	}
}

// OfferRequest is the body of POST /v1/offers: the certification to issue
// (as for POST /v1/credentials, without subject or holder key, which the
// agent's proof gives) and whether a transaction code protects the offer.
type OfferRequest struct {
	Claims                 map[string]any `json:"claims"`
	SelectivelyDisclosable []string       `json:"selectively_disclosable,omitempty"`
	ExpiresAt              *time.Time     `json:"expires_at,omitempty"`
	ValidFor               string         `json:"valid_for,omitempty"`
	TxCode                 *TxCode        `json:"tx_code,omitempty"`
	OfferValidFor          string         `json:"offer_valid_for,omitempty"`
}

// CreatedOffer is the answer to POST /v1/offers. TxCode is shown this once.
type CreatedOffer struct {
	ID                 string          `json:"id"`
	CredentialOffer    CredentialOffer `json:"credential_offer"`
	CredentialOfferURI string          `json:"credential_offer_uri"`
	OfferLink          string          `json:"offer_link"`
	OfferURILink       string          `json:"offer_uri_link"`
	TxCode             string          `json:"tx_code,omitempty"`
	ExpiresAt          time.Time       `json:"expires_at"`
}

// template is what an offer keeps of its request.
type template struct {
	Request issuer.IssueRequest `json:"request"`
	TxCode  *TxCode             `json:"tx_code,omitempty"`
}

// decode reads a stored template with its numbers as they were offered
// (json.Number, as the request body was decoded): through float64 an
// integer beyond 2^53, such as a max_amount, would be issued rounded, and
// a number beyond float64's range would not decode at all.
func (t *template) decode(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(t)
}

// CreateOffer validates the prepared certification and records an offer
// for it.
func (s *Service) CreateOffer(ctx context.Context, actor issuer.Actor, req OfferRequest) (*CreatedOffer, error) {
	ttl := s.cfg.OfferTTL
	if req.OfferValidFor != "" {
		d, err := time.ParseDuration(req.OfferValidFor)
		if err != nil || d <= 0 || d > MaxOfferTTL {
			return nil, errcode.New(errcode.InvalidInput, "offer_valid_for must be a positive duration of at most %s", MaxOfferTTL)
		}
		ttl = d
	}
	ir := issuer.IssueRequest{Claims: req.Claims, SelectivelyDisclosable: req.SelectivelyDisclosable, ExpiresAt: req.ExpiresAt, ValidFor: req.ValidFor}
	if err := s.issuer.Check(ctx, ir); err != nil {
		return nil, err
	}
	tpl := template{Request: ir}
	var txCode string
	if t := req.TxCode; t != nil {
		c := *t
		if c.InputMode == "" {
			c.InputMode = "numeric"
		}
		if c.Length == 0 {
			c.Length = DefaultTxCodeLength
		}
		if c.InputMode != "numeric" && c.InputMode != "text" {
			return nil, errcode.New(errcode.InvalidInput, "tx_code.input_mode must be numeric or text")
		}
		if c.Length < 4 || c.Length > 16 {
			return nil, errcode.New(errcode.InvalidInput, "tx_code.length must be between 4 and 16")
		}
		if len(c.Description) > 300 {
			return nil, errcode.New(errcode.InvalidInput, "tx_code.description is longer than 300 characters")
		}
		txCode = randomCode(c.Length, c.InputMode)
		tpl.TxCode = &c
	}
	tb, err := json.Marshal(tpl)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "encode the offer")
	}
	now := s.now().UTC()
	ref := randomToken()
	code := s.codeFor(ref)
	o := records.Offer{
		ID: "offer-" + randomToken()[:22], RefHash: hash(ref), CodeHash: hash(code), Template: tb,
		TokenID: actor.TokenID, CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Second),
	}
	if txCode != "" {
		o.TxCodeHash = txHash(o.ID, txCode)
	}
	var principal any
	if p, ok := req.Claims["principal"].(map[string]any); ok {
		principal = p["id"]
	}
	details, _ := json.Marshal(map[string]any{"tx_code": txCode != "", "expires_at": o.ExpiresAt, "principal": principal})
	if err := s.state.CreateOffer(ctx, o, &records.AuditEntry{Time: now, Actor: actor.TokenID, Action: "oid4vci.offer.create", Target: o.ID, Details: details}); err != nil {
		return nil, fmt.Errorf("oid4vci: record the offer: %w", err)
	}
	offer := s.offer(code, tpl.TxCode)
	link, err := OfferLink(offer)
	if err != nil {
		return nil, err
	}
	uri := s.cfg.CredentialIssuer + OfferPath + ref
	return &CreatedOffer{ID: o.ID, CredentialOffer: offer, CredentialOfferURI: uri, OfferLink: link, OfferURILink: OfferURILink(uri), TxCode: txCode, ExpiresAt: o.ExpiresAt}, nil
}

func (s *Service) offer(code string, tx *TxCode) CredentialOffer {
	return CredentialOffer{
		CredentialIssuer:           s.cfg.CredentialIssuer,
		CredentialConfigurationIDs: []string{s.cfg.ConfigurationID},
		Grants:                     Grants{PreAuthorizedCode: &PreAuthorizedGrant{Code: code, TxCode: tx}},
	}
}

// OfferByRef returns the credential offer a credential_offer_uri names:
// not_found when unknown or expired.
func (s *Service) OfferByRef(ctx context.Context, ref string) (*CredentialOffer, error) {
	if ref == "" || len(ref) > 128 {
		return nil, errcode.New(errcode.NotFound, "no such offer")
	}
	o, err := s.state.OfferByRef(ctx, hash(ref))
	if errors.Is(err, records.ErrNotFound) || (err == nil && !s.now().Before(o.ExpiresAt)) {
		return nil, errcode.New(errcode.NotFound, "no such offer, or it has expired")
	}
	if err != nil {
		return nil, err
	}
	var tpl template
	if err := tpl.decode(o.Template); err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "stored offer %s", o.ID)
	}
	offer := s.offer(s.codeFor(ref), tpl.TxCode)
	return &offer, nil
}

// Token runs the token endpoint for the form of a token request.
func (s *Service) Token(ctx context.Context, form url.Values) (*TokenResponse, error) {
	for k, v := range form {
		if len(v) != 1 {
			return nil, errcode.New(errcode.InvalidRequest, "parameter %s is repeated", k)
		}
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		return nil, errcode.New(errcode.InvalidRequest, "grant_type is required")
	case GrantPreAuthorizedCode:
	default:
		return nil, errcode.New(errcode.UnsupportedGrantType, "grant_type %q is not supported; use %s", gt, GrantPreAuthorizedCode)
	}
	code := form.Get("pre-authorized_code")
	if code == "" {
		return nil, errcode.New(errcode.InvalidRequest, "pre-authorized_code is required")
	}
	_, hasTx := form["tx_code"]
	tx := form.Get("tx_code")
	now := s.now().UTC()
	// The offer issues on behalf of the issuer token that made it, so a
	// code of a revoked token's offer is refused here, before it is spent
	// (the credential endpoint would refuse its access token anyway).
	// decide must not call the store, so the maker is read before (a plain
	// read of the offer; RedeemCode then decides on the offer it holds).
	revoked, err := s.makerRevoked(ctx, hash(code))
	if err != nil {
		return nil, err
	}
	secret := randomToken()
	var out *TokenResponse
	err = s.state.RedeemCode(ctx, hash(code), func(o records.Offer) records.Redemption {
		refuse := func(failed bool, e *errcode.Error) records.Redemption {
			d, _ := json.Marshal(map[string]any{"code": e.Code, "attempts": o.Attempts + boolInt(failed)})
			return records.Redemption{FailedAttempt: failed, Err: e,
				Audit: &records.AuditEntry{Time: now, Actor: "oid4vci", Action: "oid4vci.token.refuse", Target: o.ID, Details: d}}
		}
		switch {
		case o.RedeemedAt != nil:
			return refuse(false, errcode.New(errcode.CodeUsed, "the pre-authorized code was already used"))
		case !now.Before(o.ExpiresAt):
			return refuse(false, errcode.New(errcode.CodeExpired, "the pre-authorized code expired at %s", o.ExpiresAt.Format(time.RFC3339)))
		case revoked:
			e := errcode.New(errcode.InvalidGrant, "the offer was made by an issuer token that has been revoked")
			d, _ := json.Marshal(map[string]any{"code": e.Code, "issuer_token": o.TokenID, "revoked": true})
			return records.Redemption{Err: e, Audit: &records.AuditEntry{Time: now, Actor: "oid4vci", Action: "oid4vci.token.refuse", Target: o.ID, Details: d}}
		case o.TxCodeHash == nil && hasTx:
			return refuse(false, errcode.New(errcode.InvalidRequest, "this offer has no transaction code; do not send tx_code"))
		case o.TxCodeHash != nil && o.Attempts >= s.cfg.MaxTxCodeAttempts:
			return refuse(false, errcode.New(errcode.TxCodeAttemptsExceeded, "too many wrong transaction codes; the offer is locked"))
		case o.TxCodeHash != nil && tx == "":
			return refuse(false, errcode.New(errcode.TxCodeRequired, "this offer requires tx_code"))
		case o.TxCodeHash != nil && subtle.ConstantTimeCompare(txHash(o.ID, tx), o.TxCodeHash) != 1:
			left := s.cfg.MaxTxCodeAttempts - o.Attempts - 1
			if left <= 0 {
				return refuse(true, errcode.New(errcode.TxCodeAttemptsExceeded, "wrong transaction code; the offer is now locked"))
			}
			return refuse(true, errcode.New(errcode.TxCodeWrong, "wrong transaction code (%d attempts left)", left))
		}
		t := &records.AccessToken{Hash: hash(secret), OfferID: o.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL)}
		out = &TokenResponse{AccessToken: secret, TokenType: "Bearer", ExpiresIn: int64(s.cfg.TokenTTL / time.Second)}
		d, _ := json.Marshal(map[string]any{"expires_at": t.ExpiresAt, "tx_code": o.TxCodeHash != nil})
		return records.Redemption{Token: t, Audit: &records.AuditEntry{Time: now, Actor: "oid4vci", Action: "oid4vci.token", Target: o.ID, Details: d}}
	})
	if errors.Is(err, records.ErrNotFound) {
		return nil, errcode.New(errcode.InvalidGrant, "unknown pre-authorized code")
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// makerRevoked reports whether the issuer token that made the offer with
// the code hash codeHash is revoked (or gone): invalid_grant for an unknown
// code.
func (s *Service) makerRevoked(ctx context.Context, codeHash []byte) (bool, error) {
	o, err := s.state.OfferByCode(ctx, codeHash)
	if errors.Is(err, records.ErrNotFound) {
		return false, errcode.New(errcode.InvalidGrant, "unknown pre-authorized code")
	}
	if err != nil {
		return false, fmt.Errorf("oid4vci: the offer of a pre-authorized code: %w", err)
	}
	maker, err := s.state.TokenByID(ctx, o.TokenID)
	switch {
	case errors.Is(err, records.ErrNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("oid4vci: the offer's issuer token: %w", err)
	}
	return maker.RevokedAt != nil, nil
}

// Nonce runs the nonce endpoint.
func (s *Service) Nonce() (*NonceResponse, error) {
	n, _, err := s.nonces.Issue()
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "issue a c_nonce")
	}
	return &NonceResponse{CNonce: n}, nil
}

// Credential runs the credential endpoint: the bearer access token and the
// request body. It issues one credential per proof.
func (s *Service) Credential(ctx context.Context, accessToken string, body []byte) (*CredentialResponse, error) {
	if accessToken == "" {
		return nil, errcode.New(errcode.InvalidToken, "an access token from the token endpoint is required")
	}
	now := s.now().UTC()
	tokHash := hash(accessToken)
	tok, offer, err := s.state.AccessToken(ctx, tokHash)
	switch {
	case errors.Is(err, records.ErrNotFound):
		return nil, errcode.New(errcode.InvalidToken, "unknown access token")
	case err != nil:
		return nil, err
	case tok.UsedAt != nil:
		return nil, errcode.New(errcode.InvalidToken, "the access token was already used")
	case !now.Before(tok.ExpiresAt):
		return nil, errcode.New(errcode.InvalidToken, "the access token has expired")
	}
	// The offer issues on behalf of the issuer token that made it: once
	// that token is revoked (it may have leaked), nothing more is issued on
	// any of its offers.
	maker, err := s.state.TokenByID(ctx, offer.TokenID)
	switch {
	case errors.Is(err, records.ErrNotFound) || (err == nil && maker.RevokedAt != nil):
		// The access token is valid: the refusal is the offer's, and audited.
		refused := errcode.New(errcode.InvalidToken, "the offer was made by an issuer token that has been revoked")
		d, _ := json.Marshal(map[string]any{"code": refused.Code, "issuer_token": offer.TokenID, "revoked": true})
		if _, aerr := s.state.AppendAudit(ctx, records.AuditEntry{Time: now, Actor: "oid4vci", Action: "oid4vci.credential.refuse", Target: offer.ID, Details: d}); aerr != nil {
			return nil, aerr
		}
		return nil, refused
	case err != nil:
		return nil, fmt.Errorf("oid4vci: the offer's issuer token: %w", err)
	}
	out, err := s.credential(ctx, now, tokHash, offer, body)
	if err != nil && errcode.CodeOf(err) != errcode.Internal && errcode.CodeOf(err) != errcode.InvalidToken {
		d, _ := json.Marshal(map[string]any{"code": errcode.CodeOf(err)})
		if _, aerr := s.state.AppendAudit(ctx, records.AuditEntry{Time: now, Actor: "oid4vci", Action: "oid4vci.credential.refuse", Target: offer.ID, Details: d}); aerr != nil {
			return nil, aerr
		}
	}
	return out, err
}

func (s *Service) credential(ctx context.Context, now time.Time, tokHash []byte, offer records.Offer, body []byte) (*CredentialResponse, error) {
	req, err := ParseCredentialRequest(body)
	if err != nil {
		return nil, err
	}
	if req.CredentialConfigurationID != s.cfg.ConfigurationID {
		return nil, errcode.New(errcode.UnknownCredentialConfiguration, "credential_configuration_id %q is not offered", req.CredentialConfigurationID)
	}
	var proofs []string
	if err := json.Unmarshal(req.Proofs["jwt"], &proofs); err != nil || len(proofs) == 0 {
		return nil, errcode.New(errcode.InvalidProof, "proofs.jwt must be a non-empty array of JWTs")
	}
	if len(proofs) > s.cfg.BatchSize {
		return nil, errcode.New(errcode.TooLarge, "%d proofs exceed the batch size of %d", len(proofs), s.cfg.BatchSize)
	}
	pol := ProofPolicy{Audience: s.cfg.CredentialIssuer, Algorithms: s.cfg.ProofAlgs, Now: now, MaxAge: s.cfg.ProofMaxAge, Leeway: s.cfg.Leeway, Resolver: s.resolver}
	keys := make([]*ProvenKey, 0, len(proofs))
	seenKey := map[string]bool{}
	seenNonce := map[string]bool{}
	var spent []records.SpentNonce
	for i, p := range proofs {
		// The c_nonce's MAC and expiry are checked inside VerifyProof,
		// before a kid is resolved: a proof with a nonce not ours costs no
		// did:web fetch.
		var exp time.Time
		var id []byte
		pol.Nonce = func(n string) (err error) {
			exp, id, err = s.nonces.Open(n)
			return err
		}
		k, err := VerifyProof(ctx, p, pol)
		if err != nil {
			return nil, fmt.Errorf("proof %d: %w", i, err)
		}
		tp, err := k.Key.Thumbprint(cryptoSHA256)
		if err != nil {
			return nil, errcode.Wrap(errcode.ProofKeyInvalid, err, "proof %d: key thumbprint", i)
		}
		if seenKey[string(tp)] {
			return nil, errcode.New(errcode.ProofKeyInvalid, "proof %d: the key of an earlier proof; each credential needs its own key", i)
		}
		seenKey[string(tp)] = true
		if !seenNonce[string(id)] {
			seenNonce[string(id)] = true
			spent = append(spent, records.SpentNonce{ID: hash(string(id)), ExpiresAt: exp})
		}
		keys = append(keys, k)
	}
	var tpl template
	if err := tpl.decode(offer.Template); err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "stored offer %s", offer.ID)
	}
	// Each request is checked as the issuer will take it before the token
	// and the nonces are spent, so that what the issuer refuses is answered
	// as the client's mistake and leaves the token usable: a proof's key the
	// subject's DID does not list as a holder key (a did:web key that is not
	// under authentication), or an offer whose certification can no longer
	// be issued (its expires_at has passed).
	reqs := make([]issuer.IssueRequest, len(keys))
	subjects := make([]string, len(keys))
	for i, k := range keys {
		ir := tpl.Request
		ir.Subject = k.DID
		if ir.HolderJWK, err = keyutil.Marshal(k.Key); err != nil {
			return nil, err
		}
		if err := s.issuer.Check(ctx, ir); err != nil {
			if terr := s.issuer.Check(ctx, tpl.Request); terr != nil {
				return nil, terr
			}
			if c := errcode.CodeOf(err); c == errcode.Internal || c == errcode.StorageUnwritable {
				return nil, err
			}
			msg := err.Error()
			var ce *errcode.Error
			if errors.As(err, &ce) {
				msg = ce.Message
			}
			return nil, fmt.Errorf("proof %d: %w", i, errcode.Wrap(errcode.ProofKeyInvalid, err, "no credential for %s can be bound to this key: %s", k.DID, msg))
		}
		reqs[i], subjects[i] = ir, k.DID
	}
	d, _ := json.Marshal(map[string]any{"subjects": subjects})
	err = s.state.SpendToken(ctx, tokHash, spent, now, &records.AuditEntry{Time: now, Actor: "oid4vci", Action: "oid4vci.credential", Target: offer.ID, Details: d})
	switch {
	case errors.Is(err, records.ErrTokenSpent):
		return nil, errcode.New(errcode.InvalidToken, "the access token was already used")
	case errors.Is(err, records.ErrNonceSpent):
		return nil, errcode.New(errcode.NonceReplayed, "the c_nonce was already used; get a new one from the nonce endpoint")
	case err != nil:
		return nil, err
	}
	out := &CredentialResponse{}
	for _, ir := range reqs {
		issued, err := s.issuer.Issue(ctx, issuer.Actor{TokenID: offer.TokenID, Role: "issuer"}, ir, "", nil)
		if err != nil {
			return nil, fmt.Errorf("oid4vci: issue for offer %s: %w", offer.ID, err)
		}
		out.Credentials = append(out.Credentials, IssuedCredential{Credential: issued.Credential})
	}
	return out, nil
}

// ParseCredentialRequest parses a credential request body strictly and
// refuses what agentcert does not support: credential_identifier,
// the singular proof of drafts, response encryption and proof types other
// than jwt.
func ParseCredentialRequest(body []byte) (*CredentialRequest, error) {
	var req CredentialRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, errcode.New(errcode.InvalidCredentialRequest, "the credential request does not parse: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return nil, errcode.New(errcode.InvalidCredentialRequest, "trailing data after the credential request")
	}
	switch {
	case req.CredentialIdentifier != "":
		return nil, errcode.New(errcode.InvalidCredentialRequest, "credential_identifier is not supported; give credential_configuration_id")
	case req.CredentialConfigurationID == "":
		return nil, errcode.New(errcode.InvalidCredentialRequest, "credential_configuration_id is required")
	case len(req.Proof) > 0:
		return nil, errcode.New(errcode.InvalidCredentialRequest, "proof is not part of OpenID4VCI 1.0; send proofs")
	case len(req.CredentialResponseEncryption) > 0:
		return nil, errcode.New(errcode.InvalidCredentialRequest, "credential response encryption is not supported")
	case len(req.Proofs) == 0:
		return nil, errcode.New(errcode.InvalidProof, "proofs is required")
	}
	for k := range req.Proofs {
		if k != "jwt" {
			return nil, errcode.New(errcode.InvalidProof, "proof type %q is not supported; use jwt", k)
		}
	}
	return &req, nil
}

// codeFor derives the pre-authorized code of an offer from its reference.
func (s *Service) codeFor(ref string) string {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte("agentcert oid4vci pre-authorized_code\x00" + ref))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func txHash(offerID, tx string) []byte { return hash(offerID + "\x00" + tx) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// randomToken returns 256 random bits, base64url.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomCode returns a transaction code of n digits, or of n letters and
// digits that are hard to confuse.
func randomCode(n int, mode string) string {
	alphabet := "0123456789"
	if mode == "text" {
		alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	}
	out := make([]byte, n)
	for i := range out {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		out[i] = alphabet[v.Int64()]
	}
	return string(out)
}

const cryptoSHA256 = crypto.SHA256
