package sdjwt

import (
	"strconv"

	"github.com/agentcert/agentcert/internal/jsonptr"

	"github.com/agentcert/agentcert/errcode"
)

// ProcessDisclosures applies disclosures to an issuer payload (RFC 9901
// section 7.1, steps 3 to 5) and returns the processed payload; payload
// and disclosures are not modified. It rejects, with these codes:
//
//   - unsupported_sd_alg: _sd_alg present and not "sha-256"
//   - digest_malformed: an _sd that is not an array of strings, a "..." that is not a string
//   - duplicate_disclosure: the same disclosure twice
//   - duplicate_digest: a digest that appears more than once, counting digests inside disclosed values
//   - disclosure_wrong_position: an array-element disclosure referenced from _sd, or a claim disclosure from "..."
//   - reserved_claim_name: a disclosure naming _sd or ...
//   - claim_exists: a disclosed name already present at that level
//   - disclosure_not_referenced: a disclosure no digest points at
//   - too_large: processed nesting deeper than lim.MaxDepth
//
// The result has _sd, the top-level _sd_alg and every undisclosed array
// placeholder removed.
func ProcessDisclosures(payload map[string]any, ds []*Disclosure, lim Limits) (map[string]any, error) {
	out, _, err := processDisclosures(payload, ds, lim)
	return out, err
}

// processDisclosures is ProcessDisclosures that also returns the index of
// every disclosure by digest.
func processDisclosures(payload map[string]any, ds []*Disclosure, lim Limits) (map[string]any, map[string]int, error) {
	lim = lim.withDefaults()
	if v, ok := payload["_sd_alg"]; ok {
		if s, _ := v.(string); s != SDAlgSHA256 {
			return nil, nil, errcode.New(errcode.UnsupportedSDAlg, "_sd_alg %v is not supported", v)
		}
	}
	p, err := newProcessor(ds, lim.MaxDepth)
	if err != nil {
		return nil, nil, err
	}
	out, err := p.object(payload, 1)
	if err != nil {
		return nil, nil, err
	}
	delete(out, "_sd_alg")
	if err := p.allUsed(); err != nil {
		return nil, nil, err
	}
	return out, p.byDigest, nil
}

// processor walks a payload and substitutes disclosures. When track is set
// it also records, for every disclosure used, its JSON Pointer path in the
// processed payload and the disclosure it sits in (Present uses these).
type processor struct {
	byDigest map[string]int // digest -> index in ds
	ds       []*Disclosure
	used     []bool
	seen     map[string]struct{} // every digest met so far
	maxDepth int

	track   bool
	path    []string   // current path while tracking
	parent  int        // disclosure containing the current position, -1 at top level
	paths   [][]string // per disclosure: its path in the processed payload
	parents []int      // per disclosure: the disclosure it sits in, or -1
}

func newProcessor(ds []*Disclosure, maxDepth int) (*processor, error) {
	p := &processor{
		byDigest: make(map[string]int, len(ds)),
		ds:       ds,
		used:     make([]bool, len(ds)),
		seen:     make(map[string]struct{}, len(ds)+8),
		maxDepth: maxDepth,
		parent:   -1,
	}
	for i, d := range ds {
		if _, dup := p.byDigest[d.Digest]; dup {
			return nil, errcode.New(errcode.DuplicateDisclosure, "disclosure %d was sent more than once", i)
		}
		p.byDigest[d.Digest] = i
	}
	return p, nil
}

func (p *processor) allUsed() error {
	for i, u := range p.used {
		if !u {
			return errcode.New(errcode.DisclosureNotReferenced, "disclosure %d is not referenced by any digest", i)
		}
	}
	return nil
}

// see records a digest and reports a duplicate.
func (p *processor) see(dg string) error {
	if _, dup := p.seen[dg]; dup {
		return errcode.New(errcode.DuplicateDigest, "digest %q appears more than once", dg)
	}
	p.seen[dg] = struct{}{}
	return nil
}

func (p *processor) value(v any, depth int) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		return p.object(x, depth+1)
	case []any:
		return p.array(x, depth+1)
	default:
		return v, nil
	}
}

func (p *processor) object(m map[string]any, depth int) (map[string]any, error) {
	if depth > p.maxDepth {
		return nil, errcode.New(errcode.TooLarge, "processed payload nests deeper than %d", p.maxDepth)
	}
	out := make(map[string]any, len(m))
	var sd []any
	hasSD := false
	for k, v := range m {
		if k == "_sd" {
			list, ok := v.([]any)
			if !ok {
				return nil, errcode.New(errcode.DigestMalformed, "_sd is not an array")
			}
			sd, hasSD = list, true
			continue
		}
		if p.track {
			p.path = append(p.path, k)
		}
		nv, err := p.value(v, depth)
		if p.track {
			p.path = p.path[:len(p.path)-1]
		}
		if err != nil {
			return nil, err
		}
		out[k] = nv
	}
	if !hasSD {
		return out, nil
	}
	for _, e := range sd {
		dg, ok := e.(string)
		if !ok {
			return nil, errcode.New(errcode.DigestMalformed, "an _sd entry is not a string")
		}
		if err := p.see(dg); err != nil {
			return nil, err
		}
		i, ok := p.byDigest[dg]
		if !ok {
			continue // undisclosed or decoy
		}
		d := p.ds[i]
		if d.IsArrayElement {
			return nil, errcode.New(errcode.DisclosureWrongPosition, "array-element disclosure %d is referenced from an _sd array", i)
		}
		if d.Name == "_sd" || d.Name == "..." {
			return nil, errcode.New(errcode.ReservedClaimName, "disclosure %d names the reserved claim %q", i, d.Name)
		}
		if _, exists := out[d.Name]; exists {
			return nil, errcode.New(errcode.ClaimExists, "disclosed claim %q already exists at this level", d.Name)
		}
		p.used[i] = true
		nv, err := p.disclosed(i, d, d.Name, depth)
		if err != nil {
			return nil, err
		}
		out[d.Name] = nv
	}
	return out, nil
}

func (p *processor) array(a []any, depth int) ([]any, error) {
	if depth > p.maxDepth {
		return nil, errcode.New(errcode.TooLarge, "processed payload nests deeper than %d", p.maxDepth)
	}
	out := make([]any, 0, len(a))
	for _, e := range a {
		if m, ok := e.(map[string]any); ok && len(m) == 1 {
			if dv, ok := m["..."]; ok {
				dg, ok := dv.(string)
				if !ok {
					return nil, errcode.New(errcode.DigestMalformed, "an array placeholder digest is not a string")
				}
				if err := p.see(dg); err != nil {
					return nil, err
				}
				i, ok := p.byDigest[dg]
				if !ok {
					continue // undisclosed or decoy: drop the element
				}
				d := p.ds[i]
				if !d.IsArrayElement {
					return nil, errcode.New(errcode.DisclosureWrongPosition, "claim disclosure %d is referenced from an array element", i)
				}
				p.used[i] = true
				nv, err := p.disclosed(i, d, strconv.Itoa(len(out)), depth)
				if err != nil {
					return nil, err
				}
				out = append(out, nv)
				continue
			}
		}
		if p.track {
			p.path = append(p.path, strconv.Itoa(len(out)))
		}
		nv, err := p.value(e, depth)
		if p.track {
			p.path = p.path[:len(p.path)-1]
		}
		if err != nil {
			return nil, err
		}
		out = append(out, nv)
	}
	return out, nil
}

// disclosed processes the value of disclosure i found at path token tok.
func (p *processor) disclosed(i int, d *Disclosure, tok string, depth int) (any, error) {
	if !p.track {
		return p.value(d.Value, depth)
	}
	p.path = append(p.path, tok)
	p.paths[i] = append([]string(nil), p.path...)
	p.parents[i] = p.parent
	saved := p.parent
	p.parent = i
	nv, err := p.value(d.Value, depth)
	p.parent = saved
	p.path = p.path[:len(p.path)-1]
	return nv, err
}

// DisclosurePaths returns, for each disclosure of a compact SD-JWT (with or
// without a KB-JWT), in order, its location in the payload as the
// disclosures it carries build it: the claims Verify returns. A verifier
// reads them to learn what a presentation chose to disclose, as opposed
// to what the issuer stated in clear. For a delegation chain they are the
// disclosures of its root, the certification (the claims VerifyChain's
// Root holds). Verify the presentation first; the errors are those of
// Parse (ParseChain) and ProcessDisclosures.
func DisclosurePaths(sdJWT string) ([]jsonptr.Pointer, error) {
	var t *Token
	if IsChain(sdJWT) {
		c, err := ParseChain(sdJWT, Limits{})
		if err != nil {
			return nil, err
		}
		t = c.Root
	} else {
		var err error
		if t, err = Parse(sdJWT, Limits{}); err != nil {
			return nil, err
		}
	}
	p, _, err := t.track()
	if err != nil {
		return nil, err
	}
	out := make([]jsonptr.Pointer, len(p.paths))
	for i, path := range p.paths {
		out[i] = path
	}
	return out, nil
}

// track processes t's disclosures recording where each lands (paths) and
// which disclosure holds it (parents); it returns the processed payload.
func (t *Token) track() (*processor, map[string]any, error) {
	n := len(t.Disclosures)
	p, err := newProcessor(t.Disclosures, t.limits.MaxDepth)
	if err != nil {
		return nil, nil, err
	}
	p.track = true
	p.paths = make([][]string, n)
	p.parents = make([]int, n)
	full, err := p.object(t.payload, 1)
	if err != nil {
		return nil, nil, err
	}
	if err := p.allUsed(); err != nil {
		return nil, nil, err
	}
	return p, full, nil
}
