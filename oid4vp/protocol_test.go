package oid4vp

import (
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
)

func TestParseLink(t *testing.T) {
	for name, tc := range map[string]struct {
		in               string
		clientID, reqURI string
		code             errcode.Code
	}{
		"openid4vp by reference":      {in: "openid4vp://?client_id=decentralized_identifier%3Adid%3Ajwk%3Ax&request_uri=https%3A%2F%2Fv.example%2Fr", clientID: "decentralized_identifier:did:jwk:x", reqURI: "https://v.example/r"},
		"https link":                  {in: "https://wallet.example/present?client_id=c&request_uri=https%3A%2F%2Fv.example%2Fr", clientID: "c", reqURI: "https://v.example/r"},
		"the request_uri itself":      {in: "https://v.example/oid4vp/requests/abc", reqURI: "https://v.example/oid4vp/requests/abc"},
		"JSON parameters":             {in: `{"client_id":"redirect_uri:https://v.example/r","dcql_query":{"credentials":[]}}`, clientID: "redirect_uri:https://v.example/r"},
		"openid4vp without client_id": {in: "openid4vp://?request_uri=x", code: errcode.InvalidInput},
		"other scheme":                {in: "ftp://x/?client_id=a", code: errcode.InvalidInput},
		"bad JSON":                    {in: `{"client_id":`, code: errcode.InvalidInput},
	} {
		v, err := ParseLink(tc.in)
		testkit.WantCode(t, err, tc.code, name)
		if tc.code != "" {
			continue
		}
		if v.Get("client_id") != tc.clientID || v.Get("request_uri") != tc.reqURI {
			t.Errorf("%s: %v", name, v)
		}
	}
}
