package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/oid4vci"
)

// newVCIEnvResolving is newVCIEnv whose issuer and OpenID4VCI flow resolve
// DIDs with resolve (falling back to the offline did:key and did:jwk
// documents), and whose issuer runs on the flow's clock.
func newVCIEnvResolving(t *testing.T, resolve func(id string) *did.Document) *vciEnv {
	t.Helper()
	env := NewTestEnv(t, nil)
	r := did.ResolverFunc(func(_ context.Context, id string) (*did.Document, error) {
		if doc := resolve(id); doc != nil {
			return doc, nil
		}
		if doc, err := did.DocumentFor(id); err == nil {
			return doc, nil
		}
		return nil, errcode.New(errcode.DIDResolutionFailed, "test resolver")
	})
	cfg := env.Cfg
	alg, err := keyutil.ParseAlg(cfg.Issuer.KeyAlg)
	if err != nil {
		t.Fatal(err)
	}
	settings := issuer.Settings{DIDMethod: cfg.Issuer.DIDMethod, WebDID: TestIssuerDID, KeyAlg: alg, StatusTTL: cfg.Status.TTL, StatusValidity: cfg.Status.Validity}
	settings.Config = issuer.Config{PublicURL: cfg.PublicURL, VCT: config.AgentCertificationVCT, ListSize: cfg.Status.ListSize, DefaultValidity: cfg.Issuer.DefaultValidity, MaxValidity: cfg.Issuer.MaxValidity}
	kek := bytes.Repeat([]byte{7}, issuer.KEKSize)
	clock := &vciClock{t: time.Now()}
	parts, err := issuer.Open(context.Background(), env.Store, kek, settings, env.Server.schemas, r, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	vci, err := NewOID4VCI(cfg, env.Store, parts.Service, kek, r, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: env.Store,
		Issuer: parts.Service, Statuses: parts.Statuses, Schemas: env.Server.schemas, OID4VCI: vci,
	})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := tokens.Create(context.Background(), env.Store, tokens.RoleIssuer, "vci", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &vciEnv{t: t, s: s, st: env.Store, doc: loadOpenAPI(t), clock: clock, issuer: secret, aud: cfg.PublicURL}
}

// webDoc is a did:web document whose method #k1, the public key of k, is
// listed under assertionMethod; authentication lists #k1 too when auth is k,
// else method #k2 with the key auth (none when nil).
func webDoc(t *testing.T, id string, k, auth jwk.Key) *did.Document {
	t.Helper()
	method := func(frag string, k jwk.Key) did.VerificationMethod {
		pub, _ := keyutil.Public(k)
		_ = pub.Remove(jwk.KeyIDKey)
		b, err := json.Marshal(pub)
		if err != nil {
			t.Fatal(err)
		}
		return did.VerificationMethod{ID: id + frag, Type: did.TypeJsonWebKey2020, Controller: id, PublicKeyJwk: b}
	}
	doc := &did.Document{ID: id, VerificationMethod: []did.VerificationMethod{method("#k1", k)}, AssertionMethod: []did.Relationship{{Ref: id + "#k1"}}}
	switch {
	case auth == k:
		doc.Authentication = []did.Relationship{{Ref: id + "#k1"}}
	case auth != nil:
		doc.VerificationMethod = append(doc.VerificationMethod, method("#k2", auth))
		doc.Authentication = []did.Relationship{{Ref: id + "#k2"}}
	}
	return doc
}

// TestOID4VCIDIDWebKid: a proof whose kid is a did:web key is checked
// against what the credential will bind. A key the document lists under
// authentication is issued to; one it lists only under assertionMethod
// (which the issuer does not take as the subject's holder key) is the
// client's mistake: invalid_proof, not a 500, and the access token is not
// used up by it.
func TestOID4VCIDIDWebKid(t *testing.T) {
	good, other, none := agentKey(t, jwa.ES256, false), agentKey(t, jwa.ES256, false), agentKey(t, jwa.EdDSA, false)
	docs := map[string]*did.Document{
		"did:web:good.example":  webDoc(t, "did:web:good.example", good, good),
		"did:web:other.example": webDoc(t, "did:web:other.example", other, agentKey(t, jwa.ES256, false)),
		"did:web:none.example":  webDoc(t, "did:web:none.example", none, nil),
	}
	e := newVCIEnvResolving(t, func(id string) *did.Document { return docs[id] })
	_ = good.Set(jwk.KeyIDKey, "did:web:good.example#k1")
	_ = other.Set(jwk.KeyIDKey, "did:web:other.example#k1")
	_ = none.Set(jwk.KeyIDKey, "did:web:none.example#k1")

	o := e.offer("")
	tok, _ := e.tokenReq("token", preAuth(o.CredentialOffer.Grants.PreAuthorizedCode.Code), 200)
	for name, k := range map[string]jwk.Key{"authentication lists another key": other, "no authentication": none} {
		var refused oauthErr
		e.credential(name, tok.AccessToken, []string{e.proof(k, e.nonce())}, 400, &refused)
		wantOAuth(t, name, refused, "invalid_proof", "proof_key_invalid")
	}

	var got oid4vci.CredentialResponse
	e.credential("did:web key under authentication", tok.AccessToken, []string{e.proof(good, e.nonce())}, 200, &got)
	if len(got.Credentials) != 1 {
		t.Fatalf("%d credentials, want 1", len(got.Credentials))
	}
}

// TestOID4VCIOfferOutlivesItsCertification: an offer whose certification's
// expires_at passes before the agent asks for it is refused as
// invalid_credential_request before anything is spent or audited as
// issued.
func TestOID4VCIOfferOutlivesItsCertification(t *testing.T) {
	e := newVCIEnvResolving(t, func(string) *did.Document { return nil })
	exp := e.clock.now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	o := e.offer(`,"expires_at":"` + exp + `","offer_valid_for":"30m"`)
	e.clock.add(11 * time.Minute)
	tok, _ := e.tokenReq("token", preAuth(o.CredentialOffer.Grants.PreAuthorizedCode.Code), 200)
	var bad oauthErr
	e.credential("certification expired", tok.AccessToken, []string{e.proof(agentKey(t, jwa.ES256, false), e.nonce())}, 400, &bad)
	wantOAuth(t, "certification expired", bad, "invalid_credential_request", "invalid_input")
	at, _, err := e.st.AccessToken(context.Background(), tokenHash(tok.AccessToken))
	if err != nil || at.UsedAt != nil {
		t.Fatalf("access token after a refusal: used %v (%v), want unused", at.UsedAt, err)
	}
	issued, err := e.st.Audit(context.Background(), store.AuditFilter{Target: o.ID, Action: "oid4vci.credential", Limit: 10})
	if err != nil || len(issued) != 0 {
		t.Fatalf("%d oid4vci.credential entries (%v) for a refused request", len(issued), err)
	}
}

func tokenHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// disclosed returns the credential's issuer-signed JWT and disclosures
// decoded, as JSON text.
func disclosed(t *testing.T, cred string) string {
	t.Helper()
	var out strings.Builder
	for i, part := range strings.Split(cred, "~") {
		if part == "" {
			continue
		}
		if i == 0 {
			_, p, _ := strings.Cut(part, ".")
			part, _, _ = strings.Cut(p, ".")
		}
		b, err := base64.RawURLEncoding.DecodeString(part)
		if err != nil {
			t.Fatalf("part %d of the credential: %v", i, err)
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	return out.String()
}

// TestOID4VCIOfferKeepsNumbers: the certification issued for an offer has
// the claims exactly as offered, as POST /v1/credentials would issue them:
// a max_amount beyond float64's integers is not rounded (9007199254740995
// went to ...996, widening the agent's authority), and a number float64 cannot hold is
// not a 500 at the credential endpoint.
func TestOID4VCIOfferKeepsNumbers(t *testing.T) {
	e := newVCIEnv(t)
	for _, amount := range []string{"9007199254740995", "1e400"} {
		claims := strings.Replace(vciClaims, `{"action":"invoices:read"}`,
			`{"action":"payments:initiate","constraints":{"max_amount":`+amount+`,"currency":"EUR"}}`, 1)
		claims = strings.Replace(claims, `"prohibitions":["payments:initiate"]`, `"prohibitions":["payments:approve"]`, 1)
		var o oid4vci.CreatedOffer
		e.call("create offer "+amount, "POST", "/v1/offers", "/v1/offers", e.issuer, "", `{"claims":`+claims+`}`, 201, &o)
		tok, _ := e.tokenReq("token "+amount, preAuth(o.CredentialOffer.Grants.PreAuthorizedCode.Code), 200)
		var got oid4vci.CredentialResponse
		e.credential("credential "+amount, tok.AccessToken, []string{e.proof(agentKey(t, jwa.ES256, false), e.nonce())}, 200, &got)
		if text := disclosed(t, got.Credentials[0].Credential); !strings.Contains(text, `"max_amount":`+amount+`}`) && !strings.Contains(text, `"max_amount":`+amount+`,`) {
			t.Fatalf("offered max_amount %s, issued:\n%s", amount, text)
		}
	}
}

// TestOID4VCIMetadataSigningAlg: credential_signing_alg_values_supported
// names the algorithm credentials are signed with, also after an admin
// rotated the issuer key to another algorithm than the configured one.
func TestOID4VCIMetadataSigningAlg(t *testing.T) {
	e := newVCIEnv(t)
	admin, _, err := tokens.Create(context.Background(), e.st, tokens.RoleAdmin, "admin", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"EdDSA", "ES256"} {
		e.call("rotate to "+alg, "POST", "/v1/admin/keys/rotate", "/v1/admin/keys/rotate", admin, "", `{"alg":"`+alg+`"}`, 200, nil)
		var md oid4vci.IssuerMetadata
		e.call("issuer metadata", "GET", oid4vci.WellKnownIssuer, oid4vci.WellKnownIssuer, "", "", "", 200, &md)
		algs := md.CredentialConfigurationsSupported[oid4vci.DefaultConfigurationID].CredentialSigningAlgValuesSupported
		o := e.offer("")
		tok, _ := e.tokenReq("token", preAuth(o.CredentialOffer.Grants.PreAuthorizedCode.Code), 200)
		var got oid4vci.CredentialResponse
		e.credential("credential", tok.AccessToken, []string{e.proof(agentKey(t, jwa.ES256, false), e.nonce())}, 200, &got)
		hdr, _, _ := strings.Cut(got.Credentials[0].Credential, ".")
		b, _ := base64.RawURLEncoding.DecodeString(hdr)
		var h struct{ Alg string }
		_ = json.Unmarshal(b, &h)
		if h.Alg != alg || len(algs) != 1 || algs[0] != alg {
			t.Fatalf("after rotating to %s: credential signed with %s, metadata says %v", alg, h.Alg, algs)
		}
	}
}

// TestOID4VCINonceOfAnotherProtocol: a nonce the verifier gives for
// presentations (GET /v1/nonce) is not a c_nonce, on the same server.
func TestOID4VCINonceOfAnotherProtocol(t *testing.T) {
	env := NewTestEnv(t, nil)
	issuerTok, _, err := tokens.Create(context.Background(), env.Store, tokens.RoleIssuer, "vci", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := &vciEnv{t: t, s: env.Server, st: env.Store, doc: loadOpenAPI(t), clock: &vciClock{t: time.Now()}, issuer: issuerTok, aud: env.Cfg.PublicURL}
	var vn struct{ Nonce string }
	e.call("verifier nonce", "GET", "/v1/nonce", "/v1/nonce", "", "", "", 200, &vn)
	o := e.offer("")
	tok, _ := e.tokenReq("token", preAuth(o.CredentialOffer.Grants.PreAuthorizedCode.Code), 200)
	var bad oauthErr
	e.credential("verifier nonce as c_nonce", tok.AccessToken, []string{e.proof(agentKey(t, jwa.ES256, false), vn.Nonce)}, 400, &bad)
	wantOAuth(t, "verifier nonce as c_nonce", bad, "invalid_nonce", "nonce_invalid")
}

// TestOID4VCIProofCheckedBeforeResolving: a proof whose kid is a did:web
// key is checked for everything that needs no network (its c_nonce's MAC
// and expiry, typ, alg, aud, iat) before its DID document is fetched, so a
// proof that fails any of them costs no fetch: the did:web host (a counting
// test server) sees no request. A proof that passes them is resolved (the
// control: the host is reachable).
func TestOID4VCIProofCheckedBeforeResolving(t *testing.T) {
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	e := newVCIEnvWith(t, did.NewResolver(did.NewFetcher(did.FetcherConfig{AllowHosts: []string{u.Hostname()}})))
	k := agentKey(t, jwa.ES256, false)
	kid := "did:web:" + strings.ReplaceAll(u.Host, ":", "%3A") + "#k1"
	_ = k.Set(jwk.KeyIDKey, kid)
	sign := func(typ string, signer jwk.Key, claims map[string]any) string {
		t.Helper()
		hdr := jws.NewHeaders()
		_ = hdr.Set(jws.TypeKey, typ)
		_ = hdr.Set(jws.KeyIDKey, kid)
		return signWithHeaders(t, signer, hdr, claims)
	}
	claims := func(kv ...any) map[string]any {
		m := map[string]any{"aud": e.aud, "iat": e.clock.now().Unix(), "nonce": e.nonce()}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	expiring := e.nonce()
	e.clock.add(oid4vci.DefaultProofMaxAge + time.Minute)
	o := e.offer("")
	tok, _ := e.tokenReq("token", preAuth(o.CredentialOffer.Grants.PreAuthorizedCode.Code), 200)
	ed := agentKey(t, jwa.EdDSA, false)
	for _, c := range []struct {
		name, proof, oauth, code string
	}{
		{"c_nonce not ours", sign(oid4vci.ProofTyp, k, claims("nonce", "not-a-c-nonce")), "invalid_nonce", "nonce_invalid"},
		{"c_nonce expired", sign(oid4vci.ProofTyp, k, claims("nonce", expiring)), "invalid_nonce", "nonce_expired"},
		{"no nonce", sign(oid4vci.ProofTyp, k, claims("nonce", "")), "invalid_nonce", "invalid_nonce"},
		{"wrong typ", sign("JWT", k, claims()), "invalid_proof", "proof_wrong_typ"},
		{"alg not allowed", func() string {
			hs, err := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
			if err != nil {
				t.Fatal(err)
			}
			hdr := jws.NewHeaders()
			_ = hdr.Set(jws.TypeKey, oid4vci.ProofTyp)
			_ = hdr.Set(jws.KeyIDKey, kid)
			b, _ := json.Marshal(claims())
			out, err := jws.Sign(b, jws.WithKey(jwa.HS256, hs, jws.WithProtectedHeaders(hdr)))
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}(), "invalid_proof", "unsupported_alg"},
		{"wrong aud", sign(oid4vci.ProofTyp, k, claims("aud", "https://other.example")), "invalid_proof", "proof_wrong_audience"},
		{"stale iat", sign(oid4vci.ProofTyp, k, claims("iat", e.clock.now().Add(-time.Hour).Unix())), "invalid_proof", "proof_stale"},
		{"signed by another key", sign(oid4vci.ProofTyp, ed, claims("nonce", "not-a-c-nonce")), "invalid_nonce", "nonce_invalid"},
	} {
		var bad oauthErr
		e.credential(c.name, tok.AccessToken, []string{c.proof}, 400, &bad)
		wantOAuth(t, c.name, bad, c.oauth, c.code)
		if n := fetches.Load(); n != 0 {
			t.Fatalf("%s: the did:web host saw %d requests, want none", c.name, n)
		}
	}

	var bad oauthErr
	e.credential("checkable proof", tok.AccessToken, []string{sign(oid4vci.ProofTyp, k, claims())}, 400, &bad)
	wantOAuth(t, "checkable proof", bad, "invalid_proof", "proof_key_invalid")
	if fetches.Load() == 0 {
		t.Fatal("a proof that passed the offline checks was not resolved: the did:web host saw no request")
	}
}
