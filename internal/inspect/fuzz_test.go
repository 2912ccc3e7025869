package inspect

import (
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/sdjwt"
)

// FuzzInspect: inspect never panics (on credentials, presentations,
// delegation chains, status lists), and every refusal carries a code.
func FuzzInspect(f *testing.F) {
	for _, s := range []string{
		"", "~", "a.b.c", "a.b.c~", "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln~WyJzIiwibiIsMV0~",
		"eyJhbGciOiJFUzI1NiIsInR5cCI6InN0YXR1c2xpc3Qrand0In0.eyJzdGF0dXNfbGlzdCI6eyJiaXRzIjoyLCJsc3QiOiJlTnJ6In19.c2ln",
		"eyJhbGciOiJFUzI1NiIsInR5cCI6InN0YXR1c2xpc3Qrand0In0.eyJzdGF0dXNfbGlzdCI6eyJiaXRzIjoiMiJ9fQ.c2ln",
	} {
		f.Add(s)
	}
	// A 2-hop dSD-JWT+KB and the dSD-JWT under it.
	c := newChainFixture(f)
	d := c.delegate(f, c.root, 0, c.hop(f, 1, true), "")
	d = c.delegate(f, d, 1, c.hop(f, 2, true), sdjwt.LinkIssuerJWTHash)
	pres, err := sdjwt.PresentChain(d, nil, &sdjwt.KBOptions{Key: c.keys[2], Audience: "a", Nonce: "n", IssuedAt: now})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(d)
	f.Add(pres)
	f.Fuzz(func(t *testing.T, s string) {
		in, err := Decode(strings.TrimSpace(s), time.Unix(1_800_000_000, 0))
		if err != nil {
			if errcode.CodeOf(err) == errcode.Internal {
				t.Fatalf("inspect(%q): uncoded error %v", s, err)
			}
			return
		}
		var b strings.Builder
		if err := Print(&b, in); err != nil {
			t.Fatal(err)
		}
	})
}
