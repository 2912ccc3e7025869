package oid4vci

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/agentcert/agentcert/errcode"
)

// Limits on what a wallet reads from an offer.
const (
	MaxOfferBytes  = 16 << 10 // an offer link, or an offer fetched from a credential_offer_uri
	MaxTxCodeChars = 64
)

// OfferLink returns the openid-credential-offer:// link that carries offer
// by value.
func OfferLink(offer CredentialOffer) (string, error) {
	b, err := json.Marshal(offer)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "encode the credential offer")
	}
	return OfferScheme + "?" + url.Values{"credential_offer": {string(b)}}.Encode(), nil
}

// OfferURILink returns the openid-credential-offer:// link that carries the
// offer by reference.
func OfferURILink(uri string) string {
	return OfferScheme + "?" + url.Values{"credential_offer_uri": {uri}}.Encode()
}

// ParseOfferLink reads a credential offer as a wallet receives it: a link
// (openid-credential-offer:// or any URL) whose query has exactly one of
// credential_offer and credential_offer_uri, or the offer's JSON itself.
// It returns the offer when given by value, else the URI to fetch it from
// (an https or http URL; which to allow is the caller's choice).
//
// Errors are invalid_input, too_large for input over MaxOfferBytes.
func ParseOfferLink(s string) (*CredentialOffer, string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxOfferBytes {
		return nil, "", errcode.New(errcode.TooLarge, "the offer is longer than %d bytes", MaxOfferBytes)
	}
	if strings.HasPrefix(s, "{") {
		o, err := ParseOffer([]byte(s))
		return o, "", err
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return nil, "", errcode.New(errcode.InvalidInput, "the offer is neither a link nor a JSON object")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, "", errcode.New(errcode.InvalidInput, "the offer link's query does not parse")
	}
	byValue, byRef := q["credential_offer"], q["credential_offer_uri"]
	switch {
	case len(byValue)+len(byRef) != 1:
		return nil, "", errcode.New(errcode.InvalidInput, "the offer link must carry exactly one credential_offer or credential_offer_uri")
	case len(byValue) == 1:
		o, err := ParseOffer([]byte(byValue[0]))
		return o, "", err
	}
	ref, err := url.Parse(byRef[0])
	if err != nil || (ref.Scheme != "https" && ref.Scheme != "http") || ref.Host == "" || ref.User != nil || ref.Fragment != "" {
		return nil, "", errcode.New(errcode.InvalidInput, "credential_offer_uri is not an http(s) URL")
	}
	return nil, ref.String(), nil
}

// ParseOffer parses and checks a Credential Offer object: an http(s)
// credential_issuer, at least one configuration id, and a pre-authorized code
// grant (the only grant agentcert's wallet runs). Members it does not know
// are ignored, as the specification asks.
func ParseOffer(b []byte) (*CredentialOffer, error) {
	if len(b) > MaxOfferBytes {
		return nil, errcode.New(errcode.TooLarge, "the offer is longer than %d bytes", MaxOfferBytes)
	}
	var o CredentialOffer
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&o); err != nil {
		return nil, errcode.New(errcode.InvalidInput, "the credential offer is not a JSON object: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return nil, errcode.New(errcode.InvalidInput, "trailing data after the credential offer")
	}
	iss, err := url.Parse(o.CredentialIssuer)
	if err != nil || (iss.Scheme != "https" && iss.Scheme != "http") || iss.Host == "" || iss.RawQuery != "" || iss.Fragment != "" || iss.User != nil {
		return nil, errcode.New(errcode.InvalidInput, "credential_issuer is not an http(s) URL without query or fragment")
	}
	if len(o.CredentialConfigurationIDs) == 0 {
		return nil, errcode.New(errcode.InvalidInput, "the offer names no credential_configuration_ids")
	}
	for _, id := range o.CredentialConfigurationIDs {
		if id == "" {
			return nil, errcode.New(errcode.InvalidInput, "the offer names an empty credential configuration id")
		}
	}
	g := o.Grants.PreAuthorizedCode
	if g == nil || g.Code == "" {
		return nil, errcode.New(errcode.InvalidInput, "the offer has no pre-authorized code grant")
	}
	if t := g.TxCode; t != nil {
		if t.InputMode != "" && t.InputMode != "numeric" && t.InputMode != "text" {
			return nil, errcode.New(errcode.InvalidInput, "tx_code input_mode must be numeric or text")
		}
		if t.Length < 0 || t.Length > MaxTxCodeChars {
			return nil, errcode.New(errcode.InvalidInput, "tx_code length must be between 1 and %d", MaxTxCodeChars)
		}
	}
	return &o, nil
}
