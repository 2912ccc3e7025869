package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
)

func newRegistry(t testing.TB) *Registry {
	t.Helper()
	r, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// examplePayload returns a fresh copy of the embedded example payload, decoded
// the way the issuer decodes requests (numbers as json.Number).
func examplePayload(t testing.TB) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("agent-certification/v1/example.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var p map[string]any
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

func obj(v any) map[string]any { return v.(map[string]any) }
func arr(v any) []any          { return v.([]any) }

func TestExampleValidates(t *testing.T) {
	r := newRegistry(t)
	if err := r.Validate(AgentCertificationV1, examplePayload(t)); err != nil {
		t.Fatalf("example.json does not validate: %v", err)
	}
}

func TestValidateAcceptsVariants(t *testing.T) {
	r := newRegistry(t)
	tests := []struct {
		name   string
		mutate func(p map[string]any)
	}{
		{"minimal payload", func(p map[string]any) {
			for _, k := range []string{"nbf", "status", "on_behalf_of", "task"} {
				delete(p, k)
			}
			p["prohibitions"] = []any{}
			p["agent"] = map[string]any{"class": "invoice-assistant"}
			p["principal"] = map[string]any{"id": "did:web:acme.example", "name": "ACME"}
		}},
		{"go native types", func(p map[string]any) {
			p["iat"] = 1767225600
			p["exp"] = int64(1775001600)
			p["permissions"] = []map[string]any{{"action": "payments:initiate", "constraints": map[string]any{"max_amount": 12.5, "currency": "EUR"}}}
			p["prohibitions"] = []string{"payments:approve"}
		}},
		{"approval always, irreversible", func(p map[string]any) {
			arr(p["permissions"])[0] = map[string]any{"action": "payments:initiate", "reversibility": "irreversible",
				"constraints": map[string]any{"max_amount": 1000, "currency": "EUR", "approval": "always"}}
		}},
		{"approval above an amount, compensable", func(p map[string]any) {
			arr(p["permissions"])[0] = map[string]any{"action": "payments:initiate", "reversibility": "compensable",
				"constraints": map[string]any{"currency": "EUR", "approval": map[string]any{"above_amount": 100}}}
		}},
		{"wildcard verb", func(p map[string]any) {
			arr(p["permissions"])[0] = map[string]any{"action": "invoices:*"}
		}},
		{"max_amount zero", func(p map[string]any) {
			obj(obj(arr(p["permissions"])[2])["constraints"])["max_amount"] = json.Number("0")
		}},
		{"currency alone", func(p map[string]any) {
			arr(p["permissions"])[2] = map[string]any{"action": "payments:initiate", "constraints": map[string]any{"currency": "EUR"}}
		}},
		{"LEI principal", func(p map[string]any) {
			obj(p["principal"])["id"] = "5493001KJTIIGC8Y1R12"
		}},
		{"https issuer", func(p map[string]any) { p["iss"] = "https://issuer.acme.example" }},
		{"did:key subject", func(p map[string]any) { p["sub"] = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK" }},
		{"did:web subject with port and path", func(p map[string]any) { p["sub"] = "did:web:agents.acme.example%3A8443:fleet:a-17" }},
		{"jti and integrity", func(p map[string]any) {
			p["jti"] = "cred-0001"
			p["vct#integrity"] = "sha256-ilOUJsTultOwLfz7QUcFALaRa3BP/jelX1ds04kB9yU="
		}},
		{"empty prohibitions", func(p map[string]any) { p["prohibitions"] = []any{} }},
		{"Ed25519 holder key", func(p map[string]any) {
			obj(p["cnf"])["jwk"] = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "k1", "alg": "EdDSA"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := examplePayload(t)
			tt.mutate(p)
			if err := r.Validate(AgentCertificationV1, p); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	r := newRegistry(t)
	perm := func(p map[string]any, i int) map[string]any { return obj(arr(p["permissions"])[i]) }
	tests := []struct {
		name     string
		mutate   func(p map[string]any)
		wantPath string // JSON Pointer of the first problem
	}{
		{"missing principal", func(p map[string]any) { delete(p, "principal") }, "/principal"},
		{"missing prohibitions", func(p map[string]any) { delete(p, "prohibitions") }, "/prohibitions"},
		{"missing principal name", func(p map[string]any) { delete(obj(p["principal"]), "name") }, "/principal/name"},
		{"unknown principal type", func(p map[string]any) { obj(p["principal"])["type"] = "robot" }, "/principal/type"},
		{"principal id neither DID, URL nor LEI", func(p map[string]any) { obj(p["principal"])["id"] = "ACME Corp" }, "/principal/id"},
		{"unknown principal member", func(p map[string]any) { obj(p["principal"])["email"] = "x@acme.example" }, "/principal/email"},
		{"bad action pattern", func(p map[string]any) { perm(p, 0)["action"] = "Invoices:Read" }, "/permissions/0/action"},
		{"action without verb", func(p map[string]any) { perm(p, 0)["action"] = "invoices" }, "/permissions/0/action"},
		{"action star alone", func(p map[string]any) { perm(p, 0)["action"] = "*" }, "/permissions/0/action"},
		{"action star resource", func(p map[string]any) { perm(p, 0)["action"] = "*:read" }, "/permissions/0/action"},
		{"missing action", func(p map[string]any) { delete(perm(p, 1), "action") }, "/permissions/1/action"},
		{"unknown reversibility", func(p map[string]any) { perm(p, 0)["reversibility"] = "permanent" }, "/permissions/0/reversibility"},
		{"approval neither always nor a threshold", func(p map[string]any) {
			perm(p, 0)["constraints"] = map[string]any{"approval": "sometimes"}
		}, "/permissions/0/constraints/approval"},
		{"approval threshold negative", func(p map[string]any) {
			perm(p, 0)["constraints"] = map[string]any{"approval": map[string]any{"above_amount": -1}}
		}, "/permissions/0/constraints/approval"},
		{"approval threshold with another member", func(p map[string]any) {
			perm(p, 0)["constraints"] = map[string]any{"approval": map[string]any{"above_amount": 1, "below_amount": 5}}
		}, "/permissions/0/constraints/approval"},
		{"action not a string", func(p map[string]any) { perm(p, 0)["action"] = json.Number("7") }, "/permissions/0/action"},
		{"unknown permission member", func(p map[string]any) { perm(p, 0)["effect"] = "allow" }, "/permissions/0/effect"},
		{"empty resource", func(p map[string]any) { perm(p, 1)["resource"] = "" }, "/permissions/1/resource"},
		{"negative max_amount", func(p map[string]any) {
			obj(perm(p, 2)["constraints"])["max_amount"] = json.Number("-0.01")
		}, "/permissions/2/constraints/max_amount"},
		{"max_amount not a number", func(p map[string]any) {
			obj(perm(p, 2)["constraints"])["max_amount"] = "500"
		}, "/permissions/2/constraints/max_amount"},
		{"max_amount without currency", func(p map[string]any) {
			delete(obj(perm(p, 2)["constraints"]), "currency")
		}, "/permissions/2/constraints/currency"},
		{"lower-case currency", func(p map[string]any) {
			obj(perm(p, 2)["constraints"])["currency"] = "eur"
		}, "/permissions/2/constraints/currency"},
		{"unknown constraint", func(p map[string]any) {
			obj(perm(p, 2)["constraints"])["max_rate"] = json.Number("3")
		}, "/permissions/2/constraints/max_rate"},
		{"constraints not an object", func(p map[string]any) { perm(p, 2)["constraints"] = []any{} }, "/permissions/2/constraints"},
		{"empty permissions", func(p map[string]any) { p["permissions"] = []any{} }, "/permissions"},
		{"too many permissions", func(p map[string]any) {
			ps := make([]any, 257)
			for i := range ps {
				ps[i] = map[string]any{"action": "invoices:read"}
			}
			p["permissions"] = ps
		}, "/permissions"},
		{"undisclosed element placeholder", func(p map[string]any) {
			arr(p["permissions"])[0] = map[string]any{"...": "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs"}
		}, "/permissions/0/..."},
		{"bad prohibition", func(p map[string]any) { arr(p["prohibitions"])[1] = "vendors" }, "/prohibitions/1"},
		{"prohibition object", func(p map[string]any) { arr(p["prohibitions"])[0] = map[string]any{"action": "payments:approve"} }, "/prohibitions/0"},
		{"unknown autonomy", func(p map[string]any) { p["autonomy"] = "full" }, "/autonomy"},
		{"missing autonomy", func(p map[string]any) { delete(p, "autonomy") }, "/autonomy"},
		{"unknown top-level claim", func(p map[string]any) { p["role"] = "admin" }, "/role"},
		{"_sd in payload", func(p map[string]any) { p["_sd"] = []any{"abc"} }, "/_sd"},
		{"_sd_alg in payload", func(p map[string]any) { p["_sd_alg"] = "sha-256" }, "/_sd_alg"},
		{"bad DID in sub", func(p map[string]any) { p["sub"] = "agent-42" }, "/sub"},
		{"upper-case DID method", func(p map[string]any) { p["sub"] = "did:KEY:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK" }, "/sub"},
		{"DID with empty id", func(p map[string]any) { p["sub"] = "did:web:" }, "/sub"},
		{"DID URL as sub", func(p map[string]any) { p["sub"] = "did:web:acme.example#key-1" }, "/sub"},
		{"missing sub", func(p map[string]any) { delete(p, "sub") }, "/sub"},
		{"wrong vct", func(p map[string]any) { p["vct"] = "urn:agentcert:agent-certification:v2" }, "/vct"},
		{"http issuer", func(p map[string]any) { p["iss"] = "http://issuer.acme.example" }, "/iss"},
		{"missing iat", func(p map[string]any) { delete(p, "iat") }, "/iat"},
		{"fractional exp", func(p map[string]any) { p["exp"] = json.Number("1775001600.5") }, "/exp"},
		{"negative nbf", func(p map[string]any) { p["nbf"] = json.Number("-1") }, "/nbf"},
		{"exp as string", func(p map[string]any) { p["exp"] = "2026-04-01T00:00:00Z" }, "/exp"},
		{"missing cnf", func(p map[string]any) { delete(p, "cnf") }, "/cnf"},
		{"cnf with kid only", func(p map[string]any) { p["cnf"] = map[string]any{"kid": "k1"} }, "/cnf/jwk"},
		{"private key in cnf", func(p map[string]any) { obj(obj(p["cnf"])["jwk"])["d"] = "secret" }, "/cnf/jwk/d"},
		{"symmetric key in cnf", func(p map[string]any) { obj(p["cnf"])["jwk"] = map[string]any{"kty": "oct", "k": "c2VjcmV0"} }, "/cnf/jwk/k"},
		{"jwk without kty", func(p map[string]any) { delete(obj(obj(p["cnf"])["jwk"]), "kty") }, "/cnf/jwk/kty"},
		{"negative status idx", func(p map[string]any) {
			obj(obj(p["status"])["status_list"])["idx"] = json.Number("-1")
		}, "/status/status_list/idx"},
		{"status idx as string", func(p map[string]any) {
			obj(obj(p["status"])["status_list"])["idx"] = "4711"
		}, "/status/status_list/idx"},
		{"status without uri", func(p map[string]any) {
			delete(obj(obj(p["status"])["status_list"]), "uri")
		}, "/status/status_list/uri"},
		{"unknown status mechanism", func(p map[string]any) {
			obj(p["status"])["bitstring"] = map[string]any{}
		}, "/status/bitstring"},
		{"on_behalf_of without id", func(p map[string]any) { delete(obj(p["on_behalf_of"]), "id") }, "/on_behalf_of/id"},
		{"agent without class", func(p map[string]any) { delete(obj(p["agent"]), "class") }, "/agent/class"},
		{"agent model not a string", func(p map[string]any) { obj(p["agent"])["model"] = json.Number("4") }, "/agent/model"},
		{"task without id", func(p map[string]any) { delete(obj(p["task"]), "id") }, "/task/id"},
		{"task expires as date string", func(p map[string]any) { obj(p["task"])["expires"] = "2026-02-01" }, "/task/expires"},
		{"task expires fractional", func(p map[string]any) { obj(p["task"])["expires"] = 1769904000.25 }, "/task/expires"},
		{"principal null", func(p map[string]any) { p["principal"] = nil }, "/principal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := examplePayload(t)
			tt.mutate(p)
			err := r.Validate(AgentCertificationV1, p)
			if got := errcode.CodeOf(err); got != errcode.SchemaInvalid {
				t.Fatalf("code = %q, want %q (err %v)", got, errcode.SchemaInvalid, err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v does not wrap *ValidationError", err)
			}
			if got := ve.Problems[0].Path; got != tt.wantPath {
				t.Fatalf("first problem path = %q, want %q (problems %v)", got, tt.wantPath, ve.Problems)
			}
			var ee *errcode.Error
			errors.As(err, &ee)
			if !strings.HasPrefix(ee.Message, tt.wantPath+": ") {
				t.Fatalf("message %q does not start with %q", ee.Message, tt.wantPath+": ")
			}
		})
	}
}

func TestValidateMessage(t *testing.T) {
	r := newRegistry(t)
	p := examplePayload(t)
	obj(arr(p["permissions"])[0])["action"] = "Invoices:Read"
	delete(p, "principal")
	err := r.Validate(AgentCertificationV1, p)
	var ee *errcode.Error
	if !errors.As(err, &ee) {
		t.Fatalf("not an *errcode.Error: %v", err)
	}
	const want = `/permissions/0/action: does not match pattern ^[a-z0-9_.-]+:([a-z0-9_.-]+|\*)$ (and 1 more)`
	if ee.Message != want {
		t.Fatalf("Message = %q, want %q", ee.Message, want)
	}
	var ve *ValidationError
	errors.As(err, &ve)
	want2 := []Problem{
		{Path: "/permissions/0/action", Message: `does not match pattern ^[a-z0-9_.-]+:([a-z0-9_.-]+|\*)$`},
		{Path: "/principal", Message: "required property is missing"},
	}
	if !slices.Equal(ve.Problems, want2) {
		t.Fatalf("Problems = %v, want %v", ve.Problems, want2)
	}
	if strings.Contains(ee.Message, "Invoices:Read") {
		t.Fatalf("message echoes the rejected value: %q", ee.Message)
	}
}

func TestValidateProblemsOrderedAndBounded(t *testing.T) {
	r := newRegistry(t)
	p := examplePayload(t)
	ps := make([]any, 256)
	for i := range ps {
		ps[i] = map[string]any{"action": "BAD"}
	}
	p["permissions"] = ps
	err := r.Validate(AgentCertificationV1, p)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("no *ValidationError in %v", err)
	}
	if len(ve.Problems) != MaxProblems {
		t.Fatalf("%d problems, want %d", len(ve.Problems), MaxProblems)
	}
	// Numeric tokens sort by value: 0, 1, 2, ..., not 0, 1, 10, 100, ...
	for i, pr := range ve.Problems {
		want := "/permissions/" + itoa(i) + "/action"
		if pr.Path != want {
			t.Fatalf("problem %d at %q, want %q", i, pr.Path, want)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestValidateNotJSON(t *testing.T) {
	r := newRegistry(t)
	for name, p := range map[string]map[string]any{
		"nil payload": nil,
		"channel":     {"iss": make(chan int)},
	} {
		t.Run(name, func(t *testing.T) {
			err := r.Validate(AgentCertificationV1, p)
			if got := errcode.CodeOf(err); got != errcode.SchemaInvalid {
				t.Fatalf("code = %q, want schema_invalid (%v)", got, err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Problems[0].Path != "" {
				t.Fatalf("want one root problem, got %v", err)
			}
		})
	}
}

func TestUnknownVCT(t *testing.T) {
	r := newRegistry(t)
	const vct = "urn:example:unknown"
	if r.Known(vct) {
		t.Fatal("Known(unknown) = true")
	}
	if !r.Known(AgentCertificationV1) {
		t.Fatal("Known(AgentCertificationV1) = false")
	}
	if got := errcode.CodeOf(r.Validate(vct, examplePayload(t))); got != errcode.InvalidInput {
		t.Errorf("Validate: code %q, want invalid_input", got)
	}
	if _, err := r.Disclosable(vct, nil); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Errorf("Disclosable: code %q, want invalid_input", errcode.CodeOf(err))
	}
	if _, err := r.TypeMetadata(vct); errcode.CodeOf(err) != errcode.NotFound {
		t.Errorf("TypeMetadata: code %q, want not_found", errcode.CodeOf(err))
	}
	if _, ok := r.Path(vct); ok {
		t.Error("Path(unknown) ok")
	}
}

func TestVCTsAndPath(t *testing.T) {
	r := newRegistry(t)
	if got := r.VCTs(); !slices.Equal(got, []string{AgentCertificationV1, ApproverV1, DelegationV1}) {
		t.Fatalf("VCTs = %v", got)
	}
	if dir, ok := r.Path(AgentCertificationV1); !ok || dir != "agent-certification/v1" {
		t.Fatalf("Path = %q, %v", dir, ok)
	}
}

// typeMetadataDoc is the part of the SD-JWT VC type metadata format the tests
// look at.
type typeMetadataDoc struct {
	VCT         string `json:"vct"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Display     []struct {
		Locale string `json:"locale"`
		Name   string `json:"name"`
	} `json:"display"`
	Claims []struct {
		Path    []any   `json:"path"`
		SD      *string `json:"sd"`
		Display []struct {
			Locale string `json:"locale"`
			Label  string `json:"label"`
		} `json:"display"`
	} `json:"claims"`
}

func TestTypeMetadata(t *testing.T) {
	r := newRegistry(t)
	raw, err := r.TypeMetadata(AgentCertificationV1)
	if err != nil {
		t.Fatal(err)
	}
	fromFS, err := fs.ReadFile(r.FS(), "agent-certification/v1/type-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, fromFS) {
		t.Fatal("TypeMetadata differs from the file in FS")
	}
	var doc typeMetadataDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.VCT != AgentCertificationV1 || doc.Name == "" || doc.Description == "" {
		t.Fatalf("vct/name/description = %q/%q/%q", doc.VCT, doc.Name, doc.Description)
	}
	for _, d := range doc.Display {
		if d.Locale == "" || d.Name == "" {
			t.Errorf("display entry without locale or name: %+v", d)
		}
	}
	sd := map[string]string{}
	for i, c := range doc.Claims {
		if len(c.Path) == 0 {
			t.Fatalf("claims[%d]: empty path", i)
		}
		if c.SD == nil {
			t.Fatalf("claims[%d] %v: no sd (the default is ambiguous; say it)", i, c.Path)
		}
		switch *c.SD {
		case string(Always), string(Allowed), string(Never):
		default:
			t.Fatalf("claims[%d] %v: sd %q", i, c.Path, *c.SD)
		}
		for _, d := range c.Display {
			if d.Locale == "" || d.Label == "" {
				t.Errorf("claims[%d]: display entry without locale or label", i)
			}
		}
		key, _ := json.Marshal(c.Path)
		if _, dup := sd[string(key)]; dup {
			t.Fatalf("claims[%d]: path %s listed twice", i, key)
		}
		sd[string(key)] = *c.SD
	}
	want := map[string]string{
		`["permissions",null]`:               "always",
		`["permissions"]`:                    "never",
		`["permissions",null,"action"]`:      "never",
		`["permissions",null,"resource"]`:    "never",
		`["permissions",null,"constraints"]`: "never",
		`["prohibitions"]`:                   "never",
		`["prohibitions",null]`:              "never",
		`["cnf"]`:                            "never",
		`["status"]`:                         "never",
		`["vct"]`:                            "never",
		`["iss"]`:                            "never",
		`["iat"]`:                            "never",
		`["nbf"]`:                            "never",
		`["exp"]`:                            "never",
		`["sub"]`:                            "never",
		`["task"]`:                           "never",
		`["autonomy"]`:                       "never",
		`["principal"]`:                      "allowed",
		`["principal","name"]`:               "allowed",
		`["agent"]`:                          "allowed",
		`["on_behalf_of"]`:                   "allowed",
	}
	for path, w := range want {
		if got := sd[path]; got != w {
			t.Errorf("sd of %s = %q, want %q", path, got, w)
		}
	}
}

// TestSchemaAndMetadataAgree checks that every top-level claim of the schema
// has type metadata, and that the metadata names no claim the schema lacks.
func TestSchemaAndMetadataAgree(t *testing.T) {
	r := newRegistry(t)
	rawSchema, err := fs.ReadFile(r.FS(), "agent-certification/v1/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Schema     string                     `json:"$schema"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(rawSchema, &schema); err != nil {
		t.Fatal(err)
	}
	if schema.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("$schema = %q", schema.Schema)
	}
	raw, _ := r.TypeMetadata(AgentCertificationV1)
	var doc typeMetadataDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	top := map[string]bool{}
	for _, c := range doc.Claims {
		name, _ := c.Path[0].(string)
		if _, ok := schema.Properties[name]; !ok {
			t.Errorf("type metadata claim %v is not in the schema", c.Path)
		}
		if len(c.Path) == 1 {
			top[name] = true
		}
	}
	for name := range schema.Properties {
		if !top[name] {
			t.Errorf("schema property %q has no type metadata claim entry", name)
		}
	}
}

func TestFSLayout(t *testing.T) {
	r := newRegistry(t)
	var files []string
	err := fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"agent-certification/v1/example.json",
		"agent-certification/v1/schema.json",
		"agent-certification/v1/type-metadata.json",
		"approver/v1/example.json",
		"approver/v1/schema.json",
		"approver/v1/type-metadata.json",
		"delegation/v1/example.json",
		"delegation/v1/schema.json",
		"delegation/v1/type-metadata.json",
	}
	if !slices.Equal(files, want) {
		t.Fatalf("FS files = %v, want %v", files, want)
	}
	for _, f := range files {
		b, _ := fs.ReadFile(r.FS(), f)
		if !json.Valid(b) {
			t.Errorf("%s is not valid JSON", f)
		}
	}
}

// TestEmbeddedExamplesValidate checks that every embedded vct's example
// payload names the same vct and validates.
func TestEmbeddedExamplesValidate(t *testing.T) {
	r := newRegistry(t)
	for _, vct := range r.VCTs() {
		dir, _ := r.Path(vct)
		raw, err := fs.ReadFile(r.FS(), dir+"/example.json")
		if err != nil {
			t.Fatalf("%s: %v", vct, err)
		}
		var p map[string]any
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		if p["vct"] != vct {
			t.Errorf("%s example has vct %v", dir, p["vct"])
		}
		if err := r.Validate(vct, p); err != nil {
			t.Errorf("%s example: %v", dir, err)
		}
	}
}
