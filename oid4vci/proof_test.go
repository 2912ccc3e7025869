package oid4vci

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func newKey(t testing.TB) jwk.Key {
	t.Helper()
	k, err := keyutil.Generate(jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signWith signs claims with k under the header members hdr (alg from k).
func signWith(t *testing.T, k jwk.Key, hdr map[string]any, claims map[string]any) string {
	t.Helper()
	return testkeys.SignJWS(t, testkeys.Raw(t, k), jwa.ES256, hdr, claims)
}

func TestVerifyProof(t *testing.T) {
	const aud = "https://issuer.example"
	now := time.Unix(1_800_000_000, 0)
	pol := ProofPolicy{Audience: aud, Algorithms: []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA}, Now: now, MaxAge: 5 * time.Minute, Leeway: 30 * time.Second, Resolver: did.NewResolver(nil)}
	k := newKey(t)
	pub, _ := keyutil.Public(k)
	_ = pub.Remove(jwk.KeyIDKey)
	subject, _ := did.KeyDID(k)
	jwkDID, _ := did.JWKDID(k)
	claims := map[string]any{"aud": aud, "iat": now.Unix(), "nonce": "n"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for n, v := range claims {
			m[n] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	typ := map[string]any{"typ": ProofTyp, "jwk": pub}
	for _, c := range []struct {
		name   string
		proof  string
		code   errcode.Code
		wantID string
	}{
		{"jwk", signWith(t, k, typ, claims), "", subject},
		{"did:jwk kid", signWith(t, k, map[string]any{"typ": ProofTyp, "kid": jwkDID + "#0"}, claims), "", jwkDID},
		{"aud array", signWith(t, k, typ, with("aud", []string{aud})), "", subject},
		{"media type typ", signWith(t, k, map[string]any{"typ": "application/" + ProofTyp, "jwk": pub}, claims), "", subject},
		{"aud two values", signWith(t, k, typ, with("aud", []string{aud, "https://other.example"})), errcode.ProofWrongAudience, ""},
		{"no typ", signWith(t, k, map[string]any{"jwk": pub}, claims), errcode.ProofWrongTyp, ""},
		{"jwk and kid", signWith(t, k, map[string]any{"typ": ProofTyp, "jwk": pub, "kid": jwkDID + "#0"}, claims), errcode.ProofKeyInvalid, ""},
		{"no key", signWith(t, k, map[string]any{"typ": ProofTyp}, claims), errcode.ProofKeyInvalid, ""},
		{"private jwk", signWith(t, k, map[string]any{"typ": ProofTyp, "jwk": k}, claims), errcode.ProofKeyInvalid, ""},
		{"kid not a DID URL", signWith(t, k, map[string]any{"typ": ProofTyp, "kid": "key-1"}, claims), errcode.ProofKeyInvalid, ""},
		{"kid of another key", signWith(t, k, map[string]any{"typ": ProofTyp, "kid": func() string { d, _ := did.JWKDID(newKey(t)); return d + "#0" }()}, claims), errcode.ProofBadSignature, ""},
		{"trust_chain", signWith(t, k, map[string]any{"typ": ProofTyp, "jwk": pub, "trust_chain": []string{"eyJ"}}, claims), errcode.ProofKeyInvalid, ""},
		{"crit", signWith(t, k, map[string]any{"typ": ProofTyp, "jwk": pub, "crit": []string{"x"}, "x": 1}, claims), errcode.UnknownCrit, ""},
		{"iat future", signWith(t, k, typ, with("iat", now.Unix()+60)), errcode.ProofStale, ""},
		{"iat string", signWith(t, k, typ, with("iat", "now")), errcode.InvalidProof, ""},
		{"exp past", signWith(t, k, typ, with("exp", now.Unix()-60)), errcode.ProofStale, ""},
		{"nbf future", signWith(t, k, typ, with("nbf", now.Unix()+60)), errcode.ProofStale, ""},
		{"empty nonce", signWith(t, k, typ, with("nonce", "")), errcode.InvalidNonce, ""},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`, errcode.InvalidProof, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := VerifyProof(context.Background(), c.proof, pol)
			if got := errcode.CodeOf(err); got != c.code {
				t.Fatalf("code %q (%v), want %q", got, err, c.code)
			}
			if c.code == "" && (p.DID != c.wantID || p.Nonce != "n") {
				t.Fatalf("proven %+v, want DID %s", p, c.wantID)
			}
		})
	}
	if _, err := VerifyProof(context.Background(), signWith(t, k, map[string]any{"typ": ProofTyp, "kid": jwkDID + "#0"}, claims), ProofPolicy{Audience: aud, Algorithms: pol.Algorithms, Now: now, MaxAge: time.Minute}); errcode.CodeOf(err) != errcode.ProofKeyInvalid {
		t.Fatalf("kid proof without a resolver: %v", err)
	}
	ed, _ := keyutil.Generate(jwa.EdDSA)
	p, _ := SignProof(ed, aud, "n", now)
	pol.Algorithms = []jwa.SignatureAlgorithm{jwa.ES256}
	if _, err := VerifyProof(context.Background(), p, pol); errcode.CodeOf(err) != errcode.UnsupportedAlg {
		t.Fatalf("EdDSA proof with only ES256 allowed: %v", err)
	}
}

func TestOfferLinkRoundTrip(t *testing.T) {
	o := CredentialOffer{CredentialIssuer: "https://issuer.example", CredentialConfigurationIDs: []string{"a"},
		Grants: Grants{PreAuthorizedCode: &PreAuthorizedGrant{Code: "c", TxCode: &TxCode{InputMode: "numeric", Length: 6}}}}
	link, err := OfferLink(o)
	if err != nil {
		t.Fatal(err)
	}
	got, uri, err := ParseOfferLink(link)
	if err != nil || uri != "" || got.Grants.PreAuthorizedCode.Code != "c" || got.Grants.PreAuthorizedCode.TxCode.Length != 6 {
		t.Fatalf("round trip: %+v %q %v", got, uri, err)
	}
	if _, uri, err := ParseOfferLink(OfferURILink("https://issuer.example/o/1")); err != nil || uri != "https://issuer.example/o/1" {
		t.Fatalf("by reference: %q %v", uri, err)
	}
	for name, bad := range map[string]string{
		"both":          "openid-credential-offer://?credential_offer=%7B%7D&credential_offer_uri=https%3A%2F%2Fa",
		"neither":       "openid-credential-offer://?x=1",
		"ftp reference": "openid-credential-offer://?credential_offer_uri=ftp%3A%2F%2Fa",
		"no code":       `{"credential_issuer":"https://a.example","credential_configuration_ids":["a"],"grants":{}}`,
		"bad issuer":    `{"credential_issuer":"a.example","credential_configuration_ids":["a"],"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":"c"}}}`,
		"not a link":    "hello",
	} {
		if _, _, err := ParseOfferLink(bad); errcode.CodeOf(err) != errcode.InvalidInput {
			t.Errorf("%s: %v, want invalid_input", name, err)
		}
	}
}

// TestVerifyProofResolvesLast: a did:web kid is resolved only for a proof
// that passed every offline check, the policy's nonce check included; the
// nonce check's error is returned as it is.
func TestVerifyProofResolvesLast(t *testing.T) {
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	const aud = "https://issuer.example"
	now := time.Unix(1_800_000_000, 0)
	refused := errcode.New(errcode.NonceInvalid, "not ours")
	var checked []string
	pol := ProofPolicy{Audience: aud, Algorithms: []jwa.SignatureAlgorithm{jwa.ES256}, Now: now, MaxAge: time.Minute,
		Resolver: did.NewResolver(did.NewFetcher(did.FetcherConfig{AllowHosts: []string{u.Hostname()}})),
		Nonce: func(n string) error {
			checked = append(checked, n)
			if n == "bad" {
				return refused
			}
			return nil
		}}
	k := newKey(t)
	hdr := map[string]any{"typ": ProofTyp, "kid": "did:web:" + strings.ReplaceAll(u.Host, ":", "%3A") + "#k1"}
	claims := func(kv ...any) map[string]any {
		m := map[string]any{"aud": aud, "iat": now.Unix(), "nonce": "good"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name  string
		proof string
		code  errcode.Code
	}{
		{"nonce refused", signWith(t, k, hdr, claims("nonce", "bad")), errcode.NonceInvalid},
		{"no nonce", signWith(t, k, hdr, claims("nonce", "")), errcode.InvalidNonce},
		{"wrong aud", signWith(t, k, hdr, claims("aud", "https://other.example")), errcode.ProofWrongAudience},
		{"stale iat", signWith(t, k, hdr, claims("iat", now.Unix()-3600)), errcode.ProofStale},
		{"payload not JSON claims", signWith(t, k, hdr, claims("iat", "now")), errcode.InvalidProof},
	} {
		_, err := VerifyProof(context.Background(), c.proof, pol)
		if got := errcode.CodeOf(err); got != c.code {
			t.Fatalf("%s: code %q (%v), want %q", c.name, got, err, c.code)
		}
		if c.code == errcode.NonceInvalid && !errors.Is(err, refused) {
			t.Fatalf("%s: %v is not the nonce check's error", c.name, err)
		}
		if n := fetches.Load(); n != 0 {
			t.Fatalf("%s: %d fetches of the did:web document, want none", c.name, n)
		}
	}
	if len(checked) != 1 || checked[0] != "bad" {
		t.Fatalf("nonce check called with %q, want only the proof that reached it", checked)
	}
	if _, err := VerifyProof(context.Background(), signWith(t, k, hdr, claims()), pol); errcode.CodeOf(err) != errcode.ProofKeyInvalid || fetches.Load() == 0 {
		t.Fatalf("proof past the offline checks: %v after %d fetches, want proof_key_invalid after a fetch", err, fetches.Load())
	}
}
