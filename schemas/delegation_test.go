package schemas

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
)

func delegationExample(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("delegation/v1/example.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDelegationSchema(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Known(DelegationV1) {
		t.Fatal("delegation vct not embedded")
	}
	if p, ok := r.Path(DelegationV1); !ok || p != "delegation/v1" {
		t.Fatalf("path %q", p)
	}
	ex := delegationExample(t)
	if err := r.Validate(DelegationV1, ex); err != nil {
		t.Fatalf("example: %v", err)
	}
	// The example's cnf is its did:key's key.
	pub, err := did.PublicKey(ex["sub"].(string))
	if err != nil {
		t.Fatal(err)
	}
	m := testkit.JSONMap(t, pub)
	if m["x"] != ex["cnf"].(map[string]any)["jwk"].(map[string]any)["x"] {
		t.Fatalf("example cnf %v is not the key of %s (%v)", ex["cnf"], ex["sub"], m)
	}
	for name, mutate := range map[string]func(map[string]any){
		"no exp":          func(m map[string]any) { delete(m, "exp") },
		"no cnf":          func(m map[string]any) { delete(m, "cnf") },
		"no prohibitions": func(m map[string]any) { delete(m, "prohibitions") },
		"other vct":       func(m map[string]any) { m["vct"] = AgentCertificationV1 },
		"sub not a DID":   func(m map[string]any) { m["sub"] = "agent-7" },
		"unknown claim":   func(m map[string]any) { m["autonomy"] = "autonomous" },
		"unknown constraint": func(m map[string]any) {
			m["permissions"] = []any{map[string]any{"action": "a:b", "constraints": map[string]any{"max_count": 3}}}
		},
		"max_amount without currency": func(m map[string]any) {
			m["permissions"] = []any{map[string]any{"action": "a:b", "constraints": map[string]any{"max_amount": 3}}}
		},
		"task with expires": func(m map[string]any) { m["task"] = map[string]any{"id": "t", "expires": 5} },
	} {
		p := delegationExample(t)
		mutate(p)
		if err := r.Validate(DelegationV1, p); errcode.CodeOf(err) != errcode.SchemaInvalid {
			t.Errorf("%s: %v, want schema_invalid", name, err)
		}
	}
	// Nothing in a hop may be selectively disclosable.
	for _, ptr := range []string{"/permissions/0", "/prohibitions", "/task", "/on_behalf_of"} {
		if _, err := r.Disclosable(DelegationV1, []string{ptr}); errcode.CodeOf(err) != errcode.NotDisclosable {
			t.Errorf("%s: %v, want not_disclosable", ptr, err)
		}
	}
}
