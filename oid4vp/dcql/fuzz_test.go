package dcql

import (
	"encoding/json"
	"testing"

	"github.com/agentcert/agentcert/errcode"
)

// Parse never panics, fails only with its documented codes, and what it
// accepts validates again after a round trip and can be matched.
func FuzzParse(f *testing.F) {
	f.Add(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["v"]},"claims":[{"id":"p","path":["permissions",null,"action"],"values":["x",1,true]}],"claim_sets":[["p"]]}]}`)
	f.Add(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["v"]}}],"credential_sets":[{"options":[["a"]],"required":false}]}`)
	f.Add(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["v"]},"claims":[{"path":[0,null,"x"]}]}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse([]byte(s))
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.DCQLInvalid && c != errcode.TooLarge {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(b); err != nil {
			t.Fatalf("re-encoded query %s does not parse: %v", b, err)
		}
		claims := map[string]any{"vct": "v", "permissions": []any{map[string]any{"action": "x"}}}
		_, _ = Pick(q, []Credential{{VCT: "v", Claims: claims}})
	})
}
