package dcql

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonptr"
)

const vct = "urn:agentcert:agent-certification:v1"

// claims is an agent certification with every disclosure applied.
func claims(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(`{
		"iss": "did:web:issuer.example", "vct": "` + vct + `",
		"principal": {"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
		"agent": {"class": "accounts-payable-assistant", "version": "1.4.0"},
		"permissions": [{"action": "invoices:read"}, {"action": "invoices:list"}, {"action": "payments:initiate", "constraints": {"max_amount": 100}}],
		"prohibitions": ["payments:approve"], "autonomy": "supervised", "level": 3, "active": true}`))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustParse(t *testing.T, s string) *Query {
	t.Helper()
	q, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return q
}

func ptrs(ps ...string) []jsonptr.Pointer {
	out := []jsonptr.Pointer{}
	for _, p := range ps {
		toks, err := jsonptr.Parse(p)
		if err != nil {
			panic(err)
		}
		out = append(out, toks)
	}
	return out
}

func strs(ps []jsonptr.Pointer) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func TestParseRefuses(t *testing.T) {
	good := `{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["v"]}`
	for name, tc := range map[string]struct {
		q    string
		code errcode.Code
	}{
		"not json":           {`{`, errcode.DCQLInvalid},
		"no credentials":     {`{"credentials":[]}`, errcode.DCQLInvalid},
		"unknown member":     {`{"credentials":[` + good + `}],"x":1}`, errcode.DCQLInvalid},
		"duplicate member":   {`{"credentials":[` + good + `,"id":"b"}]}`, errcode.DCQLInvalid},
		"bad id":             {`{"credentials":[{"id":"a b","format":"dc+sd-jwt","meta":{"vct_values":["v"]}}]}`, errcode.DCQLInvalid},
		"empty id":           {`{"credentials":[{"id":"","format":"dc+sd-jwt","meta":{"vct_values":["v"]}}]}`, errcode.DCQLInvalid},
		"duplicate id":       {`{"credentials":[` + good + `},` + good + `}]}`, errcode.DCQLInvalid},
		"mdoc":               {`{"credentials":[{"id":"a","format":"mso_mdoc","meta":{"vct_values":["v"]}}]}`, errcode.DCQLInvalid},
		"no vct":             {`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":[]}}]}`, errcode.DCQLInvalid},
		"no meta":            {`{"credentials":[{"id":"a","format":"dc+sd-jwt"}]}`, errcode.DCQLInvalid},
		"trusted":            {`{"credentials":[` + good + `,"trusted_authorities":[{"type":"aki","values":["x"]}]}]}`, errcode.DCQLInvalid},
		"empty path":         {`{"credentials":[` + good + `,"claims":[{"path":[]}]}]}`, errcode.DCQLInvalid},
		"negative index":     {`{"credentials":[` + good + `,"claims":[{"path":["a",-1]}]}]}`, errcode.DCQLInvalid},
		"fraction index":     {`{"credentials":[` + good + `,"claims":[{"path":["a",1.5]}]}]}`, errcode.DCQLInvalid},
		"object in path":     {`{"credentials":[` + good + `,"claims":[{"path":[{}]}]}]}`, errcode.DCQLInvalid},
		"object value":       {`{"credentials":[` + good + `,"claims":[{"path":["a"],"values":[{}]}]}]}`, errcode.DCQLInvalid},
		"undefined claim id": {`{"credentials":[` + good + `,"claims":[{"id":"x","path":["a"]}],"claim_sets":[["y"]]}]}`, errcode.DCQLInvalid},
		"empty claim set":    {`{"credentials":[` + good + `,"claims":[{"id":"x","path":["a"]}],"claim_sets":[[]]}]}`, errcode.DCQLInvalid},
		"dup claim id":       {`{"credentials":[` + good + `,"claims":[{"id":"x","path":["a"]},{"id":"x","path":["b"]}]}]}`, errcode.DCQLInvalid},
		"intent to retain":   {`{"credentials":[` + good + `,"claims":[{"path":["a"],"intent_to_retain":true}]}]}`, errcode.DCQLInvalid},
		"undefined set id":   {`{"credentials":[` + good + `}],"credential_sets":[{"options":[["b"]]}]}`, errcode.DCQLInvalid},
		"empty sets":         {`{"credentials":[` + good + `}],"credential_sets":[]}`, errcode.DCQLInvalid},
		"too large":          {`{"credentials":[` + good + `,"claims":[{"path":["` + strings.Repeat("a", MaxBytes) + `"]}]}]}`, errcode.TooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.q))
			if c := errcode.CodeOf(err); c != tc.code {
				t.Fatalf("code %q, want %q (%v)", c, tc.code, err)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	c := claims(t)
	for name, tc := range map[string]struct {
		path string
		want []string
	}{
		"key":              {`["principal","id"]`, []string{"/principal/id"}},
		"null wildcard":    {`["permissions",null,"action"]`, []string{"/permissions/0/action", "/permissions/1/action", "/permissions/2/action"}},
		"index":            {`["permissions",1]`, []string{"/permissions/1"}},
		"index too far":    {`["permissions",7]`, []string{}},
		"missing key":      {`["nope"]`, []string{}},
		"key of an array":  {`["permissions","action"]`, []string{}},
		"null on object":   {`["principal",null]`, []string{}},
		"deep under null":  {`["permissions",null,"constraints","max_amount"]`, []string{"/permissions/2/constraints/max_amount"}},
		"whole array":      {`["prohibitions"]`, []string{"/prohibitions"}},
		"elements of list": {`["prohibitions",null]`, []string{"/prohibitions/0"}},
	} {
		t.Run(name, func(t *testing.T) {
			var p Path
			if err := json.Unmarshal([]byte(tc.path), &p); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range Select(c, p) {
				got = append(got, s.Pointer.String())
			}
			if got == nil {
				got = []string{}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPick(t *testing.T) {
	c := claims(t)
	other := map[string]any{"vct": "urn:other", "name": "x"}
	creds := []Credential{{VCT: "urn:other", Claims: other}, {VCT: vct, Claims: c}}
	base := `"format":"dc+sd-jwt","meta":{"vct_values":["` + vct + `"]}`
	for name, tc := range map[string]struct {
		q    string
		want map[string][]string // query id -> pointers
		code errcode.Code
	}{
		"no claims: nothing disclosed": {`{"credentials":[{"id":"a",` + base + `}]}`, map[string][]string{"a": {}}, ""},
		"wildcard with values discloses only matches": {
			`{"credentials":[{"id":"a",` + base + `,"claims":[{"path":["permissions",null,"action"],"values":["invoices:read"]}]}]}`,
			map[string][]string{"a": {"/permissions/0/action"}}, ""},
		"values of several": {
			`{"credentials":[{"id":"a",` + base + `,"claims":[{"path":["permissions",null,"action"],"values":["invoices:read","invoices:list"]}]}]}`,
			map[string][]string{"a": {"/permissions/0/action", "/permissions/1/action"}}, ""},
		"number and bool values": {
			`{"credentials":[{"id":"a",` + base + `,"claims":[{"path":["level"],"values":[3]},{"path":["active"],"values":[true]}]}]}`,
			map[string][]string{"a": {"/level", "/active"}}, ""},
		"value of the wrong type": {
			`{"credentials":[{"id":"a",` + base + `,"claims":[{"path":["level"],"values":["3"]}]}]}`, nil, errcode.QueryUnsatisfied},
		"missing claim": {
			`{"credentials":[{"id":"a",` + base + `,"claims":[{"path":["principal","id"]},{"path":["nope"]}]}]}`, nil, errcode.QueryUnsatisfied},
		"claim_sets: first satisfiable option": {
			`{"credentials":[{"id":"a",` + base + `,"claims":[{"id":"n","path":["nope"]},{"id":"p","path":["principal","id"]},{"id":"g","path":["agent","class"]}],
			  "claim_sets":[["n","g"],["p"],["p","g"]]}]}`,
			map[string][]string{"a": {"/principal/id"}}, ""},
		"claim_sets: none": {
			`{"credentials":[{"id":"a",` + base + `,"claims":[{"id":"n","path":["nope"]}],"claim_sets":[["n"]]}]}`, nil, errcode.QueryUnsatisfied},
		"wrong vct": {
			`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:third"]}}]}`, nil, errcode.QueryUnsatisfied},
		"multiple credentials": {
			`{"credentials":[{"id":"a",` + base + `,"claims":[{"path":["agent","class"]}]},{"id":"o","format":"dc+sd-jwt","meta":{"vct_values":["urn:other"]},"claims":[{"path":["name"]}]}]}`,
			map[string][]string{"a": {"/agent/class"}, "o": {"/name"}}, ""},
		"credential_sets: optional left out": {
			`{"credentials":[{"id":"a",` + base + `},{"id":"o","format":"dc+sd-jwt","meta":{"vct_values":["urn:other"]}}],
			  "credential_sets":[{"options":[["a"]]},{"options":[["o"]],"required":false}]}`,
			map[string][]string{"a": {}}, ""},
		"credential_sets: second option": {
			`{"credentials":[{"id":"x","format":"dc+sd-jwt","meta":{"vct_values":["urn:none"]}},{"id":"o","format":"dc+sd-jwt","meta":{"vct_values":["urn:other"]}}],
			  "credential_sets":[{"options":[["x"],["o"]]}]}`,
			map[string][]string{"o": {}}, ""},
		"credential_sets: unsatisfiable": {
			`{"credentials":[{"id":"x","format":"dc+sd-jwt","meta":{"vct_values":["urn:none"]}}],"credential_sets":[{"options":[["x"]]}]}`, nil, errcode.QueryUnsatisfied},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Pick(mustParse(t, tc.q), creds)
			if c := errcode.CodeOf(err); c != tc.code {
				t.Fatalf("code %q, want %q (%v)", c, tc.code, err)
			}
			if tc.code != "" {
				return
			}
			m := map[string][]string{}
			for _, ch := range got {
				m[ch.QueryID] = strs(ch.Pointers)
			}
			if !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("got %v, want %v", m, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	c := claims(t)
	base := `"format":"dc+sd-jwt","meta":{"vct_values":["` + vct + `"]}`
	q := mustParse(t, `{"credentials":[{"id":"a",`+base+`,"claims":[{"path":["permissions",null,"action"],"values":["invoices:read"]},{"path":["agent","class"]}]}]}`)
	pres := func(d ...string) map[string][]Presented {
		return map[string][]Presented{"a": {{VCT: vct, Claims: c, Disclosed: ptrs(d...), HolderBound: true}}}
	}
	// Two alternatives: the principal's id, or the agent's class.
	sets := mustParse(t, `{"credentials":[{"id":"a",`+base+`,"claims":[{"id":"p","path":["principal","id"]},{"id":"g","path":["agent","class"]}],"claim_sets":[["p"],["g"]]}]}`)
	for name, tc := range map[string]struct {
		q    *Query
		resp map[string][]Presented
		code errcode.Code
	}{
		"exact":                         {q, pres("/permissions/0", "/agent/class"), ""},
		"the containers on the way":     {q, pres("/permissions", "/permissions/0", "/agent", "/agent/class"), ""},
		"the claim inside a disclosure": {q, pres("/permissions/0/action", "/agent/class"), ""},
		"nothing disclosed, all clear":  {q, pres(), ""},
		"an element not asked for":      {q, pres("/permissions/0", "/permissions/1", "/agent/class"), errcode.OverDisclosure},
		"a sibling not asked for":       {q, pres("/permissions/0", "/agent/class", "/agent/version"), errcode.OverDisclosure},
		"a top-level claim":             {q, pres("/permissions/0", "/agent/class", "/autonomy"), errcode.OverDisclosure},
		"unknown query id":              {q, map[string][]Presented{"a": pres()["a"], "b": pres()["a"]}, errcode.QueryUnsatisfied},
		"two without multiple":          {q, map[string][]Presented{"a": {pres()["a"][0], pres()["a"][0]}}, errcode.QueryUnsatisfied},
		"not answered":                  {q, map[string][]Presented{}, errcode.QueryUnsatisfied},
		"wrong vct":                     {q, map[string][]Presented{"a": {{VCT: "urn:x", Claims: c, HolderBound: true}}}, errcode.QueryUnsatisfied},
		"no key binding":                {q, map[string][]Presented{"a": {{VCT: vct, Claims: c}}}, errcode.QueryUnsatisfied},
		"claim missing": {q, map[string][]Presented{"a": {{VCT: vct, Claims: map[string]any{"agent": map[string]any{"class": "x"}}, HolderBound: true}}},
			errcode.QueryUnsatisfied},
		"claim_sets: one option":          {sets, pres("/principal/id"), ""},
		"claim_sets: the other option":    {sets, pres("/agent/class"), ""},
		"claim_sets: two options at once": {sets, pres("/principal/id", "/agent/class"), errcode.OverDisclosure},
		"claim_sets: a claim of an option not satisfied": {mustParse(t, `{"credentials":[{"id":"a",`+base+`,"claims":[{"id":"n","path":["nope"]},{"id":"p","path":["principal","id"]},{"id":"g","path":["agent","class"]}],"claim_sets":[["n","g"],["p"]]}]}`),
			pres("/principal/id", "/agent/class"), errcode.OverDisclosure},
		"claim_sets: an option of both": {mustParse(t, `{"credentials":[{"id":"a",`+base+`,"claims":[{"id":"p","path":["principal","id"]},{"id":"g","path":["agent","class"]}],"claim_sets":[["p","g"],["p"]]}]}`),
			pres("/principal/id", "/agent/class"), ""},
		"optional set unanswered": {mustParse(t, `{"credentials":[{"id":"a",`+base+`},{"id":"b",`+base+`}],"credential_sets":[{"options":[["a"]]},{"options":[["b"]],"required":false}]}`),
			map[string][]Presented{"a": {{VCT: vct, Claims: c, HolderBound: true}}}, ""},
		"a query no credential set names": {mustParse(t, `{"credentials":[{"id":"a",`+base+`},{"id":"b",`+base+`}],"credential_sets":[{"options":[["a"]]}]}`),
			map[string][]Presented{"a": {{VCT: vct, Claims: c, HolderBound: true}}, "b": {{VCT: vct, Claims: c, HolderBound: true}}}, errcode.QueryUnsatisfied},
		"required set unanswered": {mustParse(t, `{"credentials":[{"id":"a",`+base+`},{"id":"b",`+base+`}],"credential_sets":[{"options":[["b"]]}]}`),
			map[string][]Presented{"a": {{VCT: vct, Claims: c, HolderBound: true}}}, errcode.QueryUnsatisfied},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.q.Check(tc.resp)
			if c := errcode.CodeOf(err); c != tc.code {
				t.Fatalf("code %q, want %q (%v)", c, tc.code, err)
			}
		})
	}
}

// TestValuesNumbersExact: a numeric value constraint holds only for the
// same number. Integers past 2^53 (or decimals) that round to one float64
// are different values, and neither Check nor Pick takes one for the other;
// the same number written differently (100, 100.0, 1e2) is the same value.
func TestValuesNumbersExact(t *testing.T) {
	base := `"format":"dc+sd-jwt","meta":{"vct_values":["` + vct + `"]}`
	query := func(v string) *Query {
		return mustParse(t, `{"credentials":[{"id":"a",`+base+`,"claims":[{"path":["limit"],"values":[`+v+`]}]}]}`)
	}
	for _, tc := range []struct {
		want, got string
		same      bool
	}{
		{"9007199254740993", "9007199254740992", false},
		{"9007199254740992", "9007199254740993", false},
		{"0.30000000000000004", "0.3000000000000000444", false},
		{"12345678901234567890", "12345678901234567891", false},
		{"-5", "5", false},
		{"100", "100", true},
		{"100", "100.0", true},
		{"100", "1e2", true},
		{"1.5E+3", "1500", true},
		{"0", "-0.0", true},
		{"9007199254740993", "9007199254740993", true},
	} {
		q := query(tc.want)
		c := map[string]any{"vct": vct, "limit": json.Number(tc.got)}
		err := q.Check(map[string][]Presented{"a": {{VCT: vct, Claims: c, HolderBound: true}}})
		if (err == nil) != tc.same {
			t.Errorf("Check: values [%s], claim %s: %v", tc.want, tc.got, err)
		}
		_, err = Pick(q, []Credential{{VCT: vct, Claims: c}})
		if (err == nil) != tc.same {
			t.Errorf("Pick: values [%s], claim %s: %v", tc.want, tc.got, err)
		}
	}
	// A float64 claim (a caller's own decoding) compares by its value too.
	c := map[string]any{"vct": vct, "limit": float64(100)}
	if err := query("100").Check(map[string][]Presented{"a": {{VCT: vct, Claims: c, HolderBound: true}}}); err != nil {
		t.Errorf("float64 claim: %v", err)
	}
}
