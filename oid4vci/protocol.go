package oid4vci

import "encoding/json"

// Identifiers the specification fixes.
const (
	// GrantPreAuthorizedCode is the pre-authorized code grant type.
	GrantPreAuthorizedCode = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
	// ProofTyp is the typ of a jwt key proof.
	ProofTyp = "openid4vci-proof+jwt"
	// OfferScheme starts a credential offer link.
	OfferScheme = "openid-credential-offer://"
	// FormatSDJWTVC is the credential format identifier of SD-JWT VC.
	FormatSDJWTVC = "dc+sd-jwt"
	// WellKnownIssuer and WellKnownAS are the metadata paths.
	WellKnownIssuer = "/.well-known/openid-credential-issuer"
	WellKnownAS     = "/.well-known/oauth-authorization-server"
)

// CredentialOffer is a Credential Offer object.
type CredentialOffer struct {
	CredentialIssuer           string   `json:"credential_issuer"`
	CredentialConfigurationIDs []string `json:"credential_configuration_ids"`
	Grants                     Grants   `json:"grants"`
}

// Grants lists the grants of an offer; agentcert offers only the
// pre-authorized code.
type Grants struct {
	PreAuthorizedCode *PreAuthorizedGrant `json:"urn:ietf:params:oauth:grant-type:pre-authorized_code,omitempty"`
}

// PreAuthorizedGrant carries the code and, when one is asked, the
// description of the transaction code.
type PreAuthorizedGrant struct {
	Code   string  `json:"pre-authorized_code"`
	TxCode *TxCode `json:"tx_code,omitempty"`
}

// TxCode describes the transaction code the user must give.
type TxCode struct {
	InputMode   string `json:"input_mode,omitempty"` // numeric (default) or text
	Length      int    `json:"length,omitempty"`
	Description string `json:"description,omitempty"`
}

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// NonceResponse is the nonce endpoint's answer.
type NonceResponse struct {
	CNonce string `json:"c_nonce"`
}

// CredentialRequest is the body of a credential request. Members agentcert
// does not support are kept so that they can be refused by name.
type CredentialRequest struct {
	CredentialConfigurationID    string                     `json:"credential_configuration_id,omitempty"`
	CredentialIdentifier         string                     `json:"credential_identifier,omitempty"`
	Proofs                       map[string]json.RawMessage `json:"proofs,omitempty"`
	Proof                        json.RawMessage            `json:"proof,omitempty"`
	CredentialResponseEncryption json.RawMessage            `json:"credential_response_encryption,omitempty"`
}

// CredentialResponse is the credential endpoint's answer: one credential
// per proof, in the order of the proofs.
type CredentialResponse struct {
	Credentials []IssuedCredential `json:"credentials"`
}

// IssuedCredential is one credential of a response.
type IssuedCredential struct {
	Credential string `json:"credential"`
}

// ErrorResponse is an OAuth error response; Code is agentcert's finer code.
type ErrorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Code        string `json:"code,omitempty"`
}

// IssuerMetadata is the Credential Issuer Metadata.
type IssuerMetadata struct {
	CredentialIssuer                  string                             `json:"credential_issuer"`
	AuthorizationServers              []string                           `json:"authorization_servers,omitempty"`
	CredentialEndpoint                string                             `json:"credential_endpoint"`
	NonceEndpoint                     string                             `json:"nonce_endpoint"`
	BatchCredentialIssuance           *BatchIssuance                     `json:"batch_credential_issuance,omitempty"`
	Display                           []Display                          `json:"display,omitempty"`
	CredentialConfigurationsSupported map[string]CredentialConfiguration `json:"credential_configurations_supported"`
}

// BatchIssuance advertises how many proofs one request may carry.
type BatchIssuance struct {
	BatchSize int `json:"batch_size"`
}

// Display is a display entry (name, locale, description).
type Display struct {
	Name        string `json:"name"`
	Locale      string `json:"locale,omitempty"`
	Description string `json:"description,omitempty"`
}

// CredentialConfiguration describes one credential the issuer offers.
type CredentialConfiguration struct {
	Format                               string               `json:"format"`
	VCT                                  string               `json:"vct"`
	Scope                                string               `json:"scope,omitempty"`
	CryptographicBindingMethodsSupported []string             `json:"cryptographic_binding_methods_supported"`
	CredentialSigningAlgValuesSupported  []string             `json:"credential_signing_alg_values_supported"`
	ProofTypesSupported                  map[string]ProofType `json:"proof_types_supported"`
	CredentialMetadata                   *CredentialMetadata  `json:"credential_metadata,omitempty"`
}

// ProofType lists the algorithms of one proof type.
type ProofType struct {
	ProofSigningAlgValuesSupported []string `json:"proof_signing_alg_values_supported"`
}

// CredentialMetadata is the display data of a credential configuration.
type CredentialMetadata struct {
	Display []Display `json:"display,omitempty"`
	Claims  []Claim   `json:"claims,omitempty"`
}

// Claim describes one claim of the credential by its path.
type Claim struct {
	Path      []any     `json:"path"`
	Mandatory bool      `json:"mandatory,omitempty"`
	Display   []Display `json:"display,omitempty"`
}

// ASMetadata is the OAuth 2.0 Authorization Server Metadata (RFC 8414) of
// the pre-authorized code flow.
type ASMetadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	PreAuthorizedGrantAnonymous       bool     `json:"pre-authorized_grant_anonymous_access_supported"`
}
