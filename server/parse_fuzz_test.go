package server

import (
	"strings"
	"testing"
	"unicode"
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
