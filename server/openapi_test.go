package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gorilla/mux"

	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/oid4vp"
)

// openapiServer builds a real server with the issuer enabled, wired the way
// cmd/agentcert's openIssuer wires it, on a temporary data directory.
func openapiServer(t *testing.T) *Server {
	t.Helper()
	return NewTestEnv(t, nil).Server
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	return doc
}

func TestOpenAPIValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml does not validate: %v", err)
	}
	if doc.Components == nil || doc.Components.SecuritySchemes["bearer"] == nil {
		t.Fatal("components.securitySchemes.bearer is missing")
	}
	if doc.Components.Schemas["Problem"] == nil {
		t.Fatal("components.schemas.Problem is missing")
	}
}

// TestOpenAPIOperations checks what every operation must say: protected
// operations name their roles and document 401 and 403, and every 4xx
// answer of the API is a problem document (except the file server's 404).
func TestOpenAPIOperations(t *testing.T) {
	doc := loadOpenAPI(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.Security != nil {
				required := true // bearer without an anonymous alternative
				for _, req := range *op.Security {
					if len(req) == 0 {
						required = false
					}
				}
				if required {
					if !strings.Contains(op.Description, "Roles: ") {
						t.Errorf("%s: protected, but the description names no roles", name)
					}
					for _, code := range []string{"401", "403"} {
						if op.Responses.Value(code) == nil {
							t.Errorf("%s: protected, but %s is not documented", name, code)
						}
					}
				}
			}
			for code, ref := range op.Responses.Map() {
				if !strings.HasPrefix(code, "4") || path == "/vct/{file}" {
					continue
				}
				if strings.HasPrefix(path, "/oid4vci/") && path != "/oid4vci/offers/{ref}" || strings.HasPrefix(path, "/oid4vp/") {
					// The protocol's own endpoints answer OAuth error
					// objects, as OpenID4VCI requires.
					if ref.Value.Content.Get("application/json") == nil {
						t.Errorf("%s: response %s is not an application/json OAuth error", name, code)
					}
					continue
				}
				if ref.Value.Content.Get("application/problem+json") == nil {
					t.Errorf("%s: response %s is not application/problem+json", name, code)
				}
			}
		}
	}
}

// muxVar matches one gorilla/mux variable, {name} or {name:pattern}.
var muxVar = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}`)

// literalAlternatives matches a mux pattern that is a plain alternation of
// literal segments, such as revoke|suspend|reinstate.
var literalAlternatives = regexp.MustCompile(`^[A-Za-z0-9._-]+(\|[A-Za-z0-9._-]+)*$`)

// openapiPaths turns one mux path template into the OpenAPI paths it
// stands for: a variable whose pattern is an alternation of literals
// expands into one path per literal; any other {name:pattern} becomes
// {name}; a PathPrefix route "/p/" becomes "/p/{file}".
func openapiPaths(tmpl string, prefix bool) []string {
	if prefix {
		tmpl = strings.TrimSuffix(tmpl, "/") + "/{file}"
	}
	loc := muxVar.FindStringSubmatchIndex(tmpl)
	if loc == nil {
		return []string{tmpl}
	}
	head, tail := tmpl[:loc[0]], tmpl[loc[1]:]
	name := tmpl[loc[2]:loc[3]]
	var parts []string
	if loc[4] >= 0 && literalAlternatives.MatchString(tmpl[loc[4]:loc[5]]) {
		parts = strings.Split(tmpl[loc[4]:loc[5]], "|")
	} else {
		parts = []string{"{" + name + "}"}
	}
	var out []string
	for _, p := range parts {
		for _, rest := range openapiPaths(tail, false) {
			out = append(out, head+p+rest)
		}
	}
	return out
}

func TestOpenAPIPathsNormalization(t *testing.T) {
	tests := []struct {
		tmpl   string
		prefix bool
		want   []string
	}{
		{"/healthz", false, []string{"/healthz"}},
		{"/statuslists/{id}", false, []string{"/statuslists/{id}"}},
		{"/v1/x/{id:[0-9]+}", false, []string{"/v1/x/{id}"}},
		{"/v1/credentials/{id}/{action:revoke|suspend|reinstate}", false,
			[]string{"/v1/credentials/{id}/revoke", "/v1/credentials/{id}/suspend", "/v1/credentials/{id}/reinstate"}},
		{"/{a:x|y}/{b:p|q}", false, []string{"/x/p", "/x/q", "/y/p", "/y/q"}},
		{"/vct/", true, []string{"/vct/{file}"}},
		{"/vct", true, []string{"/vct/{file}"}},
	}
	for _, tt := range tests {
		if got := openapiPaths(tt.tmpl, tt.prefix); !slices.Equal(got, tt.want) {
			t.Errorf("openapiPaths(%q, %v) = %q, want %q", tt.tmpl, tt.prefix, got, tt.want)
		}
	}
}

// routedOperations walks the router and returns "METHOD /openapi/path" for
// every route that has a handler.
func routedOperations(t *testing.T, r *mux.Router) map[string]bool {
	t.Helper()
	ops := map[string]bool{}
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if route.GetHandler() == nil {
			return nil // a subrouter's parent route, e.g. PathPrefix("/v1")
		}
		tmpl, err := route.GetPathTemplate()
		if err != nil {
			t.Errorf("route without a path template: %v", err)
			return nil
		}
		re, err := route.GetPathRegexp()
		if err != nil {
			t.Errorf("route %s: %v", tmpl, err)
			return nil
		}
		prefix := !strings.HasSuffix(re, "$") // PathPrefix routes are not anchored at the end
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s answers every method; routes must name theirs: %v", tmpl, err)
			return nil
		}
		for _, p := range openapiPaths(tmpl, prefix) {
			for _, m := range methods {
				ops[strings.ToUpper(m)+" "+p] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return ops
}

func documentedOperations(doc *openapi3.T) map[string]bool {
	ops := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops[strings.ToUpper(method)+" "+path] = true
		}
	}
	return ops
}

func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := documentedOperations(doc)
	routed := routedOperations(t, openapiServer(t).Router())
	if len(routed) == 0 {
		t.Fatal("the router has no routes")
	}
	for _, op := range sortedKeys(routed) {
		if !documented[op] {
			t.Errorf("%s is routed but not documented in openapi.yaml", op)
		}
	}
	for _, op := range sortedKeys(documented) {
		if routed[op] {
			continue
		}
		t.Errorf("%s is documented in openapi.yaml but not routed", op)
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestOpenAPIServed(t *testing.T) {
	s := openapiServer(t)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: status %d, want 200", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/yaml" {
		t.Errorf("Content-Type = %q, want application/yaml", got)
	}
	if !bytes.Equal(rec.Body.Bytes(), OpenAPI) {
		t.Errorf("GET /openapi.yaml served %d bytes that differ from the embedded %d", rec.Body.Len(), len(OpenAPI))
	}
	if len(OpenAPI) < 1000 {
		t.Errorf("the embedded document is only %d bytes", len(OpenAPI))
	}
}

// jwtBodyDecoders lets openapi3filter read the status list media types as
// plain strings (it knows only JSON, YAML and text out of the box).
var jwtBodyDecoders sync.Once

// registerBodyDecoders registers, once, the decoders of every media type
// the document uses beyond JSON.
func registerBodyDecoders() {
	jwtBodyDecoders.Do(func() {
		openapi3filter.RegisterBodyDecoder(mediaStatusListJWT, openapi3filter.PlainBodyDecoder)
		openapi3filter.RegisterBodyDecoder(mediaVCJWT, openapi3filter.PlainBodyDecoder)
		openapi3filter.RegisterBodyDecoder(sigDirMediaType, openapi3filter.JSONBodyDecoder)
		openapi3filter.RegisterBodyDecoder(oid4vp.RequestObjectMediaType, openapi3filter.PlainBodyDecoder)
	})
}

// apiCall is one request of the conformance walk.
type apiCall struct {
	name       string
	method     string
	path       string // the request path, query included
	tmpl       string // the documented path it must match
	token      string
	body       string
	header     map[string]string
	want       int
	docRejects bool // the document itself must refuse the request
}

// pathParams extracts the values of tmpl's {name} segments from path; a
// trailing {file} takes the rest of the path (the /vct/ prefix route).
func pathParams(tmpl, path string) map[string]string {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	out := map[string]string{}
	for i, seg := range ts {
		if !strings.HasPrefix(seg, "{") || i >= len(ps) {
			continue
		}
		name := strings.Trim(seg, "{}")
		if name == "file" && i == len(ts)-1 {
			out[name] = strings.Join(ps[i:], "/")
			continue
		}
		out[name] = ps[i]
	}
	return out
}

// do serves c and checks that the request and the response agree with the
// document: the operation exists, the request validates (or, for
// docRejects, does not), and the status, headers and body are documented.
func (c apiCall) do(t *testing.T, s *Server, doc *openapi3.T) *httptest.ResponseRecorder {
	t.Helper()
	newReq := func() *http.Request {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		r := httptest.NewRequest(c.method, c.path, body)
		if c.body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		if c.token != "" {
			r.Header.Set("Authorization", "Bearer "+c.token)
		}
		for k, v := range c.header {
			r.Header.Set(k, v)
		}
		return r
	}
	item := doc.Paths.Value(c.tmpl)
	if item == nil || item.GetOperation(c.method) == nil {
		t.Fatalf("%s: %s %s is not documented", c.name, c.method, c.tmpl)
	}
	route := &routers.Route{Spec: doc, Path: c.tmpl, PathItem: item, Method: c.method, Operation: item.GetOperation(c.method)}
	in := &openapi3filter.RequestValidationInput{
		Request: newReq(), PathParams: pathParams(c.tmpl, strings.SplitN(c.path, "?", 2)[0]), Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	err := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case c.docRejects && err == nil:
		t.Errorf("%s: the document accepts a request the server refuses", c.name)
	case !c.docRejects && err != nil:
		t.Errorf("%s: the document refuses the request: %v", c.name, err)
	}

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, newReq())
	if rec.Code != c.want {
		t.Fatalf("%s: status %d, want %d; body %s", c.name, rec.Code, c.want, rec.Body)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body:    io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s: the response does not match the document: %v\nbody: %s", c.name, err, rec.Body)
	}
	return rec
}

// TestOpenAPIConformance drives the real server through every documented
// operation it has and checks each request and answer against the document.
func TestOpenAPIConformance(t *testing.T) {
	registerBodyDecoders()
	doc := loadOpenAPI(t)
	s := openapiServer(t)
	ctx := context.Background()
	secrets := map[string]string{}
	for _, role := range []string{tokens.RoleAdmin, tokens.RoleIssuer, tokens.RoleAuditor} {
		secret, _, err := tokens.Create(ctx, s.store, role, "openapi-"+role, "test", s.now())
		if err != nil {
			t.Fatalf("CreateToken(%s): %v", role, err)
		}
		secrets[role] = secret
	}
	admin, iss, aud := secrets[tokens.RoleAdmin], secrets[tokens.RoleIssuer], secrets[tokens.RoleAuditor]

	const subject = "did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6IjA1RVdPUjFMTVc0MlRHRHVjRkVBN0JObm9pTnduZDBQZEMxRjdZTzFGa1kiLCJ5IjoiejlmVzAzLUh6VzFKdnhINnh0ZGlvNmtZNlVWalhEOGdHcHRfQnV0M0g3WSJ9"
	issue := `{"subject":"` + subject + `","valid_for":"720h","selectively_disclosable":["/agent/model"],"claims":{` +
		`"principal":{"id":"did:web:acme.example","name":"ACME Corporation","type":"organization"},` +
		`"agent":{"class":"invoice-assistant","version":"2.3.1","operator":"ACME IT Operations","model":"example-llm"},` +
		`"permissions":[{"action":"invoices:read"},{"action":"payments:initiate","constraints":{"max_amount":500,"currency":"EUR"}}],` +
		`"prohibitions":["payments:approve"],"autonomy":"supervised"}}`
	notCert := `{"subject":"` + subject + `","claims":{"autonomy":"supervised"}}`
	reason := `{"reason":"incident","incident":"INC-42","note":"openapi test"}`

	for _, c := range []apiCall{
		{name: "healthz", method: "GET", path: "/healthz", tmpl: "/healthz", want: 200},
		{name: "readyz", method: "GET", path: "/readyz", tmpl: "/readyz", want: 200},
		{name: "metrics", method: "GET", path: "/metrics", tmpl: "/metrics", want: 200},
		{name: "openapi", method: "GET", path: "/openapi.yaml", tmpl: "/openapi.yaml", want: 200},
		{name: "vct schema", method: "GET", path: "/vct/agent-certification/v1/schema.json", tmpl: "/vct/{file}", want: 200},
		{name: "vct type metadata", method: "GET", path: "/vct/agent-certification/v1/type-metadata.json", tmpl: "/vct/{file}", want: 200},
		{name: "delegation vct schema", method: "GET", path: "/vct/delegation/v1/schema.json", tmpl: "/vct/{file}", want: 200},
		{name: "delegation vct type metadata", method: "GET", path: "/vct/delegation/v1/type-metadata.json", tmpl: "/vct/{file}", want: 200},
		{name: "vct unknown", method: "GET", path: "/vct/agent-certification/v1/nope.json", tmpl: "/vct/{file}", want: 404},
		{name: "did.json", method: "GET", path: "/.well-known/did.json", tmpl: "/.well-known/did.json", want: 200},
		{name: "jwt-vc-issuer", method: "GET", path: "/.well-known/jwt-vc-issuer", tmpl: "/.well-known/jwt-vc-issuer", want: 200},
		{name: "status list unknown", method: "GET", path: "/statuslists/nope", tmpl: "/statuslists/{id}", want: 404},
		{name: "status list bad format", method: "GET", path: "/statuslists/nope?format=xml", tmpl: "/statuslists/{id}", want: 400, docRejects: true},
		{name: "issue without token", method: "POST", path: "/v1/credentials", tmpl: "/v1/credentials", body: issue, want: 401},
		{name: "issue as admin", method: "POST", path: "/v1/credentials", tmpl: "/v1/credentials", token: admin, body: issue, want: 403},
		{name: "issue schema_invalid", method: "POST", path: "/v1/credentials", tmpl: "/v1/credentials", token: iss, body: notCert, want: 400},
		{name: "issue unknown member", method: "POST", path: "/v1/credentials", tmpl: "/v1/credentials", token: iss, body: `{"subject":"` + subject + `","claims":{},"x":1}`, want: 400, docRejects: true},
		{name: "audit as issuer", method: "GET", path: "/v1/audit", tmpl: "/v1/audit", token: iss, want: 403},
		{name: "audit bad cursor", method: "GET", path: "/v1/audit?cursor=x", tmpl: "/v1/audit", token: aud, want: 400, docRejects: true},
		{name: "list bad limit", method: "GET", path: "/v1/credentials?limit=0", tmpl: "/v1/credentials", token: aud, want: 400, docRejects: true},
		{name: "get unknown credential", method: "GET", path: "/v1/credentials/urn:uuid:00000000-0000-4000-8000-000000000000", tmpl: "/v1/credentials/{id}", token: iss, want: 404},
		{name: "bulk too large", method: "POST", path: "/v1/revocations", tmpl: "/v1/revocations", token: aud,
			body: `{"action":"revoke","subject":"x","reason":"other","note":"` + strings.Repeat("a", 2<<20) + `"}`, want: 413, docRejects: true},
	} {
		c.do(t, s, doc)
	}

	// Issue, with an Idempotency-Key, and follow the credential around.
	idem := map[string]string{"Idempotency-Key": "openapi-1"}
	rec := apiCall{name: "issue", method: "POST", path: "/v1/credentials", tmpl: "/v1/credentials", token: iss, body: issue, header: idem, want: 201}.do(t, s, doc)
	var issued issuer.Issued
	if err := json.Unmarshal(rec.Body.Bytes(), &issued); err != nil {
		t.Fatalf("issue answer: %v", err)
	}
	apiCall{name: "issue replay", method: "POST", path: "/v1/credentials", tmpl: "/v1/credentials", token: iss, body: issue, header: idem, want: 201}.do(t, s, doc)
	apiCall{name: "issue key reuse", method: "POST", path: "/v1/credentials", tmpl: "/v1/credentials", token: iss, body: strings.Replace(issue, "720h", "721h", 1), header: idem, want: 409}.do(t, s, doc)

	_, listID, ok := strings.Cut(issued.Status.URI, "/statuslists/")
	if !ok {
		t.Fatalf("status uri %q has no /statuslists/", issued.Status.URI)
	}
	cred := "/v1/credentials/" + issued.ID
	rec = apiCall{name: "status list", method: "GET", path: "/statuslists/" + listID, tmpl: "/statuslists/{id}", want: 200}.do(t, s, doc)
	etag := rec.Header().Get("ETag")
	rec = apiCall{name: "signatures directory", method: "GET", path: sigDirPath, tmpl: sigDirPath, want: 200}.do(t, s, doc)
	if !strings.Contains(rec.Body.String(), `"use":"sig"`) {
		t.Fatalf("the directory lists no key after an issuance: %s", rec.Body)
	}
	for _, c := range []apiCall{
		{name: "status list 304", method: "GET", path: "/statuslists/" + listID, tmpl: "/statuslists/{id}", header: map[string]string{"If-None-Match": etag}, want: 304},
		{name: "status list w3c", method: "GET", path: "/statuslists/" + listID + "?format=w3c&purpose=suspension", tmpl: "/statuslists/{id}", want: 200},
		{name: "status list Accept", method: "GET", path: "/statuslists/" + listID, tmpl: "/statuslists/{id}", header: map[string]string{"Accept": mediaVCJWT}, want: 200},
		{name: "get credential", method: "GET", path: cred, tmpl: "/v1/credentials/{id}", token: iss, want: 200},
		{name: "list credentials", method: "GET", path: "/v1/credentials?status=valid&agent_class=invoice-assistant&issued_after=2000-01-01T00:00:00Z&issued_before=2200-01-01T00:00:00Z&limit=1", tmpl: "/v1/credentials", token: aud, want: 200},
		{name: "suspend", method: "POST", path: cred + "/suspend", tmpl: "/v1/credentials/{id}/suspend", token: aud, body: reason, want: 200},
		{name: "reinstate as issuer", method: "POST", path: cred + "/reinstate", tmpl: "/v1/credentials/{id}/reinstate", token: iss, body: reason, want: 403},
		{name: "reinstate", method: "POST", path: cred + "/reinstate", tmpl: "/v1/credentials/{id}/reinstate", token: aud, body: reason, want: 200},
		{name: "revoke bad reason", method: "POST", path: cred + "/revoke", tmpl: "/v1/credentials/{id}/revoke", token: aud, body: `{"reason":"bored"}`, want: 400, docRejects: true},
		{name: "revoke", method: "POST", path: cred + "/revoke", tmpl: "/v1/credentials/{id}/revoke", token: aud, body: reason, want: 200},
		{name: "reinstate revoked", method: "POST", path: cred + "/reinstate", tmpl: "/v1/credentials/{id}/reinstate", token: aud, body: reason, want: 409},
		{name: "bulk dry run", method: "POST", path: "/v1/revocations", tmpl: "/v1/revocations", token: aud, body: `{"action":"suspend","subject":"` + subject + `","dry_run":true,"reason":"other"}`, want: 200},
		{name: "audit", method: "GET", path: "/v1/audit?action=credential.issue&since=2000-01-01T00:00:00Z&limit=2", tmpl: "/v1/audit", token: aud, want: 200},
		{name: "list tokens", method: "GET", path: "/v1/admin/tokens", tmpl: "/v1/admin/tokens", token: admin, want: 200},
		{name: "list keys", method: "GET", path: "/v1/admin/keys", tmpl: "/v1/admin/keys", token: admin, want: 200},
		{name: "rotate", method: "POST", path: "/v1/admin/keys/rotate", tmpl: "/v1/admin/keys/rotate", token: admin, body: `{"alg":"EdDSA"}`, want: 200},
		{name: "nonce", method: "GET", path: "/v1/nonce", tmpl: "/v1/nonce", want: 200},
		{name: "verify garbage", method: "POST", path: "/v1/verify", tmpl: "/v1/verify", body: `{"presentation":"not-an-sd-jwt~","audience":"https://a.example","action":"invoices:read"}`, want: 200},
		{name: "verify without presentation", method: "POST", path: "/v1/verify", tmpl: "/v1/verify", body: `{"audience":"https://a.example"}`, want: 400, docRejects: true},
		{name: "verify unknown field", method: "POST", path: "/v1/verify", tmpl: "/v1/verify", body: `{"presentation":"x","audience":"a","bogus":1}`, want: 400, docRejects: true},
		{name: "revoke unknown token", method: "DELETE", path: "/v1/admin/tokens/tok_0000", tmpl: "/v1/admin/tokens/{id}", token: admin, want: 404},
	} {
		c.do(t, s, doc)
	}

	query := `{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:agentcert:agent-certification:v1"]},"claims":[{"path":["permissions",null,"action"]}]}]}`
	rec = apiCall{name: "presentation request", method: "POST", path: "/v1/presentation-requests", tmpl: "/v1/presentation-requests",
		body: `{"dcql_query":` + query + `,"response_mode":"direct_post.jwt","transaction_data":[{"type":"t","credential_ids":["cert"]}]}`, want: 201}.do(t, s, doc)
	var pr oid4vp.Created
	if err := json.Unmarshal(rec.Body.Bytes(), &pr); err != nil || pr.RequestURI == "" {
		t.Fatalf("presentation request answer %s: %v", rec.Body, err)
	}
	objPath := strings.TrimPrefix(pr.RequestURI, s.cfg.PublicURL)
	respPath := strings.TrimPrefix(pr.Request.ResponseURI, s.cfg.PublicURL)
	for _, c := range []apiCall{
		{name: "bad DCQL", method: "POST", path: "/v1/presentation-requests", tmpl: "/v1/presentation-requests", body: `{"dcql_query":{"credentials":[]}}`, want: 400},
		{name: "presentation request unknown field", method: "POST", path: "/v1/presentation-requests", tmpl: "/v1/presentation-requests", body: `{"dcql_query":` + query + `,"x":1}`, want: 400, docRejects: true},
		{name: "presentation result pending", method: "GET", path: "/v1/presentation-requests/" + pr.ID, tmpl: "/v1/presentation-requests/{id}", want: 200},
		{name: "presentation result unknown", method: "GET", path: "/v1/presentation-requests/nope", tmpl: "/v1/presentation-requests/{id}", want: 404},
		{name: "request object", method: "GET", path: objPath, tmpl: "/oid4vp/requests/{ref}", want: 200},
		{name: "request object unknown", method: "GET", path: "/oid4vp/requests/nope", tmpl: "/oid4vp/requests/{ref}", want: 400},
		{name: "response not a JWE", method: "POST", path: respPath, tmpl: "/oid4vp/responses/{ref}", body: "response=a.b.c",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: 400},
	} {
		c.do(t, s, doc)
	}

	rec = apiCall{name: "create token", method: "POST", path: "/v1/admin/tokens", tmpl: "/v1/admin/tokens", token: admin, body: `{"role":"auditor","name":"temp"}`, want: 201}.do(t, s, doc)
	var created struct{ ID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID == "" {
		t.Fatalf("create token answer %s: %v", rec.Body, err)
	}
	apiCall{name: "revoke token", method: "DELETE", path: "/v1/admin/tokens/" + created.ID, tmpl: "/v1/admin/tokens/{id}", token: admin, want: 204}.do(t, s, doc)
}
