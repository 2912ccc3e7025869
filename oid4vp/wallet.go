package oid4vp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/jsonptr"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/oid4vp/dcql"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Resolved is an authorization request a wallet has checked.
type Resolved struct {
	AuthorizationRequest
	Query  *dcql.Query
	Signed bool   // it came as a request object whose signature verified
	KeyID  string // the verification method that signed it
	// TransactionData are the decoded transaction_data entries.
	TransactionData []*TransactionData
}

// WalletOptions say how a wallet resolves requests.
type WalletOptions struct {
	// Fetch gets a request_uri. The CLI passes its HTTP client, limited to
	// https or http to a loopback host; it is not the outbound address
	// guard, so a request_uri on a private address is fetched.
	Fetch func(ctx context.Context, uri string) ([]byte, error)
	// Resolver resolves the verifier's DID for a signed request.
	Resolver   did.Resolver
	Algorithms []jwa.SignatureAlgorithm // request object algorithms; default ES256, EdDSA
	Now        func() time.Time
	Leeway     time.Duration
}

// ResolveRequest turns the parameters of a link (ParseLink) into a checked
// request: by reference (request_uri, fetched) or by value (request, or
// the parameters themselves). A decentralized_identifier: request must be a
// request object signed (typ oauth-authz-req+jwt) with a key of the
// verifier's DID document named by kid, whose client_id is the link's;
// a redirect_uri: request must be unsigned and its client_id must be its
// response_uri. Other prefixes are refused. Errors: request_object_invalid,
// dcql_invalid, and the fetcher's and resolver's own.
func ResolveRequest(ctx context.Context, params url.Values, o WalletOptions) (*Resolved, error) {
	bad := func(format string, args ...any) error {
		return errcode.New(errcode.RequestObjectInvalid, format, args...)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = jose.DefaultAlgorithms()
	}
	outer := params.Get("client_id")
	var jwt string
	switch {
	case params.Get("request_uri") != "" && params.Get("request") != "":
		return nil, bad("a request carries both request and request_uri")
	case params.Get("request_uri") != "":
		if m := params.Get("request_uri_method"); m != "" && m != "get" {
			return nil, bad("request_uri_method %q is not supported (get)", m)
		}
		if o.Fetch == nil {
			return nil, bad("no way to fetch request_uri")
		}
		b, err := o.Fetch(ctx, params.Get("request_uri"))
		if err != nil {
			return nil, err
		}
		jwt = strings.TrimSpace(string(b))
	case params.Get("request") != "":
		jwt = params.Get("request")
	}
	res := &Resolved{}
	if jwt != "" {
		ar, kid, err := verifyRequestObject(ctx, jwt, o)
		if err != nil {
			return nil, err
		}
		if outer != "" && ar.ClientID != outer {
			return nil, bad("the request object's client_id is not the link's")
		}
		if ar.Expiry != 0 && o.Now().After(time.Unix(ar.Expiry, 0).Add(o.Leeway)) {
			return nil, bad("the request object has expired")
		}
		res.AuthorizationRequest, res.Signed, res.KeyID = *ar, true, kid
	} else {
		ar, err := requestFromParams(params)
		if err != nil {
			return nil, err
		}
		res.AuthorizationRequest = *ar
	}
	ar := &res.AuthorizationRequest
	switch {
	case strings.HasPrefix(ar.ClientID, PrefixDID):
		if !res.Signed {
			return nil, bad("a %s request must be signed", strings.TrimSuffix(PrefixDID, ":"))
		}
	case strings.HasPrefix(ar.ClientID, PrefixRedirectURI):
		if res.Signed {
			return nil, bad("a redirect_uri: request must not be signed")
		}
		if strings.TrimPrefix(ar.ClientID, PrefixRedirectURI) != ar.ResponseURI {
			return nil, bad("a redirect_uri: client_id must be its response_uri")
		}
	default:
		return nil, bad("client_id %q has no supported prefix (decentralized_identifier:, redirect_uri:)", ar.ClientID)
	}
	if ar.ResponseType != ResponseTypeVPToken {
		return nil, bad("response_type %q is not vp_token", ar.ResponseType)
	}
	if ar.ResponseMode != ModeDirectPost && ar.ResponseMode != ModeDirectPostJWT {
		return nil, bad("response_mode %q is not supported (direct_post, direct_post.jwt)", ar.ResponseMode)
	}
	if u, err := url.Parse(ar.ResponseURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, bad("response_uri is not an http(s) URL")
	}
	if ar.Nonce == "" {
		return nil, bad("the request has no nonce")
	}
	q, err := dcql.Parse(ar.DCQLQuery)
	if err != nil {
		return nil, err
	}
	res.Query = q
	if res.TransactionData, err = checkTransactionData(ar.TransactionData, q); err != nil {
		return nil, errcode.Wrap(errcode.RequestObjectInvalid, err, "transaction_data: %s", err)
	}
	return res, nil
}

// verifyRequestObject checks a request object's header and signature
// against the verifier's DID and returns its claims.
func verifyRequestObject(ctx context.Context, jwt string, o WalletOptions) (*AuthorizationRequest, string, error) {
	bad := func(format string, args ...any) error {
		return errcode.New(errcode.RequestObjectInvalid, format, args...)
	}
	if len(jwt) > MaxRequestBytes {
		return nil, "", errcode.New(errcode.TooLarge, "a request object is at most %d bytes", MaxRequestBytes)
	}
	msg, err := jws.Parse([]byte(jwt))
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, "", bad("the request object is not a compact JWS")
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if !jose.TypIs(h.Type(), RequestObjectTyp) {
		return nil, "", bad("the request object's typ %q is not %s", h.Type(), RequestObjectTyp)
	}
	if !jose.Allowed(h.Algorithm().String(), o.Algorithms) {
		return nil, "", errcode.New(errcode.UnsupportedAlg, "request object alg %q is not allowed", h.Algorithm())
	}
	if _, ok := h.Get("crit"); ok {
		return nil, "", errcode.New(errcode.UnknownCrit, "the request object has a crit header")
	}
	var ar AuthorizationRequest
	if err := jsonstrict.Check(msg.Payload()); err != nil {
		return nil, "", bad("the request object's payload is not plain JSON: %s", err)
	}
	if err := json.Unmarshal(msg.Payload(), &ar); err != nil {
		return nil, "", bad("the request object's payload is not a JSON object of request parameters")
	}
	didID, ok := strings.CutPrefix(ar.ClientID, PrefixDID)
	if !ok {
		return nil, "", bad("a signed request must have a %s client_id", PrefixDID)
	}
	kid := h.KeyID()
	if !strings.HasPrefix(kid, didID+"#") {
		return nil, "", bad("the request object's kid %q is not a DID URL of %s", kid, didID)
	}
	if o.Resolver == nil {
		return nil, "", bad("no DID resolver to check the request object")
	}
	key, err := did.MethodKey(ctx, o.Resolver, kid)
	if err != nil {
		return nil, "", err
	}
	if _, err := jws.Verify([]byte(jwt), jws.WithKey(h.Algorithm(), key)); err != nil {
		return nil, "", errcode.Wrap(errcode.RequestObjectInvalid, err, "the request object's signature does not verify with %s", kid)
	}
	return &ar, kid, nil
}

// requestFromParams reads an unsigned request passed by value: the JSON
// valued parameters are JSON strings.
func requestFromParams(v url.Values) (*AuthorizationRequest, error) {
	ar := &AuthorizationRequest{
		ResponseType: v.Get("response_type"), ClientID: v.Get("client_id"), ResponseMode: v.Get("response_mode"),
		ResponseURI: v.Get("response_uri"), Nonce: v.Get("nonce"), State: v.Get("state"),
		DCQLQuery: json.RawMessage(v.Get("dcql_query")),
	}
	if cm := v.Get("client_metadata"); cm != "" {
		ar.ClientMetadata = &ClientMetadata{}
		if err := json.Unmarshal([]byte(cm), ar.ClientMetadata); err != nil {
			return nil, errcode.New(errcode.RequestObjectInvalid, "client_metadata is not a JSON object")
		}
	}
	if td := v.Get("transaction_data"); td != "" {
		if err := json.Unmarshal([]byte(td), &ar.TransactionData); err != nil {
			return nil, errcode.New(errcode.RequestObjectInvalid, "transaction_data is not a JSON array of strings")
		}
	}
	return ar, nil
}

// Held is one credential the wallet holds: an SD-JWT without a KB-JWT.
// Approval, when set, is a person's approval (package approval) that the
// wallet binds into the KB-JWT of this credential's presentation (claim
// agentcert_approval) when the request's agentcert_approval transaction
// data names its credential query.
type Held struct {
	SDJWT    string
	Approval string
}

// Presentation is what the wallet sends for one credential query.
type Presentation struct {
	QueryID      string
	Credential   int      // index in the held credentials
	Disclosed    []string // the JSON Pointers disclosed
	Presentation string   // the SD-JWT+KB
	TxHashes     []string // transaction_data_hashes bound into the KB-JWT
}

// Answer is a wallet's authorization response: the form to post to
// response_uri and what it presents.
type Answer struct {
	Form          url.Values
	Presentations []Presentation
}

// Answer matches the request's query against the held credentials,
// presents each chosen credential disclosing the least that satisfies its
// query (dcql.Pick) with a KB-JWT signed by key (aud the client_id, the
// request's nonce, and the hashes of the transaction data that name its
// query, and the credential's approval when agentcert_approval transaction
// data names its query), and builds the response for the request's
// response mode (direct_post.jwt: encrypted with ECDH-ES to the request's
// key). Nothing is answered when an approval is asked for and the chosen
// credential has none (approval_required), or one is held and the request
// asks for none (invalid_input); a held approval is bound only into the
// presentation of the credential query the request asks it for. Errors: query_unsatisfied, invalid_input,
// request_object_invalid, approval_required.
func (r *Resolved) Answer(held []Held, key jwk.Key, now time.Time) (*Answer, error) {
	creds := make([]dcql.Credential, 0, len(held))
	for i, h := range held {
		c, err := fullClaims(h.SDJWT)
		if err != nil {
			return nil, errcode.Wrap(errcode.CodeOf(err), err, "credential %d: %s", i, err)
		}
		creds = append(creds, c)
	}
	choices, err := dcql.Pick(r.Query, creds)
	if err != nil {
		return nil, err
	}
	vp := map[string][]string{}
	out := &Answer{}
	ai := approvalIndex(r.TransactionData)
	for _, ch := range choices {
		var hashes []string
		for i, td := range r.TransactionData {
			if slices.Contains(td.CredentialIDs, ch.QueryID) {
				hashes = append(hashes, TransactionDataHash(r.AuthorizationRequest.TransactionData[i]))
			}
		}
		kb := &sdjwt.KBOptions{Key: key, Audience: r.ClientID, Nonce: r.Nonce, IssuedAt: now}
		if len(hashes) > 0 {
			kb.Claims = map[string]any{"transaction_data_hashes": hashes, "transaction_data_hashes_alg": HashSHA256}
		}
		tok := held[ch.Credential].Approval
		switch asked := ai >= 0 && slices.Contains(r.TransactionData[ai].CredentialIDs, ch.QueryID); {
		case asked && tok == "":
			return nil, errcode.New(errcode.ApprovalRequired, "the request asks a person's approval of %s for %q (agentcert_approval transaction data), and none is held", r.TransactionData[ai].Approval.Action, ch.QueryID)
		case asked:
			kb.Claims[ClaimApproval] = tok
		case tok != "" && ai < 0:
			return nil, errcode.New(errcode.InvalidInput, "an approval is held for credential %d, and the request asks for none", ch.Credential)
		}
		ptrs := make([]string, 0, len(ch.Pointers))
		for _, p := range ch.Pointers {
			ptrs = append(ptrs, jsonptr.Pointer(p).String())
		}
		pres, err := present(held[ch.Credential].SDJWT, ptrs, kb)
		if err != nil {
			return nil, err
		}
		vp[ch.QueryID] = append(vp[ch.QueryID], pres)
		out.Presentations = append(out.Presentations, Presentation{QueryID: ch.QueryID, Credential: ch.Credential, Disclosed: ptrs, Presentation: pres, TxHashes: hashes})
	}
	vpJSON, err := json.Marshal(vp)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "vp_token")
	}
	if r.ResponseMode == ModeDirectPost {
		out.Form = url.Values{"vp_token": {string(vpJSON)}}
		if r.State != "" {
			out.Form.Set("state", r.State)
		}
		return out, nil
	}
	payload := map[string]any{"vp_token": json.RawMessage(vpJSON)}
	if r.State != "" {
		payload["state"] = r.State
	}
	enc, err := r.encrypt(payload)
	if err != nil {
		return nil, err
	}
	out.Form = url.Values{"response": {enc}}
	return out, nil
}

// Decline builds an error response (access_denied when code is "").
func (r *Resolved) Decline(code, description string) (url.Values, error) {
	if code == "" {
		code = "access_denied"
	}
	p := map[string]any{"error": code}
	if description != "" {
		p["error_description"] = description
	}
	if r.State != "" {
		p["state"] = r.State
	}
	if r.ResponseMode == ModeDirectPost {
		f := url.Values{}
		for k, v := range p {
			f.Set(k, v.(string))
		}
		return f, nil
	}
	enc, err := r.encrypt(p)
	if err != nil {
		return nil, err
	}
	return url.Values{"response": {enc}}, nil
}

// encrypt makes the JWE of a direct_post.jwt response: ECDH-ES to the
// first P-256 key of client_metadata.jwks usable for encryption, with the
// first of A128GCM, A256GCM the verifier supports (A128GCM when it names
// none).
func (r *Resolved) encrypt(payload map[string]any) (string, error) {
	bad := func(format string, args ...any) error {
		return errcode.New(errcode.RequestObjectInvalid, format, args...)
	}
	if r.ClientMetadata == nil || r.ClientMetadata.JWKS == nil {
		return "", bad("a direct_post.jwt request carries no client_metadata.jwks")
	}
	var key jwk.Key
	for _, raw := range r.ClientMetadata.JWKS.Keys {
		k, err := jwk.ParseKey(raw)
		if err != nil {
			continue
		}
		if k.KeyType().String() != "EC" || (k.Algorithm().String() != "" && k.Algorithm() != jwa.ECDH_ES) || (k.KeyUsage() != "" && k.KeyUsage() != "enc") {
			continue
		}
		var pub ecdsa.PublicKey
		if err := k.Raw(&pub); err != nil || pub.Curve != elliptic.P256() {
			continue
		}
		key = k
		break
	}
	if key == nil {
		return "", bad("client_metadata.jwks has no P-256 ECDH-ES key")
	}
	enc := jwa.A128GCM
	if ev := r.ClientMetadata.EncryptedResponseEncValuesSupported; len(ev) > 0 {
		i := slices.IndexFunc(ev, func(s string) bool { return slices.Contains(EncValues, s) })
		if i < 0 {
			return "", bad("the verifier supports none of %v", EncValues)
		}
		enc = jwa.ContentEncryptionAlgorithm(ev[i])
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "response")
	}
	hdr := jwe.NewHeaders()
	if kid := key.KeyID(); kid != "" {
		if err := hdr.Set(jwe.KeyIDKey, kid); err != nil {
			return "", errcode.Wrap(errcode.Internal, err, "response header")
		}
	}
	out, err := jwe.Encrypt(body, jwe.WithKey(jwa.ECDH_ES, key), jwe.WithContentEncryption(enc), jwe.WithProtectedHeaders(hdr))
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "response encryption failed")
	}
	return string(out), nil
}

// present presents a held credential disclosing ptrs, with the KB-JWT kb.
// A delegation chain is presented whole, its KB-JWT signed with the last
// delegate's key (kb.Key); ptrs select the root's disclosures unless its
// first hop fixed them (sd_hash), and the verifier checks the query against
// those the chain carries.
func present(held string, ptrs []string, kb *sdjwt.KBOptions) (string, error) {
	if !sdjwt.IsChain(held) {
		return sdjwt.Present(held, ptrs, kb)
	}
	_, fixed, err := sdjwt.ChainRoot(held)
	if err != nil {
		return "", err
	}
	if fixed {
		ptrs = nil
	}
	return sdjwt.PresentChain(held, ptrs, kb)
}

// fullClaims reads a held SD-JWT with every disclosure applied; for a
// delegation chain, its root's (the certification a query asks for).
func fullClaims(s string) (dcql.Credential, error) {
	var t *sdjwt.Token
	var err error
	if sdjwt.IsChain(s) {
		t, _, err = sdjwt.ChainRoot(s)
	} else {
		t, err = sdjwt.Parse(s, sdjwt.Limits{})
	}
	if err != nil {
		return dcql.Credential{}, err
	}
	claims, err := sdjwt.ProcessDisclosures(t.UnverifiedPayload(), t.Disclosures, sdjwt.Limits{})
	if err != nil {
		return dcql.Credential{}, err
	}
	// Claims compared with DCQL values keep their numbers exact.
	b, err := json.Marshal(claims)
	if err != nil {
		return dcql.Credential{}, errcode.Wrap(errcode.InvalidInput, err, "credential claims")
	}
	var m map[string]any
	if err := jsonstrict.Decode(b, &m); err != nil {
		return dcql.Credential{}, errcode.Wrap(errcode.InvalidInput, err, "credential claims")
	}
	vct, _ := m["vct"].(string)
	return dcql.Credential{VCT: vct, Claims: m}, nil
}
