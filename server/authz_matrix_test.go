package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/oid4vci"
	"github.com/agentcert/agentcert/oid4vp"
	"github.com/gorilla/mux"
)

// The callers of the authorization matrix, in the order of a row's cells.
var matrixCallers = []string{"none", "malformed", "revoked", tokens.RoleAdmin, tokens.RoleIssuer, tokens.RoleAuditor, tokens.RoleReporter}

// cells are the statuses a route answers each caller with, in the order of
// matrixCallers.
type cells [7]int

// everyone is a route that answers every caller alike: public routes
// ignore the Authorization header, whatever it holds.
func everyone(status int) cells { return cells{status, status, status, status, status, status, status} }

// only is a route for the given roles, which get status; no, malformed
// and revoked tokens get 401, other roles 403.
func only(status int, roles ...string) cells {
	c := cells{401, 401, 401}
	for i, caller := range matrixCallers[3:] {
		c[3+i] = 403
		for _, r := range roles {
			if r == caller {
				c[3+i] = status
			}
		}
	}
	return c
}

// matrixRow is one route of the matrix: the request made and the status
// expected per caller. Bodies are empty objects and ids unknown, so that an
// allowed caller reaches the handler and is refused there for its input
// (never for its token), without changing what the other cells see.
type matrixRow struct {
	path string // the request path for the route's template
	body string
	want cells
}

// authzMatrix is every route of the issuer-mode server: "METHOD template"
// -> row. A route the router serves without a row here fails
// TestAuthorizationMatrix, so a new route needs one. credID and statusPath
// are an issued credential's id and status list path; requireToken is
// verifier.require_token.
func authzMatrix(credID, statusPath string, requireToken bool) map[string]matrixRow {
	const iss, aud, rep, adm = tokens.RoleIssuer, tokens.RoleAuditor, tokens.RoleReporter, tokens.RoleAdmin
	m := map[string]matrixRow{
		// Health, metrics, documents: public.
		"GET /healthz":      {"/healthz", "", everyone(200)},
		"GET /readyz":       {"/readyz", "", everyone(200)},
		"GET /metrics":      {"/metrics", "", everyone(200)},
		"GET /openapi.yaml": {"/openapi.yaml", "", everyone(200)},
		"GET /vct/":         {"/vct/agent-certification/v1/schema.json", "", everyone(200)},
		// Well-known documents and status lists: public.
		"GET /.well-known/did.json":                                   {"/.well-known/did.json", "", everyone(200)},
		"GET /.well-known/jwt-vc-issuer":                              {"/.well-known/jwt-vc-issuer", "", everyone(200)},
		"GET " + sigDirPath:                                           {sigDirPath, "", everyone(200)},
		"GET /statuslists/{id}":                                       {statusPath, "", everyone(200)},
		"HEAD /statuslists/{id}":                                      {statusPath, "", everyone(200)},
		"GET " + oid4vci.WellKnownIssuer:                              {oid4vci.WellKnownIssuer, "", everyone(200)},
		"GET " + oid4vci.WellKnownAS:                                  {oid4vci.WellKnownAS, "", everyone(200)},
		"GET " + oid4vci.OfferPath + "{ref}":                          {oid4vci.OfferPath + "unknown", "", everyone(404)},
		"POST " + oid4vci.TokenPath:                                   {oid4vci.TokenPath, "", everyone(400)},
		"POST " + oid4vci.NoncePath:                                   {oid4vci.NoncePath, "", everyone(200)},
		"POST " + oid4vci.CredentialPath:                              {oid4vci.CredentialPath, "{}", everyone(401)}, // its own access tokens, never ours
		"POST /v1/offers":                                             {"/v1/offers", "{}", only(400, iss)},
		"POST /v1/credentials":                                        {"/v1/credentials", "{}", only(400, iss)},
		"GET /v1/credentials":                                         {"/v1/credentials", "", only(200, aud)},
		"GET /v1/credentials/{id}":                                    {"/v1/credentials/" + credID, "", only(200, iss, aud)},
		"POST /v1/credentials/{id}/{action:revoke|suspend|reinstate}": {"/v1/credentials/cred_unknown/revoke", `{"reason":"other"}`, only(404, aud, iss)},
		"POST /v1/revocations":                                        {"/v1/revocations", "{}", only(400, aud)},
		"GET /v1/audit":                                               {"/v1/audit", "", only(200, aud)},
		"POST /v1/incidents":                                          {"/v1/incidents", "{}", only(400, rep)},
		"GET /v1/incidents":                                           {"/v1/incidents", "", only(200, aud)},
		"GET /v1/incidents/{id}":                                      {"/v1/incidents/inc_unknown", "", only(404, aud)},
		"POST /v1/incidents/{id}/resolve":                             {"/v1/incidents/inc_unknown/resolve", "{}", only(400, aud)},
		"POST /v1/admin/tokens":                                       {"/v1/admin/tokens", "{}", only(400, adm)},
		"GET /v1/admin/tokens":                                        {"/v1/admin/tokens", "", only(200, adm)},
		"DELETE /v1/admin/tokens/{id}":                                {"/v1/admin/tokens/tok_unknown", "", only(404, adm)},
		"GET /v1/admin/keys":                                          {"/v1/admin/keys", "", only(200, adm)},
		"POST /v1/admin/keys/rotate":                                  {"/v1/admin/keys/rotate", "{}", only(200, adm)},
		"POST /v1/admin/keys/retire":                                  {"/v1/admin/keys/retire", "{}", only(400, adm)},
		// The verifier: public by default, any role's token with
		// verifier.require_token.
		"POST /v1/verify": {"/v1/verify", "{}", everyone(400)},
		"GET /v1/nonce":   {"/v1/nonce", "", everyone(200)},
		// OpenID4VP: the counterparty's calls are the verifier's; the
		// wallet's protocol endpoints are always open (the request's
		// reference and state are its credentials).
		"POST /v1/presentation-requests":        {"/v1/presentation-requests", "{}", everyone(400)},
		"GET /v1/presentation-requests/{id}":    {"/v1/presentation-requests/unknown", "", everyone(404)},
		"GET " + oid4vp.RequestPath + "{ref}":   {oid4vp.RequestPath + "unknown", "", everyone(400)},
		"POST " + oid4vp.ResponsePath + "{ref}": {oid4vp.ResponsePath + "unknown", "{}", everyone(400)},
		"POST /v1/approvals/requests":           {"/v1/approvals/requests", "{}", everyone(400)},
	}
	if requireToken {
		m["POST /v1/verify"] = matrixRow{"/v1/verify", "{}", only(400, adm, iss, aud, rep)}
		m["GET /v1/nonce"] = matrixRow{"/v1/nonce", "", only(200, adm, iss, aud, rep)}
		m["POST /v1/presentation-requests"] = matrixRow{"/v1/presentation-requests", "{}", only(400, adm, iss, aud, rep)}
		m["GET /v1/presentation-requests/{id}"] = matrixRow{"/v1/presentation-requests/unknown", "", only(404, adm, iss, aud, rep)}
		m["POST /v1/approvals/requests"] = matrixRow{"/v1/approvals/requests", "{}", only(400, adm, iss, aud, rep)}
	}
	return m
}

// servedRoutes walks the router: "METHOD template" of every route with a
// handler.
func servedRoutes(t *testing.T, r *mux.Router) []string {
	t.Helper()
	var out []string
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if route.GetHandler() == nil {
			return nil // the /v1 subrouter's parent
		}
		tmpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return err
		}
		for _, m := range methods {
			out = append(out, m+" "+tmpl)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// unmatchedRows returns the served routes without a row and the rows of
// routes not served.
func unmatchedRows(served []string, rows map[string]matrixRow) (missing, stale []string) {
	seen := map[string]bool{}
	for _, route := range served {
		seen[route] = true
		if _, ok := rows[route]; !ok {
			missing = append(missing, route)
		}
	}
	for route := range rows {
		if !seen[route] {
			stale = append(stale, route)
		}
	}
	sort.Strings(stale)
	return missing, stale
}

// TestAuthorizationMatrix: generated from the router of the server in
// issuer mode (OpenID4VCI and incidents on), every route × {no token,
// malformed token, revoked token, admin, issuer, auditor, reporter} gets
// the status of its row; a route without a row, or a row for a route that
// is not served, fails.
func TestAuthorizationMatrix(t *testing.T) {
	for _, requireToken := range []bool{false, true} {
		name := "verify public"
		if requireToken {
			name = "verify requires a token"
		}
		t.Run(name, func(t *testing.T) {
			env := NewTestEnv(t, func(c *config.Config) { c.Verifier.RequireToken = requireToken })
			s := env.Server
			ctx := context.Background()
			bearer := map[string]string{"malformed": "Bearer"}
			for _, role := range []string{tokens.RoleAdmin, tokens.RoleIssuer, tokens.RoleAuditor, tokens.RoleReporter} {
				secret, _, err := tokens.Create(ctx, s.store, role, "matrix-"+role, "test", s.now())
				if err != nil {
					t.Fatal(err)
				}
				bearer[role] = "Bearer " + secret
			}
			revoked, tok, err := tokens.Create(ctx, s.store, tokens.RoleAdmin, "matrix-revoked", "test", s.now())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.store.RevokeToken(ctx, tok.ID, s.now(), &store.AuditEntry{Time: s.now(), Actor: "test", Action: "token.revoke", Target: tok.ID}); err != nil {
				t.Fatal(err)
			}
			bearer["revoked"] = "Bearer " + revoked

			// One credential, so that its record and status list exist.
			w := serve(s, http.MethodPost, "/v1/credentials", bearer[tokens.RoleIssuer],
				`{"subject":"`+newSubject(t)+`","claims":{"principal":{"id":"did:web:acme.example","name":"ACME","type":"organization"},`+
					`"agent":{"class":"ap-assistant","version":"1.0"},"permissions":[{"action":"invoices:read"}],"autonomy":"supervised"}}`)
			var issued issuer.Issued
			if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &issued) != nil {
				t.Fatalf("issue: %d %s", w.Code, w.Body)
			}

			u, err := url.Parse(issued.Status.URI)
			if err != nil {
				t.Fatal(err)
			}
			rows := authzMatrix(issued.ID, u.Path, requireToken)
			served := servedRoutes(t, s.router)
			missing, stale := unmatchedRows(served, rows)
			for _, route := range missing {
				t.Errorf("route %s has no row in the authorization matrix: add one", route)
			}
			for _, route := range stale {
				t.Errorf("the matrix has a row for %s, which the server does not serve", route)
			}
			for _, route := range served {
				row, ok := rows[route]
				if !ok {
					continue
				}
				method, _, _ := strings.Cut(route, " ")
				for i, caller := range matrixCallers {
					w := serve(s, method, row.path, bearer[caller], row.body)
					if w.Code != row.want[i] {
						t.Errorf("%s as %s: %d, want %d (%s)", route, caller, w.Code, row.want[i], strings.TrimSpace(w.Body.String()))
					}
					// OpenID4VCI's endpoints answer OAuth errors (RFC 6749,
					// RFC 6750), the rest problem+json.
					oauth := strings.HasPrefix(row.path, "/oid4vci/")
					if (w.Code == 401 || w.Code == 403) && !oauth && w.Header().Get("Content-Type") != "application/problem+json" {
						t.Errorf("%s as %s: %d as %q, not problem+json", route, caller, w.Code, w.Header().Get("Content-Type"))
					}
				}
			}
			// A route added without a row is caught.
			s.router.HandleFunc("/v1/unlisted", func(http.ResponseWriter, *http.Request) {}).Methods(http.MethodPut)
			if missing, _ := unmatchedRows(servedRoutes(t, s.router), rows); len(missing) != 1 || missing[0] != "PUT /v1/unlisted" {
				t.Errorf("a new route without a row: missing %v", missing)
			}
			t.Logf("%d routes × %d callers", len(served), len(matrixCallers))
		})
	}
}

// serve sends one request through the server's handler.
func serve(s *Server, method, path, authorization, body string) *httptest.ResponseRecorder {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	return w
}
