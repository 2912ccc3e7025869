package schemas

import (
	"testing"

	"github.com/agentcert/agentcert/errcode"
)

// TestSec13RestrictingClaimsListed: the one list of claims whose absence
// widens authority names prohibitions, task and the permissions' contents;
// the type metadata keeps every one of them (and what is inside) out of
// selective disclosure, and an issuer states the absent ones in clear.
func TestSec13RestrictingClaimsListed(t *testing.T) {
	r := newRegistry(t)
	got := map[string]Restriction{}
	for _, x := range RestrictingClaims(AgentCertificationV1) {
		got[x.Claim] = x
	}
	for _, want := range []string{"prohibitions", "task", "permissions"} {
		if _, ok := got[want]; !ok {
			t.Fatalf("%s is not a restricting claim: %v", want, got)
		}
	}
	if !got["permissions"].Elements || got["task"].Required || !got["prohibitions"].Required {
		t.Fatalf("restriction kinds: %+v", got)
	}
	for name, x := range got {
		ptrs := []string{"/" + name}
		if x.Elements {
			ptrs = []string{"/" + name + "/0/constraints", "/" + name + "/0/resource", "/" + name + "/0/action"}
		}
		for _, p := range ptrs {
			if _, err := r.Disclosable(AgentCertificationV1, []string{p}); errcode.CodeOf(err) != errcode.NotDisclosable {
				t.Errorf("%s selectively disclosable: %v", p, err)
			}
		}
	}
	p := examplePayload(t)
	delete(p, "task")
	delete(p, "prohibitions")
	StateRestrictions(AgentCertificationV1, p)
	if v, ok := p["task"]; !ok || v != nil {
		t.Fatalf("task not stated as null: %v", p["task"])
	}
	if v, ok := p["prohibitions"].([]any); !ok || len(v) != 0 {
		t.Fatalf("prohibitions not stated as []: %v", p["prohibitions"])
	}
	if err := r.Validate(AgentCertificationV1, p); err != nil {
		t.Fatalf("a payload with task null does not validate: %v", err)
	}
	if len(RestrictingClaims("urn:example:other")) != 0 {
		t.Fatal("an unknown vct has restrictions")
	}
}
