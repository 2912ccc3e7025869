package oid4vp

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/oid4vp/dcql"
)

// Identifiers the specification fixes.
const (
	// Scheme starts an authorization request link.
	Scheme = "openid4vp://"
	// ResponseTypeVPToken is the only response_type.
	ResponseTypeVPToken = "vp_token"
	// ResponseModes agentcert serves.
	ModeDirectPost    = "direct_post"
	ModeDirectPostJWT = "direct_post.jwt"
	// Client identifier prefixes (section 5.9).
	PrefixDID         = "decentralized_identifier:"
	PrefixRedirectURI = "redirect_uri:"
	// RequestObjectTyp is the typ of a signed request object (RFC 9101).
	RequestObjectTyp = "oauth-authz-req+jwt"
	// RequestObjectMediaType is the media type request_uri serves.
	RequestObjectMediaType = "application/oauth-authz-req+jwt"
	// SelfIssuedAudience is the aud of a request object for a wallet
	// without metadata (static discovery).
	SelfIssuedAudience = "https://self-issued.me/v2"
	// HashSHA256 is the default (and only) transaction data hash algorithm.
	HashSHA256 = "sha-256"
)

// Limits on untrusted protocol input.
const (
	MaxRequestBytes      = 128 << 10 // a request object or a response body
	MaxTransactionData   = 8
	MaxTransactionDataSz = 8 << 10 // one encoded transaction data entry
	MaxPresentations     = 16      // presentations in one vp_token
)

// AuthorizationRequest is an OpenID4VP Authorization Request: the
// parameters by value, or the claims of a request object (which also
// carries iss, aud, iat and exp).
type AuthorizationRequest struct {
	ResponseType    string          `json:"response_type"`
	ClientID        string          `json:"client_id"`
	ResponseMode    string          `json:"response_mode"`
	ResponseURI     string          `json:"response_uri"`
	Nonce           string          `json:"nonce"`
	State           string          `json:"state,omitempty"`
	DCQLQuery       json.RawMessage `json:"dcql_query"`
	ClientMetadata  *ClientMetadata `json:"client_metadata,omitempty"`
	TransactionData []string        `json:"transaction_data,omitempty"`

	Issuer   string `json:"iss,omitempty"`
	Audience any    `json:"aud,omitempty"`
	IssuedAt int64  `json:"iat,omitempty"`
	Expiry   int64  `json:"exp,omitempty"`
}

// ClientMetadata is the verifier metadata passed in the request.
type ClientMetadata struct {
	JWKS                                *JWKS          `json:"jwks,omitempty"`
	EncryptedResponseEncValuesSupported []string       `json:"encrypted_response_enc_values_supported,omitempty"`
	VPFormatsSupported                  map[string]any `json:"vp_formats_supported,omitempty"`
}

// JWKS is a JSON Web Key Set (the keys kept as JSON).
type JWKS struct {
	Keys []json.RawMessage `json:"keys"`
}

// TransactionData is one decoded transaction_data entry: its type, the
// credential queries that may authorize it, and whatever else the type
// defines (kept in Fields). Approval is the approval request of an entry
// of type TypeApproval.
type TransactionData struct {
	Type          string
	CredentialIDs []string
	HashAlgs      []string
	Fields        map[string]any
	Approval      *approval.Request
}

// DecodeTransactionData reads one base64url-encoded transaction_data entry;
// one of type TypeApproval must name one credential query and carry an
// approval request whose digest is that of its action and params.
// Errors: invalid_input, too_large.
func DecodeTransactionData(s string) (*TransactionData, error) {
	if len(s) > MaxTransactionDataSz {
		return nil, errcode.New(errcode.TooLarge, "a transaction data entry is at most %d bytes", MaxTransactionDataSz)
	}
	raw, err := b64.DecodeString(s)
	if err != nil {
		return nil, errcode.New(errcode.InvalidInput, "transaction data is not base64url")
	}
	var m map[string]any
	if err := jsonstrict.Decode(raw, &m); err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "transaction data is not a JSON object")
	}
	td := &TransactionData{Fields: m}
	td.Type, _ = m["type"].(string)
	if td.Type == "" {
		return nil, errcode.New(errcode.InvalidInput, "transaction data has no type")
	}
	ids, _ := m["credential_ids"].([]any)
	for _, v := range ids {
		if s, ok := v.(string); ok && s != "" {
			td.CredentialIDs = append(td.CredentialIDs, s)
		}
	}
	if len(ids) == 0 || len(td.CredentialIDs) != len(ids) {
		return nil, errcode.New(errcode.InvalidInput, "transaction data needs credential_ids, a non-empty array of strings")
	}
	if v, ok := m["transaction_data_hashes_alg"]; ok {
		algs, _ := v.([]any)
		for _, a := range algs {
			if s, ok := a.(string); ok {
				td.HashAlgs = append(td.HashAlgs, s)
			}
		}
		if len(td.HashAlgs) == 0 || len(td.HashAlgs) != len(algs) {
			return nil, errcode.New(errcode.InvalidInput, "transaction_data_hashes_alg must be a non-empty array of strings")
		}
	}
	if td.Type == TypeApproval {
		r, err := decodeApprovalData(m, td.CredentialIDs)
		if err != nil {
			return nil, err
		}
		td.Approval = r
	}
	return td, nil
}

// hashAlgOK reports whether sha-256 is acceptable for td.
func (td *TransactionData) hashAlgOK() bool {
	if len(td.HashAlgs) == 0 {
		return true
	}
	for _, a := range td.HashAlgs {
		if a == HashSHA256 {
			return true
		}
	}
	return false
}

// TransactionDataHash is the hash a KB-JWT carries for one entry: the
// base64url SHA-256 of the entry as it was received (its encoded string).
func TransactionDataHash(entry string) string {
	return b64.EncodeToString(sha256Sum([]byte(entry)))
}

// checkTransactionData decodes every entry and checks that each names
// credential queries of q and accepts sha-256, and that at most one asks
// for an approval.
func checkTransactionData(entries []string, q *dcql.Query) ([]*TransactionData, error) {
	if len(entries) > MaxTransactionData {
		return nil, errcode.New(errcode.TooLarge, "at most %d transaction data entries", MaxTransactionData)
	}
	out := make([]*TransactionData, 0, len(entries))
	for i, e := range entries {
		td, err := DecodeTransactionData(e)
		if err != nil {
			return nil, err
		}
		for _, id := range td.CredentialIDs {
			if _, ok := q.Credential(id); !ok {
				return nil, errcode.New(errcode.InvalidInput, "transaction data %d names credential query %q, which the query does not define", i, id)
			}
		}
		if !td.hashAlgOK() {
			return nil, errcode.New(errcode.InvalidInput, "transaction data %d does not accept %s", i, HashSHA256)
		}
		if td.Approval != nil && approvalIndex(out) >= 0 {
			return nil, errcode.New(errcode.InvalidInput, "at most one %s transaction data entry", TypeApproval)
		}
		out = append(out, td)
	}
	return out, nil
}

// Link renders an openid4vp:// link with params.
func Link(params url.Values) string {
	return Scheme + "?" + params.Encode()
}

// ParseLink reads what a wallet is given: an openid4vp:// link or an https
// URL with the request in its query, or a JSON object of request
// parameters. It returns the parameters. Errors: invalid_input, too_large.
func ParseLink(s string) (url.Values, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxRequestBytes {
		return nil, errcode.New(errcode.TooLarge, "an authorization request is at most %d bytes", MaxRequestBytes)
	}
	if strings.HasPrefix(s, "{") {
		var m map[string]json.RawMessage
		if err := jsonstrict.Decode([]byte(s), &m); err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "the authorization request is not a JSON object")
		}
		v := url.Values{}
		for k, raw := range m {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				v.Set(k, str)
			} else {
				v.Set(k, string(raw))
			}
		}
		return v, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "openid4vp" && u.Scheme != "https" && u.Scheme != "http") {
		return nil, errcode.New(errcode.InvalidInput, "not an openid4vp:// link, an https URL or a JSON request")
	}
	v, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errcode.New(errcode.InvalidInput, "the link's query does not parse")
	}
	if v.Get("client_id") == "" {
		if u.Scheme != "openid4vp" && v.Get("request") == "" && v.Get("request_uri") == "" {
			return url.Values{"request_uri": {s}}, nil // the request_uri itself
		}
		return nil, errcode.New(errcode.InvalidInput, "the link carries no client_id")
	}
	return v, nil
}

// ResponseError names the OAuth error the response endpoint answers a
// failure with code c: invalid_request for anything wrong with the
// response, temporarily_unavailable while the store of requests (a
// shared Redis) does not answer, server_error for another fault of ours.
func ResponseError(c errcode.Code) string {
	switch c {
	case errcode.Internal, "":
		return "server_error"
	case errcode.NonceStoreUnavailable:
		return "temporarily_unavailable"
	}
	return "invalid_request"
}
