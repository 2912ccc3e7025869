package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/oid4vci"
)

// vciClock is a settable clock for the OpenID4VCI flow.
type vciClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *vciClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *vciClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type vciEnv struct {
	t      *testing.T
	s      *Server
	st     *store.SQLite
	doc    *openapi3.T
	clock  *vciClock
	issuer string // the issuer token
	aud    string // the credential issuer identifier
}

// newVCIEnv is a TestEnv whose OpenID4VCI flow runs on a settable clock.
func newVCIEnv(t *testing.T) *vciEnv {
	return newVCIEnvWith(t, did.NewResolver(nil))
}

// newVCIEnvWith is newVCIEnv whose flow resolves proofs' kid with r.
func newVCIEnvWith(t *testing.T, r did.Resolver) *vciEnv {
	env := NewTestEnv(t, nil)
	clock := &vciClock{t: time.Now()}
	vci, err := NewOID4VCI(env.Cfg, env.Store, env.Parts.Service, make([]byte, 32), r, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Config: env.Cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: env.Store,
		Issuer: env.Parts.Service, Statuses: env.Parts.Statuses, Schemas: env.Server.schemas, OID4VCI: vci,
	})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := tokens.Create(context.Background(), env.Store, tokens.RoleIssuer, "vci", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &vciEnv{t: t, s: s, st: env.Store, doc: loadOpenAPI(t), clock: clock, issuer: secret, aud: env.Cfg.PublicURL}
}

// call makes one request, checked against the OpenAPI document, and
// decodes the JSON answer into out.
func (e *vciEnv) call(name, method, path, tmpl, token, ctype, body string, want int, out any) {
	e.t.Helper()
	e.callDoc(name, method, path, tmpl, token, ctype, body, want, out, false)
}

// callDoc is call for a request the document itself refuses (docRejects).
func (e *vciEnv) callDoc(name, method, path, tmpl, token, ctype, body string, want int, out any, docRejects bool) {
	e.t.Helper()
	c := apiCall{name: name, method: method, path: path, tmpl: tmpl, token: token, body: body, want: want, docRejects: docRejects}
	if ctype != "" {
		c.header = map[string]string{"Content-Type": ctype}
	}
	rec := c.do(e.t, e.s, e.doc)
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			e.t.Fatalf("%s: answer %s: %v", name, rec.Body, err)
		}
	}
}

const vciClaims = `{"principal":{"id":"did:web:acme.example","name":"ACME Corp","type":"organization"},` +
	`"agent":{"class":"invoice-assistant","version":"2.3.1"},"permissions":[{"action":"invoices:read"}],` +
	`"prohibitions":["payments:initiate"],"autonomy":"supervised"}`

func (e *vciEnv) offer(extra string) oid4vci.CreatedOffer {
	e.t.Helper()
	var out oid4vci.CreatedOffer
	e.call("create offer", "POST", "/v1/offers", "/v1/offers", e.issuer, "", `{"claims":`+vciClaims+extra+`}`, 201, &out)
	return out
}

type oauthErr struct {
	Error       string `json:"error"`
	Code        string `json:"code"`
	Description string `json:"error_description"`
}

func (e *vciEnv) tokenReq(name string, form url.Values, want int) (oid4vci.TokenResponse, oauthErr) {
	e.t.Helper()
	var ok oid4vci.TokenResponse
	var bad oauthErr
	var out any = &ok
	if want != 200 {
		out = &bad
	}
	e.call(name, "POST", "/oid4vci/token", "/oid4vci/token", "", "application/x-www-form-urlencoded", form.Encode(), want, out)
	return ok, bad
}

func preAuth(code string, kv ...string) url.Values {
	v := url.Values{"grant_type": {oid4vci.GrantPreAuthorizedCode}, "pre-authorized_code": {code}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func wantOAuth(t *testing.T, name string, got oauthErr, oauth, code string) {
	t.Helper()
	if got.Error != oauth || got.Code != code {
		t.Fatalf("%s: error %q code %q (%s), want %q / %q", name, got.Error, got.Code, got.Description, oauth, code)
	}
}

func (e *vciEnv) nonce() string {
	e.t.Helper()
	var n oid4vci.NonceResponse
	e.call("nonce", "POST", "/oid4vci/nonce", "/oid4vci/nonce", "", "", "", 200, &n)
	return n.CNonce
}

func (e *vciEnv) credential(name, token string, proofs []string, want int, out any) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"credential_configuration_id": oid4vci.DefaultConfigurationID, "proofs": map[string]any{"jwt": proofs}})
	e.call(name, "POST", "/oid4vci/credential", "/oid4vci/credential", token, "", string(body), want, out)
}

func agentKey(t *testing.T, alg jwa.SignatureAlgorithm, didKID bool) jwk.Key {
	t.Helper()
	k, err := keyutil.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	if didKID {
		d, err := did.KeyDID(k)
		if err != nil {
			t.Fatal(err)
		}
		vm, _ := did.VerificationMethodID(d)
		_ = k.Set(jwk.KeyIDKey, vm)
	}
	return k
}

func (e *vciEnv) proof(k jwk.Key, nonce string) string {
	e.t.Helper()
	p, err := oid4vci.SignProof(k, e.aud, nonce, e.clock.now())
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// rawProof signs a proof with signer, naming the key named in the header.
func rawProof(t *testing.T, signer, named jwk.Key, typ string, claims map[string]any) string {
	t.Helper()
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.TypeKey, typ)
	pub, _ := keyutil.Public(named)
	_ = pub.Remove(jwk.KeyIDKey)
	_ = hdr.Set(jws.JWKKey, pub)
	return signWithHeaders(t, signer, hdr, claims)
}

// signWithHeaders signs claims with signer under the protected headers hdr.
func signWithHeaders(t *testing.T, signer jwk.Key, hdr jws.Headers, claims map[string]any) string {
	t.Helper()
	alg, _ := keyutil.AlgOf(signer)
	var raw any
	_ = signer.Raw(&raw)
	b, _ := json.Marshal(claims)
	out, err := jws.Sign(b, jws.WithKey(alg, raw, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// revokeIssuerToken revokes the env's issuer token (the one offers are made with).
func (e *vciEnv) revokeIssuerToken() {
	e.t.Helper()
	ctx := context.Background()
	it, err := e.st.TokenByHash(ctx, tokens.Hash(e.issuer))
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	if err := e.st.RevokeToken(ctx, it.ID, now, &store.AuditEntry{Time: now, Actor: "test", Action: "token.revoke", Target: it.ID}); err != nil {
		e.t.Fatal(err)
	}
}

func TestOID4VCIFlow(t *testing.T) {
	e := newVCIEnv(t)
	var md oid4vci.IssuerMetadata
	e.call("issuer metadata", "GET", oid4vci.WellKnownIssuer, oid4vci.WellKnownIssuer, "", "", "", 200, &md)
	conf, ok := md.CredentialConfigurationsSupported[oid4vci.DefaultConfigurationID]
	if !ok || conf.Format != "dc+sd-jwt" || conf.VCT != "urn:agentcert:agent-certification:v1" || md.BatchCredentialIssuance == nil ||
		md.BatchCredentialIssuance.BatchSize != oid4vci.DefaultBatchSize || len(conf.ProofTypesSupported["jwt"].ProofSigningAlgValuesSupported) != 2 ||
		md.NonceEndpoint != e.aud+oid4vci.NoncePath || md.CredentialEndpoint != e.aud+oid4vci.CredentialPath || md.CredentialIssuer != e.aud {
		t.Fatalf("issuer metadata %+v", md)
	}
	var as oid4vci.ASMetadata
	e.call("AS metadata", "GET", oid4vci.WellKnownAS, oid4vci.WellKnownAS, "", "", "", 200, &as)
	if as.TokenEndpoint != e.aud+oid4vci.TokenPath || !as.PreAuthorizedGrantAnonymous {
		t.Fatalf("AS metadata %+v", as)
	}

	o := e.offer(`,"tx_code":{"description":"from your operator"}`)
	if len(o.TxCode) != 6 || strings.Trim(o.TxCode, "0123456789") != "" {
		t.Fatalf("tx_code %q is not 6 digits", o.TxCode)
	}
	byValue, _, err := oid4vci.ParseOfferLink(o.OfferLink)
	if err != nil {
		t.Fatal(err)
	}
	_, uri, err := oid4vci.ParseOfferLink(o.OfferURILink)
	if err != nil || uri != o.CredentialOfferURI {
		t.Fatalf("offer uri link gives %q, %v", uri, err)
	}
	var byRef oid4vci.CredentialOffer
	ref := strings.TrimPrefix(uri, e.aud)
	e.call("offer by reference", "GET", ref, "/oid4vci/offers/{ref}", "", "", "", 200, &byRef)
	code := byRef.Grants.PreAuthorizedCode.Code
	if code == "" || code != byValue.Grants.PreAuthorizedCode.Code || byRef.Grants.PreAuthorizedCode.TxCode.Length != 6 || byRef.CredentialIssuer != e.aud {
		t.Fatalf("offer by reference %+v differs from the offer by value %+v", byRef, byValue)
	}
	e.call("offer unknown reference", "GET", "/oid4vci/offers/nope", "/oid4vci/offers/{ref}", "", "", "", 404, nil)

	_, bad := e.tokenReq("token without tx_code", preAuth(code), 400)
	wantOAuth(t, "token without tx_code", bad, "invalid_request", "tx_code_required")
	_, bad = e.tokenReq("token wrong tx_code", preAuth(code, "tx_code", "x"+o.TxCode[1:]), 400)
	wantOAuth(t, "token wrong tx_code", bad, "invalid_grant", "tx_code_wrong")
	tok, _ := e.tokenReq("token", preAuth(code, "tx_code", o.TxCode), 200)
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.ExpiresIn != int64(oid4vci.DefaultTokenTTL/time.Second) {
		t.Fatalf("token response %+v", tok)
	}
	_, bad = e.tokenReq("token reused code", preAuth(code, "tx_code", o.TxCode), 400)
	wantOAuth(t, "token reused code", bad, "invalid_grant", "pre_authorized_code_used")

	// Batch: a jwk proof (ES256) and a did:key kid proof (EdDSA), one nonce.
	n := e.nonce()
	k1, k2 := agentKey(t, jwa.ES256, false), agentKey(t, jwa.EdDSA, true)
	var got oid4vci.CredentialResponse
	e.credential("credential batch", tok.AccessToken, []string{e.proof(k1, n), e.proof(k2, n)}, 200, &got)
	if len(got.Credentials) != 2 {
		t.Fatalf("%d credentials, want 2", len(got.Credentials))
	}
	idx := map[float64]bool{}
	for i, k := range []jwk.Key{k1, k2} {
		p := testkit.JWTPayload(t, got.Credentials[i].Credential)
		wantSub, _ := did.KeyDID(k)
		pub, _ := keyutil.Public(k)
		wantX, _ := pub.Get("x")
		cnf, _ := p["cnf"].(map[string]any)
		cj, _ := cnf["jwk"].(map[string]any)
		if p["sub"] != wantSub || cj["x"] != base64.RawURLEncoding.EncodeToString(wantX.([]byte)) || p["iss"] != TestIssuerDID {
			t.Fatalf("credential %d: sub %v cnf %v, want %s bound to its proof's key", i, p["sub"], cj, wantSub)
		}
		st := p["status"].(map[string]any)["status_list"].(map[string]any)
		idx[st["idx"].(float64)] = true
	}
	if len(idx) != 2 {
		t.Fatal("the batch's credentials share a status index")
	}
	var used oauthErr
	e.credential("credential token reused", tok.AccessToken, []string{e.proof(agentKey(t, jwa.ES256, false), e.nonce())}, 401, &used)
	wantOAuth(t, "credential token reused", used, "invalid_token", "invalid_token")

	// Every step is in the audit log.
	entries, err := e.st.Audit(context.Background(), store.AuditFilter{Target: o.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range entries {
		actions = append(actions, a.Action)
	}
	if strings.Join(actions, " ") != "oid4vci.offer.create oid4vci.token.refuse oid4vci.token.refuse oid4vci.token oid4vci.token.refuse oid4vci.credential" {
		t.Fatalf("audit of the offer: %v", actions)
	}
	issued, err := e.st.Audit(context.Background(), store.AuditFilter{Action: "credential.issue", Limit: 100})
	if err != nil || len(issued) != 2 {
		t.Fatalf("%d credential.issue entries (%v), want 2", len(issued), err)
	}
}

// TestOID4VCINoStore checks that what carries secrets or single-use values
// is never cached, and that the metadata is.
func TestOID4VCINoStore(t *testing.T) {
	e := newVCIEnv(t)
	o := e.offer("")
	form := preAuth(o.CredentialOffer.Grants.PreAuthorizedCode.Code).Encode()
	for _, c := range []struct {
		method, path, ctype, body, cache string
	}{
		{"POST", oid4vci.NoncePath, "", "", "no-store"},
		{"POST", oid4vci.TokenPath, "application/x-www-form-urlencoded", form, "no-store"},
		{"POST", oid4vci.TokenPath, "application/x-www-form-urlencoded", form, "no-store"}, // the refusal too
		{"GET", strings.TrimPrefix(o.CredentialOfferURI, e.aud), "", "", "no-store"},
		{"POST", oid4vci.CredentialPath, "application/json", "{}", "no-store"},
		{"GET", oid4vci.WellKnownIssuer, "", "", "max-age=60"},
		{"GET", oid4vci.WellKnownAS, "", "", "max-age=60"},
	} {
		r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			r.Header.Set("Content-Type", c.ctype)
		}
		rec := httptest.NewRecorder()
		e.s.Handler().ServeHTTP(rec, r)
		if got := rec.Header().Get("Cache-Control"); got != c.cache {
			t.Errorf("%s %s (%d): Cache-Control %q, want %q", c.method, c.path, rec.Code, got, c.cache)
		}
	}
	var offerAnswer = httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/v1/offers", strings.NewReader(`{"claims":`+vciClaims+`}`))
	r.Header.Set("Authorization", "Bearer "+e.issuer)
	r.Header.Set("Content-Type", "application/json")
	e.s.Handler().ServeHTTP(offerAnswer, r)
	if offerAnswer.Code != 201 || offerAnswer.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("POST /v1/offers: %d, Cache-Control %q", offerAnswer.Code, offerAnswer.Header().Get("Cache-Control"))
	}
}

func TestOID4VCITokenNegatives(t *testing.T) {
	e := newVCIEnv(t)
	o := e.offer(`,"tx_code":{"length":8,"input_mode":"text"}`)
	code := o.CredentialOffer.Grants.PreAuthorizedCode.Code
	for i := 1; i < oid4vci.DefaultMaxTxCodeAttempts; i++ {
		_, bad := e.tokenReq("wrong tx_code", preAuth(code, "tx_code", "WRONG"), 400)
		wantOAuth(t, "wrong tx_code", bad, "invalid_grant", "tx_code_wrong")
	}
	_, bad := e.tokenReq("last wrong tx_code", preAuth(code, "tx_code", "WRONG"), 400)
	wantOAuth(t, "last wrong tx_code", bad, "invalid_grant", "tx_code_attempts_exceeded")
	_, bad = e.tokenReq("right tx_code after the lock", preAuth(code, "tx_code", o.TxCode), 400)
	wantOAuth(t, "right tx_code after the lock", bad, "invalid_grant", "tx_code_attempts_exceeded")

	_, bad = e.tokenReq("unknown code", preAuth("nope"), 400)
	wantOAuth(t, "unknown code", bad, "invalid_grant", "invalid_grant")
	e.callDoc("no code", "POST", "/oid4vci/token", "/oid4vci/token", "", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {oid4vci.GrantPreAuthorizedCode}}.Encode(), 400, &bad, true)
	wantOAuth(t, "no code", bad, "invalid_request", "invalid_request")
	e.callDoc("other grant", "POST", "/oid4vci/token", "/oid4vci/token", "", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"authorization_code"}, "pre-authorized_code": {"x"}}.Encode(), 400, &bad, true)
	wantOAuth(t, "other grant", bad, "unsupported_grant_type", "unsupported_grant_type")

	plain := e.offer("")
	pcode := plain.CredentialOffer.Grants.PreAuthorizedCode.Code
	_, bad = e.tokenReq("tx_code for an offer without one", preAuth(pcode, "tx_code", "123456"), 400)
	wantOAuth(t, "tx_code for an offer without one", bad, "invalid_request", "invalid_request")
	e.clock.add(oid4vci.DefaultOfferTTL + time.Second)
	_, bad = e.tokenReq("expired code", preAuth(pcode), 400)
	wantOAuth(t, "expired code", bad, "invalid_grant", "pre_authorized_code_expired")
	e.call("expired offer by reference", "GET", strings.TrimPrefix(plain.CredentialOfferURI, e.aud), "/oid4vci/offers/{ref}", "", "", "", 404, nil)

	e.call("offer without token", "POST", "/v1/offers", "/v1/offers", "", "", `{"claims":`+vciClaims+`}`, 401, nil)
	e.call("offer schema_invalid", "POST", "/v1/offers", "/v1/offers", e.issuer, "", `{"claims":{"autonomy":"supervised"}}`, 400, nil)
	e.callDoc("offer with a subject", "POST", "/v1/offers", "/v1/offers", e.issuer, "", `{"subject":"did:key:z6Mk","claims":`+vciClaims+`}`, 400, nil, true)
}

func TestOID4VCICredentialNegatives(t *testing.T) {
	e := newVCIEnv(t)
	o := e.offer("")
	tok, _ := e.tokenReq("token", preAuth(o.CredentialOffer.Grants.PreAuthorizedCode.Code), 200)
	k := agentKey(t, jwa.ES256, false)
	other := agentKey(t, jwa.ES256, false)
	now := e.clock.now().Unix()
	claims := func(kv ...any) map[string]any {
		m := map[string]any{"aud": e.aud, "iat": now, "nonce": e.nonce()}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	var many []string
	for range oid4vci.DefaultBatchSize + 1 {
		many = append(many, e.proof(agentKey(t, jwa.ES256, false), e.nonce()))
	}
	n := e.nonce()
	for _, c := range []struct {
		name, oauth, code string
		proofs            []string
	}{
		{"proof signed by another key", "invalid_proof", "proof_bad_signature", []string{rawProof(t, other, k, oid4vci.ProofTyp, claims())}},
		{"proof aud wrong", "invalid_proof", "proof_wrong_audience", []string{rawProof(t, k, k, oid4vci.ProofTyp, claims("aud", "https://elsewhere.example"))}},
		{"proof typ wrong", "invalid_proof", "proof_wrong_typ", []string{rawProof(t, k, k, "JWT", claims())}},
		{"proof kb+jwt typ", "invalid_proof", "proof_wrong_typ", []string{rawProof(t, k, k, "kb+jwt", claims())}},
		{"proof without iat", "invalid_proof", "proof_stale", []string{rawProof(t, k, k, oid4vci.ProofTyp, claims("iat", nil))}},
		{"proof iat old", "invalid_proof", "proof_stale", []string{rawProof(t, k, k, oid4vci.ProofTyp, claims("iat", now-3600))}},
		{"proof without nonce", "invalid_nonce", "invalid_nonce", []string{rawProof(t, k, k, oid4vci.ProofTyp, claims("nonce", nil))}},
		{"proof foreign nonce", "invalid_nonce", "nonce_invalid", []string{rawProof(t, k, k, oid4vci.ProofTyp, claims("nonce", "abc.def"))}},
		{"proof not a JWS", "invalid_proof", "invalid_proof", []string{"not-a-jwt"}},
		{"batch over the limit", "invalid_credential_request", "too_large", many},
		{"same key twice", "invalid_proof", "proof_key_invalid", []string{e.proof(k, n), e.proof(k, n)}},
	} {
		var bad oauthErr
		e.credential(c.name, tok.AccessToken, c.proofs, 400, &bad)
		wantOAuth(t, c.name, bad, c.oauth, c.code)
	}
	var bad oauthErr
	e.callDoc("unknown configuration", "POST", "/oid4vci/credential", "/oid4vci/credential", tok.AccessToken, "",
		`{"credential_configuration_id":"other","proofs":{"jwt":["`+e.proof(k, n)+`"]}}`, 400, &bad, true)
	wantOAuth(t, "unknown configuration", bad, "unknown_credential_configuration", "unknown_credential_configuration")
	e.call("draft proof member", "POST", "/oid4vci/credential", "/oid4vci/credential", tok.AccessToken, "",
		`{"credential_configuration_id":"agent_certification","proof":{"proof_type":"jwt","jwt":"x"},"proofs":{"jwt":["x"]}}`, 400, &bad)
	wantOAuth(t, "draft proof member", bad, "invalid_credential_request", "invalid_credential_request")
	e.credential("no access token", "", []string{e.proof(k, n)}, 401, &bad)
	wantOAuth(t, "no access token", bad, "invalid_token", "invalid_token")
	e.credential("unknown access token", "nope", []string{e.proof(k, n)}, 401, &bad)
	wantOAuth(t, "unknown access token", bad, "invalid_token", "invalid_token")

	// The refusals did not use up the token.
	var ok oid4vci.CredentialResponse
	e.credential("credential", tok.AccessToken, []string{e.proof(k, e.nonce())}, 200, &ok)

	// A stale c_nonce is refused and does not use up the token either; a
	// spent c_nonce is refused on another token; an expired token is refused.
	stale := e.nonce()
	e.clock.add(oid4vci.DefaultProofMaxAge + time.Second)
	o2 := e.offer("")
	tok2, _ := e.tokenReq("token 2", preAuth(o2.CredentialOffer.Grants.PreAuthorizedCode.Code), 200)
	e.credential("stale c_nonce", tok2.AccessToken, []string{e.proof(k, stale)}, 400, &bad)
	wantOAuth(t, "stale c_nonce", bad, "invalid_nonce", "nonce_expired")
	fresh := e.nonce()
	e.credential("credential 2", tok2.AccessToken, []string{e.proof(k, fresh)}, 200, &ok)
	o3 := e.offer("")
	tok3, _ := e.tokenReq("token 3", preAuth(o3.CredentialOffer.Grants.PreAuthorizedCode.Code), 200)
	e.credential("reused c_nonce", tok3.AccessToken, []string{e.proof(other, fresh)}, 400, &bad)
	wantOAuth(t, "reused c_nonce", bad, "invalid_nonce", "nonce_replayed")
	e.clock.add(oid4vci.DefaultTokenTTL + time.Second)
	e.credential("expired access token", tok3.AccessToken, []string{e.proof(other, e.nonce())}, 401, &bad)
	wantOAuth(t, "expired access token", bad, "invalid_token", "invalid_token")

	refused, err := e.st.Audit(context.Background(), store.AuditFilter{Action: "oid4vci.credential.refuse", Limit: 100})
	if err != nil || len(refused) < 10 {
		t.Fatalf("%d oid4vci.credential.refuse entries (%v), want every refusal with a valid token", len(refused), err)
	}
}

// TestOID4VCIOfferEndsWithItsToken: an offer speaks for the issuer token
// that made it. Once that token is revoked (say it leaked, and whoever
// holds it made offers to themselves), no credential is issued on any of
// its offers: an access token already given is refused at the credential
// endpoint, a code not yet exchanged at the token endpoint.
func TestOID4VCIOfferEndsWithItsToken(t *testing.T) {
	e := newVCIEnv(t)
	ctx := context.Background()
	redeemed := e.offer("")
	tok, _ := e.tokenReq("token before revocation", preAuth(redeemed.CredentialOffer.Grants.PreAuthorizedCode.Code), 200)
	pending := e.offer("")
	e.revokeIssuerToken()
	var bad oauthErr
	e.credential("credential on a redeemed offer of a revoked token", tok.AccessToken, []string{e.proof(agentKey(t, jwa.ES256, false), e.nonce())}, 401, &bad)
	wantOAuth(t, "redeemed offer", bad, "invalid_token", "invalid_token")
	_, bad = e.tokenReq("token after revocation", preAuth(pending.CredentialOffer.Grants.PreAuthorizedCode.Code), 400)
	wantOAuth(t, "pending offer", bad, "invalid_grant", "invalid_grant")
	issued, err := e.st.Audit(ctx, store.AuditFilter{Action: "credential.issue", Limit: 100})
	if err != nil || len(issued) != 0 {
		t.Fatalf("%d credentials issued (%v) on the offers of a revoked token", len(issued), err)
	}
	// The refusal is the offer's (its access token is valid): audited.
	refused, err := e.st.Audit(ctx, store.AuditFilter{Action: "oid4vci.credential.refuse", Target: redeemed.ID, Limit: 100})
	if err != nil || len(refused) != 1 {
		t.Fatalf("%d oid4vci.credential.refuse entries for the redeemed offer (%v), want 1", len(refused), err)
	}
}

// TestOID4VCITokenRefusedForRevokedMaker: the token endpoint refuses the
// pre-authorized code of an offer whose issuer token has been revoked
// (invalid_grant), audited as a refusal: the code is not spent (asked
// again, it is still refused for the revocation, not as used), and no
// oid4vci.token entry says an access token was given.
func TestOID4VCITokenRefusedForRevokedMaker(t *testing.T) {
	e := newVCIEnv(t)
	ctx := context.Background()
	o := e.offer("")
	e.revokeIssuerToken()
	code := o.CredentialOffer.Grants.PreAuthorizedCode.Code
	for _, name := range []string{"token after revocation", "token after revocation, again"} {
		_, bad := e.tokenReq(name, preAuth(code), 400)
		wantOAuth(t, name, bad, "invalid_grant", "invalid_grant")
		if !strings.Contains(bad.Description, "revoked") {
			t.Fatalf("%s: description %q does not say why", name, bad.Description)
		}
	}
	ref := o.CredentialOfferURI[strings.LastIndex(o.CredentialOfferURI, "/")+1:]
	stored, err := e.st.OfferByRef(ctx, tokenHash(ref))
	if err != nil {
		t.Fatal(err)
	}
	if stored.RedeemedAt != nil || stored.Attempts != 0 {
		t.Fatalf("offer redeemed at %v with %d attempts after refusals, want untouched", stored.RedeemedAt, stored.Attempts)
	}
	given, err := e.st.Audit(ctx, store.AuditFilter{Action: "oid4vci.token", Limit: 100})
	if err != nil || len(given) != 0 {
		t.Fatalf("%d oid4vci.token entries (%v), want none", len(given), err)
	}
	refused, err := e.st.Audit(ctx, store.AuditFilter{Action: "oid4vci.token.refuse", Target: o.ID, Limit: 100})
	if err != nil || len(refused) != 2 {
		t.Fatalf("%d oid4vci.token.refuse entries (%v), want 2", len(refused), err)
	}
}
