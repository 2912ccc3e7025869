package schemas

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/agentcert/agentcert/errcode"
)

// FuzzValidate feeds arbitrary JSON objects to Validate: it must never panic,
// and every failure is schema_invalid with at least one problem.
func FuzzValidate(f *testing.F) {
	example, err := os.ReadFile("agent-certification/v1/example.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"vct":"urn:agentcert:agent-certification:v1","permissions":[{"action":"a:*","constraints":{"max_amount":1e400}}]}`))
	f.Add([]byte(`{"_sd":["x"],"permissions":[{"...":"y"}],"cnf":{"jwk":{"kty":"EC","d":"z"}}}`))
	r, err := New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p map[string]any
		if json.Unmarshal(data, &p) != nil {
			return
		}
		err := r.Validate(AgentCertificationV1, p)
		if err == nil {
			return
		}
		if code := errcode.CodeOf(err); code != errcode.SchemaInvalid {
			t.Fatalf("code %q: %v", code, err)
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) == 0 || len(ve.Problems) > MaxProblems {
			t.Fatalf("bad problem list in %v", err)
		}
	})
}

// FuzzDisclosable feeds arbitrary pointers to Disclosable: no panic, only the
// documented codes, and every returned pointer parses again.
func FuzzDisclosable(f *testing.F) {
	for _, s := range []string{"", "/", "/principal/name", "/cnf/jwk", "/permissions/*", "/permissions/0", "/a~1b~0", "/~", "/*", "/x/*/y", "/_sd", "/prohibitions/7"} {
		f.Add(s)
	}
	r, err := New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ptr string) {
		out, err := r.Disclosable(AgentCertificationV1, []string{ptr})
		if err != nil {
			switch errcode.CodeOf(err) {
			case errcode.InvalidInput, errcode.NotDisclosable, errcode.TooLarge:
			default:
				t.Fatalf("code %q: %v", errcode.CodeOf(err), err)
			}
			return
		}
		if len(out) == 0 || out[0] != "/permissions/*" {
			t.Fatalf("always pointer missing: %q", out)
		}
		for _, p := range out {
			if _, err := parsePointer(p); err != nil {
				t.Fatalf("returned pointer %q does not parse: %v", p, err)
			}
		}
	})
}
