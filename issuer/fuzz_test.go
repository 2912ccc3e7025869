package issuer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/issuer"
)

// FuzzLoadKEK: AGENTCERT_KEY_ENCRYPTION_KEY parsing never panics, accepts
// exactly the standard base64 of 32 bytes (white space around it allowed).
func FuzzLoadKEK(f *testing.F) {
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(make([]byte, 32)),
		" " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) + "\n",
		base64.StdEncoding.EncodeToString(make([]byte, 31)),
		base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		"====", "\x00", "not base64",
	} {
		f.Add(s)
	}
	missing := filepath.Join(f.TempDir(), "missing.key")
	f.Fuzz(func(t *testing.T, env string) {
		k, err := issuer.LoadKEK(env, missing, false)
		if err != nil {
			return
		}
		if strings.TrimSpace(env) == "" {
			t.Fatal("an empty env value gave a key")
		}
		want, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(env))
		if derr != nil || len(k) != issuer.KEKSize || !bytes.Equal(k, want) {
			t.Fatalf("accepted %q as %x", env, k)
		}
	})
}

// FuzzIssue: any request body (decoded as the server decodes it) is either
// issued, giving a credential that verifies with the request's subject, or
// refused with a client error code, never internal_error, and never panics.
func FuzzIssue(f *testing.F) {
	agent := "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	valid, _ := json.Marshal(request(agent))
	f.Add(valid)
	f.Add([]byte(`{"subject":"` + agent + `","claims":{}}`))
	f.Add([]byte(`{"subject":"` + agent + `","claims":{"iss":1}}`))
	f.Add([]byte(`{"subject":"did:jwk:e30","claims":{"autonomy":"x"},"valid_for":"1h","expires_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"subject":"` + agent + `","holder_jwk":{"kty":"EC"},"claims":{"a":[1,2,{"b":null}]},"selectively_disclosable":["/a/*","/a/2/b"]}`))
	f.Add(bytes.Replace(valid, []byte(`"/permissions/*"`), []byte(`"/principal/id","/agent","/permissions/0","/on_behalf_of"`), 1))
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req issuer.IssueRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if dec.Decode(&req) != nil {
			return
		}
		out, err := e.svc.Issue(context.Background(), issuerActor, req, "", nil)
		if err != nil {
			if c := errcode.CodeOf(err); c == errcode.Internal {
				t.Fatalf("request %s refused with internal_error: %v", body, err)
			}
			return
		}
		c, err := sdjwtVerify(e, out.Credential)
		if err != nil || c["sub"] != req.Subject || c["iss"] != testIssuer {
			t.Fatalf("issued %s for %s: %v %v", out.Credential, body, c, err)
		}
	})
}
