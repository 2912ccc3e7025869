package did

import (
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in       string
		method   string
		id       string
		wantCode errcode.Code
	}{
		{in: "did:example:123456789abcdefghi", method: "example", id: "123456789abcdefghi"},
		{in: "did:web:example.com%3A3000:user:alice", method: "web", id: "example.com%3A3000:user:alice"},
		{in: "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", method: "key", id: "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"},
		{in: "did:a1:b::c", method: "a1", id: "b::c"}, // empty inner segments are allowed by the ABNF
		{in: "did:x:_.-%aF", method: "x", id: "_.-%aF"},
		{in: "", wantCode: errcode.DIDInvalid},
		{in: "did:", wantCode: errcode.DIDInvalid},
		{in: "did:web", wantCode: errcode.DIDInvalid},
		{in: "did::abc", wantCode: errcode.DIDInvalid},
		{in: "did:web:", wantCode: errcode.DIDInvalid},
		{in: "did:web:a:", wantCode: errcode.DIDInvalid},
		{in: "DID:web:a", wantCode: errcode.DIDInvalid},
		{in: "did:Web:a", wantCode: errcode.DIDInvalid},
		{in: "did:we-b:a", wantCode: errcode.DIDInvalid},
		{in: "did:web:a b", wantCode: errcode.DIDInvalid},
		{in: "did:web:a%2", wantCode: errcode.DIDInvalid},
		{in: "did:web:a%zz", wantCode: errcode.DIDInvalid},
		{in: "did:web:a/b", wantCode: errcode.DIDInvalid},
		{in: "did:web:a#b", wantCode: errcode.DIDInvalid},
		{in: "did:web:a?b", wantCode: errcode.DIDInvalid},
		{in: "did:web:ä", wantCode: errcode.DIDInvalid},
		{in: "did:web:" + strings.Repeat("a", MaxDIDLength), wantCode: errcode.DIDInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := Parse(tt.in)
			testkit.WantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if d.Method != tt.method || d.ID != tt.id {
				t.Fatalf("Parse = %+v, want method %q id %q", d, tt.method, tt.id)
			}
			if d.String() != tt.in {
				t.Fatalf("String() = %q, want %q", d.String(), tt.in)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in                    string
		did                   string
		path, query, fragment string
		wantCode              errcode.Code
	}{
		{in: "did:web:example.com", did: "did:web:example.com"},
		{in: "did:web:example.com#key-1", did: "did:web:example.com", fragment: "key-1"},
		{in: "did:example:123/path/to?versionId=1&x=%20#frag/x?y", did: "did:example:123", path: "/path/to", query: "versionId=1&x=%20", fragment: "frag/x?y"},
		{in: "did:example:123?service=files", did: "did:example:123", query: "service=files"},
		{in: "did:example:123/", did: "did:example:123", path: "/"},
		{in: "did:jwk:eyJ9#0", did: "did:jwk:eyJ9", fragment: "0"},
		{in: "did:web:example.com#a#b", wantCode: errcode.DIDInvalid},
		{in: "did:web:example.com#a b", wantCode: errcode.DIDInvalid},
		{in: "did:web:example.com?%x", wantCode: errcode.DIDInvalid},
		{in: "did:web:example.com/a[b]", wantCode: errcode.DIDInvalid},
		{in: "did:web:#x", wantCode: errcode.DIDInvalid},
		{in: "#key-1", wantCode: errcode.DIDInvalid},
		{in: "https://example.com#k", wantCode: errcode.DIDInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseURL(tt.in)
			testkit.WantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if u.DID.String() != tt.did || u.Path != tt.path || u.Query != tt.query || u.Fragment != tt.fragment {
				t.Fatalf("ParseURL = %+v", u)
			}
			if u.String() != tt.in {
				t.Fatalf("String() = %q, want %q", u.String(), tt.in)
			}
		})
	}
}
