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
	// A hop's limits and semantic claims, each a whole claim in clear.
	got = map[string]Restriction{}
	for _, x := range RestrictingClaims(DelegationV1) {
		got[x.Claim] = x
	}
	for _, want := range []string{"permissions", "prohibitions", "task", "on_behalf_of"} {
		x, ok := got[want]
		if !ok || x.Elements {
			t.Fatalf("%s is not a whole restricting claim of a hop: %+v", want, got)
		}
		for _, p := range []string{"/" + want, "/" + want + "/0"} {
			if _, err := r.Disclosable(DelegationV1, []string{p}); errcode.CodeOf(err) != errcode.NotDisclosable {
				t.Errorf("hop %s selectively disclosable: %v", p, err)
			}
		}
	}
	if !got["permissions"].Required || !got["prohibitions"].Required || got["task"].Required || got["on_behalf_of"].Required {
		t.Fatalf("hop restriction kinds: %+v", got)
	}
	hop := delegationExample(t)
	delete(hop, "prohibitions")
	StateRestrictions(DelegationV1, hop)
	if v, ok := hop["prohibitions"].([]any); !ok || len(v) != 0 {
		t.Fatalf("hop prohibitions not stated as []: %v", hop["prohibitions"])
	}
	if err := r.Validate(DelegationV1, hop); err != nil {
		t.Fatalf("a hop with prohibitions [] does not validate: %v", err)
	}
	if len(RestrictingClaims("urn:example:other")) != 0 {
		t.Fatal("an unknown vct has restrictions")
	}
}
