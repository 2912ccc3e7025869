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
