package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonptr"
	"github.com/agentcert/agentcert/internal/jsonval"
)

// AgentCertificationV1 is the vct of the agent certification credential.
const AgentCertificationV1 = "urn:agentcert:agent-certification:v1"

// ApproverV1 is the vct of an approver credential: the issuer certifies a
// person's key as one that may approve, for a principal, the high-risk
// actions of the agents it certified.
const ApproverV1 = "urn:agentcert:approver:v1"

// DelegationV1 is the vct of a delegation hop: the delegate payload of a
// KB-SD-JWT in a Delegate SD-JWT chain.
const DelegationV1 = "urn:agentcert:delegation:v1"

// SD is the selective-disclosure rule of a claim in SD-JWT VC type metadata.
type SD string

// The three values of the type metadata "sd" property. A claim without an
// "sd" property is Allowed.
const (
	Always  SD = "always"  // the issuer must make the claim selectively disclosable
	Allowed SD = "allowed" // the issuer may make the claim selectively disclosable
	Never   SD = "never"   // the issuer must not make the claim selectively disclosable
)

// Limits on what Validate reports.
const (
	// MaxProblems bounds the number of problems a ValidationError lists.
	MaxProblems = 32
)

// File names inside each vct directory of the embedded tree.
const (
	schemaFile       = "schema.json"
	typeMetadataFile = "type-metadata.json"
)

//go:embed */v*/*.json
var embedded embed.FS

// schemaURLPrefix names the compiled schemas inside the compiler. The scheme is
// private: nothing is ever fetched, the compiler's loader refuses every URL.
const schemaURLPrefix = "agentcert:///vct/"

// Registry holds, for every embedded vct, its compiled JSON Schema and its
// type metadata. A Registry is immutable and safe for concurrent use.
type Registry struct {
	byVCT map[string]*entry
	files fs.FS
}

type entry struct {
	vct      string
	dir      string // e.g. "agent-certification/v1"
	schema   *jsonschema.Schema
	metadata []byte
	rules    []claimRule
	always   []string // JSON Pointers of the "always" claims, in metadata order
}

// claimRule is one element of the type metadata "claims" array.
type claimRule struct {
	path []pathElem
	sd   SD
}

// pathElem is one component of a type metadata claim path: an object key, an
// array index, or null (every element of an array).
type pathElem struct {
	kind  elemKind
	key   string
	index int
}

type elemKind int

const (
	elemKey elemKind = iota
	elemIndex
	elemAll
)

// New loads and compiles every vct embedded in the package. It fails only
// when the embedded files themselves are broken, which tests rule out.
func New() (*Registry, error) {
	r := &Registry{byVCT: map[string]*entry{}, files: embedded}
	metas, err := fs.Glob(embedded, "*/*/"+typeMetadataFile)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "listing embedded type metadata")
	}
	if len(metas) == 0 {
		return nil, errcode.New(errcode.Internal, "no embedded type metadata")
	}
	for _, m := range metas {
		e, err := load(path.Dir(m))
		if err != nil {
			return nil, err
		}
		if _, dup := r.byVCT[e.vct]; dup {
			return nil, errcode.New(errcode.Internal, "vct %q is embedded twice", e.vct)
		}
		r.byVCT[e.vct] = e
	}
	return r, nil
}

func load(dir string) (*entry, error) {
	e := &entry{dir: dir}
	raw, err := fs.ReadFile(embedded, path.Join(dir, typeMetadataFile))
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "reading %s type metadata", dir)
	}
	e.metadata = raw
	if err := e.parseMetadata(raw); err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "parsing %s type metadata", dir)
	}

	rawSchema, err := fs.ReadFile(embedded, path.Join(dir, schemaFile))
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "reading %s schema", dir)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(rawSchema))
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "parsing %s schema", dir)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(jsonschema.SchemeURLLoader{}) // never load anything from outside
	loc := schemaURLPrefix + dir + "/" + schemaFile
	if err := c.AddResource(loc, doc); err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "adding %s schema", dir)
	}
	e.schema, err = c.Compile(loc)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "compiling %s schema", dir)
	}
	return e, nil
}

// parseMetadata reads vct and the claims array of an SD-JWT VC type metadata
// document.
func (e *entry) parseMetadata(raw []byte) error {
	var doc struct {
		VCT    string `json:"vct"`
		Claims []struct {
			Path []any `json:"path"`
			SD   *SD   `json:"sd"`
		} `json:"claims"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	if doc.VCT == "" {
		return errors.New("vct is missing")
	}
	e.vct = doc.VCT
	for i, c := range doc.Claims {
		if len(c.Path) == 0 {
			return fmt.Errorf("claims[%d]: empty path", i)
		}
		rule := claimRule{sd: Allowed}
		if c.SD != nil {
			switch *c.SD {
			case Always, Allowed, Never:
				rule.sd = *c.SD
			default:
				return fmt.Errorf("claims[%d]: sd %q is not always, allowed or never", i, *c.SD)
			}
		}
		for j, p := range c.Path {
			switch v := p.(type) {
			case nil:
				rule.path = append(rule.path, pathElem{kind: elemAll})
			case string:
				rule.path = append(rule.path, pathElem{kind: elemKey, key: v})
			case json.Number:
				n, err := strconv.Atoi(v.String())
				if err != nil || n < 0 {
					return fmt.Errorf("claims[%d].path[%d]: %s is not a non-negative integer", i, j, v)
				}
				rule.path = append(rule.path, pathElem{kind: elemIndex, index: n})
			default:
				return fmt.Errorf("claims[%d].path[%d]: not a string, null or integer", i, j)
			}
		}
		if rule.sd == Always {
			ptr, err := rule.pointer()
			if err != nil {
				return fmt.Errorf("claims[%d]: %w", i, err)
			}
			e.always = append(e.always, ptr)
		}
		e.rules = append(e.rules, rule)
	}
	return nil
}

// pointer renders a claim path as the JSON Pointer that sdjwt.Issue accepts:
// null becomes the final token "*", which is the only place it may appear.
func (c claimRule) pointer() (string, error) {
	var b strings.Builder
	for i, p := range c.path {
		b.WriteByte('/')
		switch p.kind {
		case elemKey:
			b.WriteString(jsonptr.Escape(p.key))
		case elemIndex:
			b.WriteString(strconv.Itoa(p.index))
		case elemAll:
			if i != len(c.path)-1 {
				return "", errors.New("null may only be the last component of an \"always\" path")
			}
			b.WriteByte('*')
		}
	}
	return b.String(), nil
}

// Known reports whether vct is embedded.
func (r *Registry) Known(vct string) bool {
	_, ok := r.byVCT[vct]
	return ok
}

// VCTs lists the embedded vct values, sorted.
func (r *Registry) VCTs() []string {
	out := make([]string, 0, len(r.byVCT))
	for v := range r.byVCT {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// TypeMetadata returns the SD-JWT VC type metadata document of vct, byte for
// byte as embedded. An unknown vct gives not_found.
func (r *Registry) TypeMetadata(vct string) ([]byte, error) {
	e, ok := r.byVCT[vct]
	if !ok {
		return nil, errcode.New(errcode.NotFound, "unknown vct %q", vct)
	}
	return slices.Clone(e.metadata), nil
}

// Path returns the directory of vct inside FS, e.g. "agent-certification/v1",
// so that its type metadata is served at /vct/<Path>/type-metadata.json.
func (r *Registry) Path(vct string) (string, bool) {
	e, ok := r.byVCT[vct]
	if !ok {
		return "", false
	}
	return e.dir, true
}

// FS returns the embedded files, read-only. Its layout is
//
//	<name>/v<N>/type-metadata.json   SD-JWT VC type metadata (its "vct" is the URN)
//	<name>/v<N>/schema.json          JSON Schema 2020-12 of the complete payload
//	<name>/v<N>/example.json         an example payload that validates
//
// The server mounts it under /vct/, so the agent certification's type metadata
// is at /vct/agent-certification/v1/type-metadata.json. The URN vct is not a
// URL, so a consumer finds the document through that path (or a registry),
// not by dereferencing the vct.
func (r *Registry) FS() fs.FS { return r.files }

// Problem is one reason a payload does not validate.
type Problem struct {
	Path    string `json:"path"`    // JSON Pointer (RFC 6901) of the instance location; "" is the whole payload
	Message string `json:"message"` // what is wrong there
}

// ValidationError lists every problem found (at most MaxProblems), ordered
// by Path. Validate wraps it in an *errcode.Error with code schema_invalid;
// get it back with errors.As.
type ValidationError struct {
	Problems []Problem
}

// Error lists every problem, separated by "; ".
func (e *ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return "payload does not validate"
	}
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// summary is the client-facing message: the first problem, and how many more.
func (e *ValidationError) summary() string {
	if len(e.Problems) == 0 {
		return "payload does not validate"
	}
	msg := e.Problems[0].String()
	if n := len(e.Problems) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

func (p Problem) String() string {
	if p.Path == "" {
		return "(root): " + p.Message
	}
	return p.Path + ": " + p.Message
}

// Validate checks the complete payload (as it will be signed, before any
// selective-disclosure processing) against the JSON Schema of vct. It returns
// nil, or an *errcode.Error with code schema_invalid whose Message names the
// first failing location, e.g. "/permissions/0/action: does not match
// pattern ...", and which wraps a *ValidationError with every problem. An
// unknown vct gives invalid_input.
//
// payload may hold any values encoding/json can marshal; numbers are compared
// exactly (they are re-read as json.Number).
func (r *Registry) Validate(vct string, payload map[string]any) error {
	e, ok := r.byVCT[vct]
	if !ok {
		return errcode.New(errcode.InvalidInput, "unknown vct %q", vct)
	}
	doc, err := normalize(payload)
	if err != nil {
		ve := &ValidationError{Problems: []Problem{{Path: "", Message: "payload is not a JSON object"}}}
		return errcode.Wrap(errcode.SchemaInvalid, ve, "%s", ve.summary())
	}
	err = e.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var jerr *jsonschema.ValidationError
	if !errors.As(err, &jerr) {
		return errcode.Wrap(errcode.Internal, err, "validating against %s", e.dir)
	}
	ve := &ValidationError{Problems: problems(jerr)}
	return errcode.Wrap(errcode.SchemaInvalid, ve, "%s", ve.summary())
}

// normalize turns payload into plain JSON values (map[string]any, []any,
// string, json.Number, bool, nil), the only types the validator understands.
func normalize(payload map[string]any) (any, error) {
	if payload == nil {
		return nil, errors.New("nil payload")
	}
	if jsonval.IsPlain(payload, maxPlainDepth) {
		return payload, nil
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

var printer = message.NewPrinter(language.English)

// problems flattens the validator's error tree into its leaves, one Problem per
// failing instance location and keyword, sorted by location.
func problems(root *jsonschema.ValidationError) []Problem {
	var out []Problem
	seen := map[Problem]bool{}
	add := func(p Problem) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		loc := e.InstanceLocation
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				add(Problem{Path: jsonptr.Pointer(append(slices.Clone(loc), m)).String(), Message: "required property is missing"})
			}
		case *kind.DependentRequired:
			for _, m := range k.Missing {
				add(Problem{Path: jsonptr.Pointer(append(slices.Clone(loc), m)).String(), Message: fmt.Sprintf("required when %q is present", k.Prop)})
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				add(Problem{Path: jsonptr.Pointer(append(slices.Clone(loc), p)).String(), Message: "property is not allowed"})
			}
		case *kind.FalseSchema:
			add(Problem{Path: jsonptr.Pointer(loc).String(), Message: "property is not allowed"})
		case *kind.Pattern:
			add(Problem{Path: jsonptr.Pointer(loc).String(), Message: fmt.Sprintf("does not match pattern %s", k.Want)})
		default:
			add(Problem{Path: jsonptr.Pointer(loc).String(), Message: e.ErrorKind.LocalizedString(printer)})
		}
	}
	walk(root)
	slices.SortStableFunc(out, func(a, b Problem) int {
		if c := jsonptr.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	if len(out) > MaxProblems {
		out = out[:MaxProblems]
	}
	return out
}
