package oid4vp

import (
	"testing"

	"github.com/agentcert/agentcert/errcode"
)

// The parsers of untrusted wallet input never panic and fail only with
// their documented codes.

func FuzzParseLink(f *testing.F) {
	f.Add(`openid4vp://?client_id=decentralized_identifier%3Adid%3Akey%3Az6Mk&request_uri=https%3A%2F%2Fv.example%2Foid4vp%2Frequests%2Fr`)
	f.Add(`openid4vp://?client_id=redirect_uri%3Ahttps%3A%2F%2Fv.example%2Fr&response_type=vp_token&dcql_query=%7B%7D`)
	f.Add(`{"client_id":"redirect_uri:https://v.example/r","dcql_query":{"credentials":[]}}`)
	f.Add(`https://wallet.example/?client_id=x&request=a.b.c`)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseLink(s)
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.InvalidInput && c != errcode.TooLarge {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		if v == nil {
			t.Fatal("no parameters and no error")
		}
		if ar, err := requestFromParams(v); err != nil && errcode.CodeOf(err) != errcode.RequestObjectInvalid {
			t.Fatalf("requestFromParams: %v", err)
		} else if err == nil && ar.ClientID != v.Get("client_id") {
			t.Fatal("client_id lost")
		}
	})
}

func FuzzDecodeTransactionData(f *testing.F) {
	f.Add(b64.EncodeToString([]byte(`{"type":"payment","credential_ids":["a"],"transaction_data_hashes_alg":["sha-256"]}`)))
	f.Add(b64.EncodeToString([]byte(`{"type":"","credential_ids":[]}`)))
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		td, err := DecodeTransactionData(s)
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.InvalidInput && c != errcode.TooLarge {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		if td.Type == "" || len(td.CredentialIDs) == 0 {
			t.Fatalf("accepted %+v", td)
		}
	})
}
