package testkit

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// DoJSON sends req with c and returns the status, the headers and the body
// decoded as a JSON object (nil when it is not one; the callers check the
// status and members they expect). A transport error fails t.
func DoJSON(t testing.TB, c *http.Client, req *http.Request) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m
}

// JWTPayload decodes the payload of a compact JWT, or of the issuer-signed
// JWT of an SD-JWT (the part before the first "~"), as a JSON object.
func JWTPayload(t testing.TB, token string) map[string]any {
	t.Helper()
	jwt, _, _ := strings.Cut(token, "~")
	seg := strings.Split(jwt, ".")
	if len(seg) != 3 {
		t.Fatalf("not a compact JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(seg[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return m
}
