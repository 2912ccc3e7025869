package interop

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

const (
	vct      = "urn:agentcert:agent-certification:v1"
	audience = "https://verifier.example"
	nonce    = "n-interop-1"
)

// certClaims are the claims of an agent certification, without the
// registered ones.
func certClaims() map[string]any {
	return map[string]any{
		"principal": map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
		"agent":     map[string]any{"class": "accounts-payable-assistant", "version": "1.4.0", "operator": "ACME IT"},
		"permissions": []any{
			map[string]any{"action": "invoices:read"},
			map[string]any{"action": "invoices:list"},
			map[string]any{"action": "payments:*", "constraints": map[string]any{"max_amount": 100, "currency": "EUR"}},
		},
		"prohibitions": []any{"payments:initiate"},
		// Restricting claims are stated in clear, even "none": a verifier
		// refuses a certification whose task could have been withheld.
		"task":     nil,
		"autonomy": "supervised",
	}
}

// sameClaims fails unless both processed payloads are equal.
func sameClaims(t *testing.T, js, ours map[string]any) {
	t.Helper()
	if len(ours) == 0 {
		t.Fatal("agentcert returned no claims")
	}
	if g, w := testkit.Canon(t, js), testkit.Canon(t, ours); !reflect.DeepEqual(g, w) {
		t.Fatalf("claims differ\nsd-jwt-js: %v\nagentcert: %v", g, w)
	}
}

// withoutKB returns the SD-JWT part of a presentation ("<JWT>~...~").
func withoutKB(p string) string { return p[:strings.LastIndex(p, "~")+1] }

// TestAgentcertToSDJWTJS: agentcert issues (server API) and presents;
// sd-jwt-js verifies signature, digests, KB-JWT with sd_hash and the status
// list, and yields the claims agentcert yields.
func TestAgentcertToSDJWTJS(t *testing.T) {
	requireNode(t)
	srv := startServer(t, "issuer:\n  did_method: key\nstatus:\n  ttl: 1s\n")
	issuerTok := srv.token(t, "issuer")
	dir := t.TempDir()
	agentDID := mustRun(t, dir, "did", "create", "--method", "jwk", "--alg", "ES256", "--out", "agent.jwk")
	issuerPub, err := did.PublicKey(srv.IssuerDID)
	if err != nil {
		t.Fatalf("issuer DID %q: %v", srv.IssuerDID, err)
	}
	issuerJWK := testkit.JSONMap(t, issuerPub)

	issue := func(t *testing.T) issuer.Issued {
		t.Helper()
		var out issuer.Issued
		body := map[string]any{"subject": agentDID, "claims": certClaims(), "selectively_disclosable": []string{"/principal/name", "/agent/version", "/agent/operator"}}
		if st := srv.call(t, http.MethodPost, "/v1/credentials", issuerTok, body, &out); st != http.StatusCreated || out.Credential == "" {
			t.Fatalf("POST /v1/credentials: HTTP %d %+v", st, out)
		}
		return out
	}
	cred := issue(t)
	credFile := filepath.Join(dir, "cred.txt")
	writeFile(t, credFile, cred.Credential)
	present := func(t *testing.T, file string, disclose ...string) string {
		return mustRun(t, dir, append([]string{"present", "--credential", file, "--key", "agent.jwk", "--aud", audience, "--nonce", nonce}, disclose...)...)
	}
	jsVerify := func(t *testing.T, pres string) jsVerdict {
		var v jsVerdict
		node(t, "verify", map[string]any{"presentation": pres, "issuer_jwk": issuerJWK, "aud": audience, "nonce": nonce, "max_kb_age": 300}, &v)
		return v
	}

	for name, disclose := range map[string][]string{
		"all":  {"--disclose-all"},
		"some": {"--disclose", "/permissions/0", "--disclose", "/permissions/2", "--disclose", "/principal/name"},
		"none": nil,
	} {
		t.Run(name, func(t *testing.T) {
			pres := present(t, credFile, disclose...)
			v := jsVerify(t, pres)
			if !v.Library.OK || !v.Harness.OK {
				t.Fatalf("sd-jwt-js refused agentcert's presentation: %s %v", v.Library.Error, v.Harness.Errors)
			}
			if got, want := v.Library.KB["sd_hash"], sdjwt.SDHash(withoutKB(pres)); got != want {
				t.Fatalf("KB-JWT sd_hash %v, want %v", got, want)
			}
			ours := agentcertVerify(t, dir, pres, "--aud", audience, "--nonce", nonce, "--trust", srv.IssuerDID, "--config", srv.Config)
			if !ours.Verified {
				t.Fatalf("agentcert refused its own presentation: %+v", ours.Errors)
			}
			sameClaims(t, v.Library.Payload, ours.Claims)
		})
	}

	// The Status List Token verifies with sd-jwt-js's status list tooling,
	// and sd-jwt-js's status check follows revocation and suspension.
	t.Run("status", func(t *testing.T) {
		revoked, suspended := cred, issue(t)
		auditor := srv.token(t, "auditor")
		for _, c := range []struct {
			cred   issuer.Issued
			action string
		}{{revoked, "revoke"}, {suspended, "suspend"}} {
			if st := srv.call(t, http.MethodPost, "/v1/credentials/"+c.cred.ID+"/"+c.action, auditor, map[string]string{"reason": "other"}, nil); st != http.StatusOK {
				t.Fatalf("%s: HTTP %d", c.action, st)
			}
		}
		if revoked.Status.URI != suspended.Status.URI {
			t.Fatalf("two credentials in two lists (%s, %s): the test expects one", revoked.Status.URI, suspended.Status.URI)
		}
		var token string
		if st := srv.call(t, http.MethodGet, strings.TrimPrefix(revoked.Status.URI, srv.URL), "", nil, &token); st != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d", revoked.Status.URI, st)
		}
		var tok struct {
			Header  map[string]any `json:"header"`
			Payload map[string]any `json:"payload"`
			Values  []int          `json:"values"`
		}
		node(t, "status-token", map[string]any{"token": token, "issuer_jwk": issuerJWK, "idx": []int{revoked.Status.Idx, suspended.Status.Idx}}, &tok)
		if tok.Header["typ"] != "statuslist+jwt" || tok.Payload["sub"] != revoked.Status.URI || tok.Payload["iss"] != srv.IssuerDID {
			t.Fatalf("status list token header %v payload sub %v iss %v", tok.Header, tok.Payload["sub"], tok.Payload["iss"])
		}
		if !reflect.DeepEqual(tok.Values, []int{1, 2}) {
			t.Fatalf("sd-jwt-js reads statuses %v, want [1 2] (revoked, suspended)", tok.Values)
		}
		for _, c := range []issuer.Issued{revoked, suspended} {
			f := filepath.Join(dir, c.ID[strings.LastIndex(c.ID, ":")+1:]+".txt")
			writeFile(t, f, c.Credential)
			v := jsVerify(t, present(t, f, "--disclose-all"))
			if v.Library.OK || !strings.Contains(v.Library.Error, "Status is not valid") {
				t.Fatalf("sd-jwt-js on a credential with status != 0: ok=%v error %q", v.Library.OK, v.Library.Error)
			}
		}
	})
}

// jsIssuer is a credential issued and presented by sd-jwt-js, with the keys
// needed to check it.
type jsIssuer struct {
	dir           string
	iss           string
	issuerJWK     map[string]any // public
	issuerJWKFile string
	holderJWK     map[string]any // private
	credential    string
}

func newJSIssuer(t *testing.T, frame map[string]any) *jsIssuer {
	t.Helper()
	dir := t.TempDir()
	key := testkeys.New(t, jwa.ES256, "tmp")
	iss, err := did.JWKDID(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Set("kid", iss+"#0"); err != nil {
		t.Fatal(err)
	}
	j := &jsIssuer{dir: dir, iss: iss, issuerJWK: testkeys.PublicJWK(t, key), issuerJWKFile: filepath.Join(dir, "issuer.pub.jwk")}
	writeFile(t, j.issuerJWKFile, string(testkit.JSON(t, j.issuerJWK)))
	agentDID := mustRun(t, dir, "did", "create", "--method", "jwk", "--alg", "ES256", "--out", "agent.jwk")
	holder := readKey(t, filepath.Join(dir, "agent.jwk"))
	j.holderJWK = testkit.JSONMap(t, holder)
	now := time.Now().Unix()
	payload := certClaims()
	for k, v := range map[string]any{
		"iss": iss, "iat": now, "nbf": now, "exp": now + 3600, "vct": vct, "sub": agentDID,
		"cnf": map[string]any{"jwk": testkeys.PublicJWK(t, holder)},
	} {
		payload[k] = v
	}
	var out struct {
		Credential string `json:"credential"`
	}
	node(t, "issue", map[string]any{"issuer_jwk": testkit.JSONMap(t, key), "kid": iss + "#0", "payload": payload, "frame": frame}, &out)
	j.credential = out.Credential
	return j
}

// present makes an sd-jwt-js presentation with a KB-JWT.
func (j *jsIssuer) present(t *testing.T, frame map[string]any) string {
	t.Helper()
	var out struct {
		Presentation string `json:"presentation"`
	}
	node(t, "present", map[string]any{"credential": j.credential, "frame": frame, "holder_jwk": j.holderJWK, "aud": audience, "nonce": nonce, "iat": time.Now().Unix()}, &out)
	return out.Presentation
}

// jsFrame makes nested objects (agent recursively), array elements and
// decoys selectively disclosable.
var jsFrame = map[string]any{
	"_sd":       []any{"autonomy", "agent"},
	"_sd_decoy": 2,
	"principal": map[string]any{"_sd": []any{"name", "type"}, "_sd_decoy": 1},
	"agent":     map[string]any{"_sd": []any{"class", "version", "operator"}},
	"permissions": map[string]any{
		"_sd":       []any{0, 1, 2},
		"_sd_decoy": 1,
	},
}

// jsFrameHiddenConstraints also makes one permission's constraints
// disclosable, which agentcert refuses: a holder could show the permission
// and withhold its limits.
var jsFrameHiddenConstraints = map[string]any{
	"permissions": map[string]any{
		"_sd": []any{0, 1, 2},
		"2":   map[string]any{"_sd": []any{"constraints"}},
	},
}

// TestSDJWTJSToAgentcert: sd-jwt-js issues with cnf key binding and
// presents; agentcert verify --issuer-jwk and POST /v1/verify (issuer
// trusted through config) accept it with the claims sd-jwt-js yields.
func TestSDJWTJSToAgentcert(t *testing.T) {
	requireNode(t)
	j := newJSIssuer(t, jsFrame)
	srv := startServer(t, fmt.Sprintf("issuer:\n  enabled: false\nverifier:\n  check_status: false\n  require_kb: true\n  trusted:\n    - issuer: %q\n      vcts: [%q]\n", j.iss, vct))

	for _, tc := range []struct {
		name        string
		frame       map[string]any
		permissions int
		allowed     bool // may the agent invoices:read?
	}{
		{"all", map[string]any{
			"autonomy": true, "agent": map[string]any{"class": true, "version": true, "operator": true},
			"principal":   map[string]any{"name": true, "type": true},
			"permissions": map[string]any{"0": true, "1": true, "2": true},
		}, 3, true},
		{"some", map[string]any{
			"agent": map[string]any{"class": true}, "principal": map[string]any{"name": true},
			"permissions": map[string]any{"0": true, "2": true},
		}, 2, true},
		{"none", map[string]any{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pres := j.present(t, tc.frame)
			var v jsVerdict
			node(t, "verify", map[string]any{"presentation": pres, "issuer_jwk": j.issuerJWK, "aud": audience, "nonce": nonce, "max_kb_age": 300, "no_status": true}, &v)
			if !v.Library.OK || !v.Harness.OK {
				t.Fatalf("sd-jwt-js refused its own presentation: %s %v", v.Library.Error, v.Harness.Errors)
			}
			if perms, _ := v.Library.Payload["permissions"].([]any); len(perms) != tc.permissions {
				t.Fatalf("sd-jwt-js disclosed %d permissions, want %d", len(perms), tc.permissions)
			}

			cli := agentcertVerify(t, j.dir, pres, "--aud", audience, "--nonce", nonce, "--issuer-jwk", j.issuerJWKFile, "--no-status")
			if !cli.Verified {
				t.Fatalf("agentcert verify refused sd-jwt-js's presentation: %+v", cli.Errors)
			}
			sameClaims(t, v.Library.Payload, cli.Claims)

			var api verifyResult
			if st := srv.call(t, http.MethodPost, "/v1/verify", "", map[string]any{"presentation": pres, "audience": audience, "nonce": nonce, "action": "invoices:read"}, &api); st != http.StatusOK {
				t.Fatalf("POST /v1/verify: HTTP %d", st)
			}
			if !api.Verified || api.Issuer != j.iss || api.VCT != vct {
				t.Fatalf("POST /v1/verify refused sd-jwt-js's presentation: %+v", api)
			}
			sameClaims(t, v.Library.Payload, api.Claims)
			if api.Decision == nil || api.Decision.Allowed != tc.allowed {
				t.Fatalf("decision for invoices:read %+v, want allowed=%v", api.Decision, tc.allowed)
			}
		})
	}
}

// TestHiddenConstraintsRefused: sd-jwt-js accepts a credential whose
// permission constraints are selectively disclosable; agentcert refuses it
// (missing_claim), even with the constraints disclosed.
func TestHiddenConstraintsRefused(t *testing.T) {
	requireNode(t)
	j := newJSIssuer(t, jsFrameHiddenConstraints)
	pres := j.present(t, map[string]any{"permissions": map[string]any{"2": map[string]any{"constraints": true}}})
	var v jsVerdict
	node(t, "verify", map[string]any{"presentation": pres, "issuer_jwk": j.issuerJWK, "aud": audience, "nonce": nonce, "max_kb_age": 300, "no_status": true}, &v)
	if !v.Library.OK {
		t.Fatalf("sd-jwt-js refused it: %s", v.Library.Error)
	}
	cli := agentcertVerify(t, j.dir, pres, "--aud", audience, "--nonce", nonce, "--issuer-jwk", j.issuerJWKFile, "--no-status")
	if cli.Verified || len(cli.Errors) == 0 || cli.Errors[0].Code != "missing_claim" {
		t.Fatalf("agentcert must refuse disclosable constraints: %+v", cli)
	}
}

// TestStatusListEncodings: each side's lst decodes on the other to the same
// statuses.
func TestStatusListEncodings(t *testing.T) {
	requireNode(t)
	const size = 4096
	for _, tc := range []struct {
		bits int
		set  map[int]uint8
	}{
		{1, map[int]uint8{0: 1, 7: 1, 8: 1, 1000: 1, 4095: 1}},
		{2, map[int]uint8{0: 1, 3: 2, 4: 1, 5: 2, 1001: 2, 2048: 1, 4095: 2}},
	} {
		t.Run(fmt.Sprintf("bits=%d", tc.bits), func(t *testing.T) {
			want := make([]int, size)
			var pairs [][2]int
			l, err := revocation.NewList(size, tc.bits)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range tc.set {
				want[i] = int(v)
				pairs = append(pairs, [2]int{i, int(v)})
				if err := l.Set(i, v); err != nil {
					t.Fatal(err)
				}
			}
			idx := make([]int, size)
			for i := range idx {
				idx[i] = i
			}

			ours, err := l.EncodeIETF()
			if err != nil {
				t.Fatal(err)
			}
			var dec struct {
				Values []int `json:"values"`
			}
			node(t, "lst-decode", map[string]any{"bits": tc.bits, "lst": ours, "idx": idx}, &dec)
			if !reflect.DeepEqual(dec.Values, want) {
				t.Fatalf("sd-jwt-js decodes agentcert's lst differently")
			}

			var enc struct {
				LST string `json:"lst"`
			}
			node(t, "lst-encode", map[string]any{"bits": tc.bits, "size": size, "set": pairs}, &enc)
			theirs, err := revocation.DecodeIETF(enc.LST, tc.bits, 1<<20)
			if err != nil {
				t.Fatalf("agentcert cannot decode sd-jwt-js's lst: %v", err)
			}
			if err := theirs.RequireLen(size); err != nil {
				t.Fatalf("sd-jwt-js's lst for %d entries: %v", size, err)
			}
			for i := range size {
				if v, _ := theirs.Get(i); int(v) != want[i] {
					t.Fatalf("entry %d: agentcert reads %d from sd-jwt-js's lst, want %d", i, v, want[i])
				}
			}
		})
	}
}

// source is a presentation without KB-JWT, its holder key and how each side
// finds the issuer key.
type source struct {
	dir        string
	base       string         // "<JWT>~<D1>~...~<Dn>~"
	holderJWK  map[string]any // private
	issuerJWK  map[string]any // public, for sd-jwt-js
	issuerArgs []string       // for agentcert verify
}

// kb appends a KB-JWT signed by sdjwt-tool.mjs; hashInput, when not empty,
// replaces the string sd_hash is computed over.
func (s source) kb(t *testing.T, pres, aud string, iat int64, hashInput string) string {
	t.Helper()
	req := map[string]any{"presentation": pres, "holder_jwk": s.holderJWK, "aud": aud, "nonce": nonce, "iat": iat}
	if hashInput != "" {
		req["sd_hash_input"] = hashInput
	}
	var out struct {
		Presentation string `json:"presentation"`
	}
	node(t, "kb", req, &out)
	return out.Presentation
}

// alterDisclosure changes the first salt character of the first disclosure
// and re-encodes it: still well formed, referenced by no digest.
func alterDisclosure(t *testing.T, base string) string {
	t.Helper()
	parts := strings.Split(base, "~")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || len(raw) < 3 || raw[0] != '[' || raw[1] != '"' {
		t.Fatalf("disclosure %q: %v", parts[1], err)
	}
	if raw[2] == 'A' {
		raw[2] = 'B'
	} else {
		raw[2] = 'A'
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, "~")
}

// TestTamperedFailBothSides runs each tampered variant of an agentcert and an
// sd-jwt-js presentation through both verifiers. Where sd-jwt-js itself
// accepts, the test pins that and requires the harness check to refuse.
func TestTamperedFailBothSides(t *testing.T) {
	requireNode(t)
	sources := map[string]source{}

	// agentcert, offline issuer (same sdjwt code as the server's).
	{
		dir := t.TempDir()
		issuerDID := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "ES256", "--out", "issuer.jwk")
		agentDID := mustRun(t, dir, "did", "create", "--method", "jwk", "--alg", "ES256", "--out", "agent.jwk")
		writeFile(t, filepath.Join(dir, "claims.json"), string(testkit.JSON(t, certClaims())))
		writeFile(t, filepath.Join(dir, "cred.txt"), mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--sd", "/permissions/*", "--sd", "/principal/name", "--holder", agentDID))
		pres := mustRun(t, dir, "present", "--credential", "cred.txt", "--key", "agent.jwk", "--aud", audience, "--nonce", nonce, "--disclose-all")
		pub, err := did.PublicKey(issuerDID)
		if err != nil {
			t.Fatal(err)
		}
		sources["agentcert"] = source{dir: dir, base: withoutKB(pres), holderJWK: testkit.JSONMap(t, readKey(t, filepath.Join(dir, "agent.jwk"))),
			issuerJWK: testkit.JSONMap(t, pub), issuerArgs: []string{"--trust", issuerDID}}
	}
	// sd-jwt-js.
	{
		j := newJSIssuer(t, jsFrame)
		pres := j.present(t, map[string]any{"principal": map[string]any{"name": true}, "permissions": map[string]any{"0": true, "1": true}})
		sources["sd-jwt-js"] = source{dir: j.dir, base: withoutKB(pres), holderJWK: j.holderJWK,
			issuerJWK: j.issuerJWK, issuerArgs: []string{"--issuer-jwk", j.issuerJWKFile}}
	}

	for name, s := range sources {
		t.Run(name, func(t *testing.T) {
			now := time.Now().Unix()
			first := strings.Split(s.base, "~")[1]
			for _, tc := range []struct {
				name string
				pres string
				code string // agentcert's error code; "" = verified
				// libraryOK: sd-jwt-js itself accepts (a check it leaves to its caller).
				libraryOK  bool
				libraryErr string
			}{
				{name: "untampered", pres: s.kb(t, s.base, audience, now, ""), libraryOK: true},
				{name: "altered disclosure", pres: s.kb(t, alterDisclosure(t, s.base), audience, now, ""), code: "disclosure_not_referenced"},
				{name: "KB-JWT for another audience", pres: s.kb(t, s.base, "https://attacker.example", now, ""), code: "kb_wrong_audience", libraryOK: true},
				{name: "sd_hash without the trailing ~", pres: s.kb(t, s.base, audience, now, strings.TrimSuffix(s.base, "~")), code: "kb_sd_hash_mismatch", libraryErr: "sd_hash"},
				{name: "repeated disclosure", pres: s.kb(t, s.base+first+"~", audience, now, ""), code: "duplicate_disclosure", libraryOK: true},
				{name: "KB-JWT an hour old", pres: s.kb(t, s.base, audience, now-3600, ""), code: "kb_stale", libraryOK: true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					res := agentcertVerify(t, s.dir, tc.pres, append([]string{"--aud", audience, "--nonce", nonce, "--no-status"}, s.issuerArgs...)...)
					if res.Verified != (tc.code == "") || res.code() != tc.code {
						t.Errorf("agentcert: verified=%v code %q, want code %q", res.Verified, res.code(), tc.code)
					}
					var v jsVerdict
					node(t, "verify", map[string]any{"presentation": tc.pres, "issuer_jwk": s.issuerJWK, "aud": audience, "nonce": nonce, "max_kb_age": 300, "no_status": true}, &v)
					if v.Library.OK != tc.libraryOK || !strings.Contains(v.Library.Error, tc.libraryErr) {
						t.Errorf("sd-jwt-js library: ok=%v error %q, want ok=%v (error mentioning %q)", v.Library.OK, v.Library.Error, tc.libraryOK, tc.libraryErr)
					}
					if v.Harness.OK != (tc.code == "") {
						t.Errorf("sd-jwt-js with the harness checks: ok=%v %v, want ok=%v", v.Harness.OK, v.Harness.Errors, tc.code == "")
					}
				})
			}
		})
	}
}
