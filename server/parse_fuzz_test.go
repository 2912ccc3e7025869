package server

import (
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/verifier"
)

// FuzzETagMatches checks If-None-Match handling: never a panic, "*" and a
// list naming the tag (strong or weak) match.
func FuzzETagMatches(f *testing.F) {
	for _, s := range []string{`"abc"`, `W/"abc"`, `*`, `"x", "abc"`, ``, `,,`, `W/`} {
		f.Add(s, `"abc"`)
	}
	f.Fuzz(func(t *testing.T, header, etag string) {
		got := etagMatches(header, etag)
		if header == "" && got {
			t.Fatal("an empty If-None-Match matched")
		}
		if strings.TrimSpace(header) == "*" && !got {
			t.Fatal("* did not match")
		}
		if etag != "" && !strings.ContainsFunc(etag, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) && !etagMatches(header+", "+etag, etag) {
			t.Fatalf("a list ending with %q did not match it", etag)
		}
	})
}

// FuzzPrefersVCJWT checks Accept negotiation: never a panic, and the W3C
// form is chosen only when the header names it.
func FuzzPrefersVCJWT(f *testing.F) {
	for _, s := range []string{mediaVCJWT, mediaStatusListJWT, mediaVCJWT + ";q=0.5, " + mediaStatusListJWT, "*/*", "application/vc+jwt;q=abc", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		if prefersVCJWT(accept) && !strings.Contains(strings.ToLower(accept), "vc+jwt") {
			t.Fatalf("prefersVCJWT(%q) without naming vc+jwt", accept)
		}
		if prefersVCJWT(accept + ", " + mediaStatusListJWT + ";q=1") {
			t.Fatalf("vc+jwt preferred over a statuslist+jwt of q=1 in %q", accept)
		}
	})
}

// FuzzDecodeVerifyRequest: the one-pass decoding of a POST /v1/verify body
// refuses exactly what decodeStrict (jsonstrict.Decode into
// verifier.Request) refuses, with invalid_input, and otherwise gives the
// same Request.
func FuzzDecodeVerifyRequest(f *testing.F) {
	for _, s := range []string{
		`{"presentation":"a~b~","audience":"https://shop.example","nonce":"n","action":"payments:initiate","request":{"amount":120.50,"currency":"EUR","items":[1,{"x":null}]},"approval":"x.y.z"}`,
		`{}`, `null`, `[]`, `"x"`, `{"presentation":null,"request":null}`, `{"request":[]}`, `{"request":"x"}`, `{"presentation":5}`,
		`{"Presentation":"x"}`, `{"presentation":"x","presentation":"y"}`, `{"nonces":"x"}`, `{"require_kb":true}`, `{"RequireKB":true}`, `{"request":{"a":1,"A":2}}`,
		`{"request":{"n":1e999}}`, `{"audience":"a"} {}`, `{"audience":"\u00e9\ud800"}`,
		`{ "presentation" : "a~b~" , "nonce":null, "request" : { "s" : "}]\"{" } }`, `{"request":{"a":1}]`, `{"request":{"a":[1}}`,
		`{"action":"x\u0041"}`, `{"action":"\x7f"}`, `{"request":{},"request":{}}`, `{"request":{"a":1,"a":2}}`, `{"presentation":"a"`,
		`{"request":` + strings.Repeat(`{"a":`, 31) + `1` + strings.Repeat(`}`, 31) + `}`,
		`{"request":` + strings.Repeat(`{"a":`, 32) + `1` + strings.Repeat(`}`, 32) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeVerifyRequest(b)
		var want verifier.Request
		werr := decodeStrict(b, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: one pass %v, decodeStrict %v", b, err, werr)
		}
		if err != nil {
			if errcode.CodeOf(err) != errcode.InvalidInput {
				t.Fatalf("%q: %v is not invalid_input", b, err)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: one pass %#v, decodeStrict %#v", b, got, want)
		}
	})
}

// TestDecodeVerifyBodyFast: the usual bodies take the one-scan path; the
// others go to the general decoding, which the fuzz target holds the fast
// path to.
func TestDecodeVerifyBodyFast(t *testing.T) {
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{`{"presentation":"a~b~","audience":"https://shop.example","nonce":"n-1","action":"payments:initiate","request":{"amount":120,"currency":"EUR"}}`, true},
		{` { "presentation" : "a~" , "approval" : null } `, true},
		{`{}`, true},
		{`{"request":` + strings.Repeat(`{"a":`, 31) + `1` + strings.Repeat(`}`, 31) + `}`, true},
		{`{"request":` + strings.Repeat(`{"a":`, 32) + `1` + strings.Repeat(`}`, 32) + `}`, false}, // too deep in the body
		{`{"action":"\u0041"}`, false},
		{`{"Presentation":"x"}`, false},
		{`{"nonce":"a","nonce":"b"}`, false},
		{`{"request":[]}`, false},
		{`{"request":{"a":1,"A":2}}`, false},
		{`{"audience":"a"} {}`, false},
		{`null`, false},
	} {
		want := verifier.Request{}
		werr := decodeStrict([]byte(tc.body), &want)
		got, fast := decodeVerifyBodyFast([]byte(tc.body))
		if fast != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.body, fast, tc.fast)
		}
		if fast && (werr != nil || !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: fast path %#v, decodeStrict %#v (%v)", tc.body, got, want, werr)
		}
	}
}
