package oid4vp

import (
	"testing"

	"github.com/agentcert/agentcert/approval"
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
	f.Add(b64.EncodeToString([]byte(`{"type":"agentcert_approval","credential_ids":["cert"],"transaction_data_hashes_alg":["sha-256"],` +
		`"approval_request":{"action":"payments:initiate","params":{"amount":250,"currency":"EUR"},` +
		`"digest":"` + fuzzDigest + `","aud":"decentralized_identifier:did:web:v.example","nonce":"n","exp":1800000000,"principal":"did:web:acme.example","sub":"did:key:z6Mk"}}`)))
	f.Add(b64.EncodeToString([]byte(`{"type":"agentcert_approval","credential_ids":["a","b"],"approval_request":{}}`)))
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
		if (td.Type == TypeApproval) != (td.Approval != nil) {
			t.Fatalf("type %q with approval request %+v", td.Type, td.Approval)
		}
		if a := td.Approval; a != nil {
			var params any
			if len(a.Params) > 0 {
				params = a.Params
			}
			if d, err := approval.Digest(a.Action, params); err != nil || d != a.Digest || len(td.CredentialIDs) != 1 {
				t.Fatalf("accepted an approval request whose digest is not its own: %+v", a)
			}
		}
	})
}

// fuzzDigest is the digest of the seed's approval request.
var fuzzDigest = func() string {
	d, _ := approval.Digest("payments:initiate", map[string]any{"amount": 250, "currency": "EUR"})
	return d
}()

// FuzzKBClaims: reading the KB-JWT of an untrusted presentation, and the
// approval in it, never panics and fails only with the parsers' codes.
func FuzzKBClaims(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.c2ln~")
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.c2ln~WyJzIiwiYSIsMV0~eyJhbGciOiJFZERTQSJ9.eyJhZ2VudGNlcnRfYXBwcm92YWwiOiJhLmIuYyJ9.c2ln")
	f.Add("a.b.c~~d.e.f~g.h.i")
	f.Add("~")
	req := &approval.Request{Action: "payments:initiate", Digest: fuzzDigest, Audience: "aud", Nonce: "n"}
	f.Fuzz(func(t *testing.T, s string) {
		kb, err := kbClaims(s)
		if err != nil {
			if c := errcode.CodeOf(err); c == errcode.Internal || c == "" {
				t.Fatalf("code %q: %v", c, err)
			}
			return
		}
		if kb == nil {
			return
		}
		tok, err := boundApproval(kb, "cert", 0, req)
		if err != nil {
			switch errcode.CodeOf(err) {
			case errcode.ApprovalRequired, errcode.ApprovalMalformed, errcode.ApprovalDigestMismatch, errcode.ApprovalWrongAudience,
				errcode.ApprovalReplayed, errcode.UnsupportedAlg, errcode.TooLarge:
			default:
				t.Fatalf("boundApproval: %v", err)
			}
			return
		}
		if tok == "" || tok != kb[ClaimApproval] {
			t.Fatalf("approval %q from %v", tok, kb)
		}
	})
}
