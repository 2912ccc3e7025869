package dcql

import "testing"

func BenchmarkPick(b *testing.B) {
	q, err := Parse([]byte(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["` + vct + `"]},
		"claims":[{"path":["permissions",null,"action"],"values":["invoices:read"]},{"path":["principal","id"]}]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	creds := []Credential{{VCT: vct, Claims: claims(b)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Pick(q, creds); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	q, err := Parse([]byte(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["` + vct + `"]},
		"claims":[{"path":["permissions",null,"action"],"values":["invoices:read"]},{"path":["principal","id"]}]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	resp := map[string][]Presented{"a": {{VCT: vct, Claims: claims(b), Disclosed: ptrs("/permissions/0", "/principal/id"), HolderBound: true}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Check(resp); err != nil {
			b.Fatal(err)
		}
	}
}
