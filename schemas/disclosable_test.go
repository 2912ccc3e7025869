package schemas

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
)

func TestDisclosable(t *testing.T) {
	r := newRegistry(t)
	tests := []struct {
		name      string
		requested []string
		want      []string
	}{
		{"nothing requested gives the always claims", nil, []string{"/permissions/*"}},
		{"principal name allowed", []string{"/principal/name"}, []string{"/permissions/*", "/principal/name"}},
		{"identity claims allowed", []string{"/principal", "/on_behalf_of", "/agent/model", "/agent"},
			[]string{"/permissions/*", "/principal", "/on_behalf_of", "/agent/model", "/agent"}},
		{"duplicates removed", []string{"/principal/name", "/agent/model", "/principal/name"},
			[]string{"/permissions/*", "/principal/name", "/agent/model"}},
		{"always pointer requested again", []string{"/permissions/*"}, []string{"/permissions/*"}},
		{"element covered by always wildcard", []string{"/permissions/0", "/permissions/12"}, []string{"/permissions/*"}},
		{"claim without metadata is allowed", []string{"/x-custom"}, []string{"/permissions/*", "/x-custom"}},
		{"escaped tokens kept canonical", []string{"/a~1b/c~0d"}, []string{"/permissions/*", "/a~1b/c~0d"}},
		{"non-canonical index is a key, not an element", []string{"/principal/01"}, []string{"/permissions/*", "/principal/01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Disclosable(AgentCertificationV1, tt.requested)
			if err != nil {
				t.Fatalf("Disclosable: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDisclosableRejects(t *testing.T) {
	r := newRegistry(t)
	tests := []struct {
		pointer string
		want    errcode.Code
	}{
		// "never" claims, and anything inside them.
		{"/prohibitions", errcode.NotDisclosable},
		{"/prohibitions/0", errcode.NotDisclosable},
		{"/prohibitions/*", errcode.NotDisclosable},
		{"/cnf", errcode.NotDisclosable},
		{"/cnf/jwk", errcode.NotDisclosable},
		{"/cnf/jwk/x", errcode.NotDisclosable},
		{"/status", errcode.NotDisclosable},
		{"/status/status_list/idx", errcode.NotDisclosable},
		{"/vct", errcode.NotDisclosable},
		{"/vct#integrity", errcode.NotDisclosable},
		{"/iss", errcode.NotDisclosable},
		{"/iat", errcode.NotDisclosable},
		{"/nbf", errcode.NotDisclosable},
		{"/exp", errcode.NotDisclosable},
		{"/jti", errcode.NotDisclosable},
		{"/sub", errcode.NotDisclosable},
		{"/autonomy", errcode.NotDisclosable},
		{"/task", errcode.NotDisclosable},
		{"/task/expires", errcode.NotDisclosable},
		{"/permissions", errcode.NotDisclosable},
		{"/permissions/0/action", errcode.NotDisclosable},
		{"/permissions/3/resource", errcode.NotDisclosable},
		{"/permissions/1/constraints", errcode.NotDisclosable},
		{"/permissions/1/constraints/max_amount", errcode.NotDisclosable},
		{"/permissions/01", errcode.NotDisclosable}, // not an index: falls back to ["permissions"]
		// Malformed pointers.
		{"", errcode.InvalidInput},
		{"principal", errcode.InvalidInput},
		{"/principal/~2", errcode.InvalidInput},
		{"/principal~", errcode.InvalidInput},
		{"/*", errcode.InvalidInput},
		{"/permissions/*/action", errcode.InvalidInput},
		{"/_sd", errcode.InvalidInput},
		{"/principal/_sd_alg", errcode.InvalidInput},
		{"/permissions/...", errcode.InvalidInput},
		{"/" + strings.Repeat("a", MaxPointerLen), errcode.TooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.pointer, func(t *testing.T) {
			got, err := r.Disclosable(AgentCertificationV1, []string{"/principal/name", tt.pointer})
			if code := errcode.CodeOf(err); code != tt.want {
				t.Fatalf("code = %q, want %q (err %v, result %q)", code, tt.want, err, got)
			}
			if got != nil {
				t.Fatalf("result %q with an error", got)
			}
		})
	}
}

func TestDisclosableNamesThePointer(t *testing.T) {
	r := newRegistry(t)
	_, err := r.Disclosable(AgentCertificationV1, []string{"/cnf/jwk"})
	const want = `not_disclosable: "/cnf/jwk" is never selectively disclosable (type metadata claim ["cnf"])`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	_, err = r.Disclosable(AgentCertificationV1, []string{"/prohibitions/2"})
	const want2 = `not_disclosable: "/prohibitions/2" is never selectively disclosable (type metadata claim ["prohibitions", null])`
	if err == nil || err.Error() != want2 {
		t.Fatalf("err = %v, want %s", err, want2)
	}
}

func TestDisclosableTooMany(t *testing.T) {
	r := newRegistry(t)
	req := make([]string, MaxPointers+1)
	for i := range req {
		req[i] = "/principal/name"
	}
	if _, err := r.Disclosable(AgentCertificationV1, req); errcode.CodeOf(err) != errcode.TooLarge {
		t.Fatalf("code %q, want too_large", errcode.CodeOf(err))
	}
	if _, err := r.Disclosable(AgentCertificationV1, req[:MaxPointers]); err != nil {
		t.Fatalf("MaxPointers pointers: %v", err)
	}
}

// readVector reads a copied spec vector from testdata.
func readVector(t *testing.T, name string) []byte {
	t.Helper()
	return testkit.ReadVector(t, "sdjwt-vc/draft-ietf-oauth-sd-jwt-vc/figures/"+name)
}

// TestSpecTypeMetadataWithoutSD: claims without "sd" default to "allowed"
// (SD-JWT VC, Claim Selective Disclosure Metadata), figure 20.
func TestSpecTypeMetadataWithoutSD(t *testing.T) {
	var e entry
	if err := e.parseMetadata(readVector(t, "figure-20-example-base-type-metadata-document.json")); err != nil {
		t.Fatal(err)
	}
	if e.vct != "https://example.com/base-type-metadata" || len(e.rules) != 2 || len(e.always) != 0 {
		t.Fatalf("vct %q, %d rules, always %q", e.vct, len(e.rules), e.always)
	}
	for _, r := range e.rules {
		if r.sd != Allowed {
			t.Errorf("rule %s: sd %q, want allowed", r, r.sd)
		}
	}
}

// TestSpecTypeMetadataRules applies the claim rules of the spec's full type
// metadata example (figure 30) to pointers: the longest matching path decides
// and null matches every array element.
func TestSpecTypeMetadataRules(t *testing.T) {
	raw := readVector(t, "figure-30-example-type-metadata-document.json")

	// As published, figure 30 marks ["degrees", null, "date_awarded"] "always":
	// a wildcard before the last token, which sdjwt pointers cannot express.
	var e entry
	err := e.parseMetadata(raw)
	if err == nil || !strings.Contains(err.Error(), "null may only be the last component") {
		t.Fatalf("parseMetadata(figure 30) = %v, want the null-position error", err)
	}

	// Without that one claim the rest parses.
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, c := range doc["claims"].([]any) {
		p := c.(map[string]any)["path"].([]any)
		if len(p) == 3 && p[2] == "date_awarded" {
			continue
		}
		kept = append(kept, c)
	}
	doc["claims"] = kept
	trimmed, _ := json.Marshal(doc)
	e = entry{}
	if err := e.parseMetadata(trimmed); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/name", "/address", "/address/street_address", "/degrees/*"}; !slices.Equal(e.always, want) {
		t.Fatalf("always = %q, want %q", e.always, want)
	}
	tests := []struct {
		pointer string
		want    SD
		found   bool
	}{
		{"/name", Always, true},
		{"/address/city", Always, true}, // inside ["address"]
		{"/address/street_address", Always, true},
		{"/degrees", Never, true},
		{"/degrees/0", Always, true},
		{"/degrees/*", Always, true},
		{"/degrees/3/field_of_study", Never, true},
		{"/degrees/3/type", Always, true}, // inside ["degrees", null]
		{"/nationalities", "", false},
	}
	for _, tt := range tests {
		toks, err := parsePointer(tt.pointer)
		if err != nil {
			t.Fatal(err)
		}
		rule, found := e.ruleFor(toks)
		if found != tt.found || rule.sd != tt.want {
			t.Errorf("%s: rule %s sd %q found %v, want sd %q found %v", tt.pointer, rule, rule.sd, found, tt.want, tt.found)
		}
	}
}

func TestParseMetadataRejects(t *testing.T) {
	tests := map[string]string{
		"no vct":          `{"claims":[]}`,
		"bad sd":          `{"vct":"x","claims":[{"path":["a"],"sd":"sometimes"}]}`,
		"empty path":      `{"vct":"x","claims":[{"path":[]}]}`,
		"negative index":  `{"vct":"x","claims":[{"path":["a",-1]}]}`,
		"fractional":      `{"vct":"x","claims":[{"path":["a",1.5]}]}`,
		"boolean in path": `{"vct":"x","claims":[{"path":["a",true]}]}`,
		"not JSON":        `{"vct":`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			var e entry
			if err := e.parseMetadata([]byte(doc)); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestIndexRuleMatchesWildcard(t *testing.T) {
	// A "never" rule on one element also refuses "every element", and wins a
	// tie against a null rule of the same length.
	var e entry
	doc := `{"vct":"x","claims":[{"path":["a",null],"sd":"always"},{"path":["a",2],"sd":"never"}]}`
	if err := e.parseMetadata([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	for ptr, want := range map[string]SD{"/a/*": Never, "/a/2": Never, "/a/1": Always} {
		toks, _ := parsePointer(ptr)
		if r, _ := e.ruleFor(toks); r.sd != want {
			t.Errorf("%s: sd %q, want %q", ptr, r.sd, want)
		}
	}
}
