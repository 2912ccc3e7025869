package schemas

import "testing"

func BenchmarkValidate(b *testing.B) {
	r := newRegistry(b)
	p := examplePayload(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Validate(AgentCertificationV1, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDisclosable(b *testing.B) {
	r := newRegistry(b)
	req := []string{"/principal/name", "/principal/id", "/agent/model", "/permissions/0"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Disclosable(AgentCertificationV1, req); err != nil {
			b.Fatal(err)
		}
	}
}
