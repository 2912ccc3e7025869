package sdjwt

import (
	"crypto/rand"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/jsonptr"
	"github.com/agentcert/agentcert/internal/jsonval"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// IssueOptions tunes Issue. The zero value (or nil) gives typ dc+sd-jwt,
// no decoys and crypto/rand.
type IssueOptions struct {
	Typ    string         // default TypVC
	Decoys int            // decoy digests to add in total (spread over the _sd arrays)
	Rand   io.Reader      // salts and decoys; default crypto/rand (tests pass a deterministic reader)
	Header map[string]any // extra protected header members; "kid" is taken from the key; alg, typ and crit are refused
}

// Issue signs claims as an SD-JWT and returns "<JWT>~<D1>~...~<Dn>~".
//
// disclosable lists RFC 6901 JSON Pointers into claims. Each names an
// object property or array element that becomes selectively disclosable;
// "*" over an array stands for each of its elements ("/permissions/*"). A
// pointer below another one is recursive: "/address" and
// "/address/street_address" make the street a disclosure inside the
// address disclosure. Every pointer must address an existing value.
//
// Salts are 128 bits from opts.Rand, _sd arrays are sorted, array elements
// become {"...": digest}, the payload gets "_sd_alg": "sha-256" and the
// header typ (default dc+sd-jwt) and the key's kid. key is a private
// jwk.Key whose "alg" is ES256 or EdDSA (inferred from the key type when
// unset). Claims must not use the names _sd, ... or, at the top, _sd_alg.
func Issue(claims map[string]any, disclosable []string, key jwk.Key, opts *IssueOptions) (string, error) {
	var o IssueOptions
	if opts != nil {
		o = *opts
	}
	alg, err := jose.SigningAlg(key)
	if err != nil {
		return "", err
	}
	if o.Typ == "" {
		o.Typ = TypVC
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Decoys < 0 {
		return "", errcode.New(errcode.InvalidInput, "negative decoy count")
	}
	hdr := jws.NewHeaders()
	for k, v := range o.Header {
		switch k {
		case "alg", "typ", "crit", "b64":
			return "", errcode.New(errcode.InvalidInput, "header member %q cannot be set through IssueOptions.Header", k)
		}
		if err := hdr.Set(k, v); err != nil {
			return "", errcode.Wrap(errcode.InvalidInput, err, "header member %q", k)
		}
	}
	if err := hdr.Set(jws.TypeKey, o.Typ); err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "typ")
	}
	norm, err := Normalize(claims)
	if err != nil {
		return "", err
	}
	b := &builder{rand: o.Rand}
	b.mk = b.randomDisclosure
	payload, discs, err := b.buildPayload(norm, disclosable, o.Decoys)
	if err != nil {
		return "", err
	}
	payload["_sd_alg"] = SDAlgSHA256
	body, err := encodeJSON(payload)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "payload cannot be encoded")
	}
	signed, err := jws.Sign(body, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "signing failed")
	}
	out := joinSDJWT("", signed, discs)
	// Never sign what Parse and Verify refuse: the default limits bound the
	// credential with every disclosure and room for a KB-JWT.
	if len(discs) > DefaultMaxDisclosures {
		return "", errcode.New(errcode.TooLarge, "the credential would have %d disclosures; verifiers accept at most %d", len(discs), DefaultMaxDisclosures)
	}
	if n := len(out) + KBReserveBytes; n > DefaultMaxPresentationBytes {
		return "", errcode.New(errcode.TooLarge, "the credential would be %d bytes; with a key binding JWT (%d bytes reserved) verifiers accept at most %d", len(out), KBReserveBytes, DefaultMaxPresentationBytes)
	}
	return out, nil
}

// joinSDJWT writes "<JWT>~<D1>~...~<Dn>~", after "prefix~" when prefix is
// not empty (the chain a KB-SD-JWT extends).
func joinSDJWT(prefix string, signed []byte, discs []string) string {
	var sb strings.Builder
	if prefix != "" {
		sb.WriteString(prefix)
		sb.WriteByte('~')
	}
	sb.Write(signed)
	sb.WriteByte('~')
	for _, d := range discs {
		sb.WriteString(d)
		sb.WriteByte('~')
	}
	return sb.String()
}

// Normalize turns any JSON-encodable claims into generic JSON values
// (maps, slices, json.Number, string, bool, nil), as Issue does first.
// Claims that already are such values (with valid UTF-8, at most
// DefaultMaxDepth deep) are returned as they are, so a caller that
// normalizes once spares Issue and schema validation the encode and decode.
func Normalize(claims map[string]any) (map[string]any, error) {
	if claims == nil {
		return map[string]any{}, nil
	}
	if jsonval.IsPlain(claims, DefaultMaxDepth) {
		return claims, nil
	}
	b, err := marshalJSON(claims)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "claims cannot be encoded as JSON")
	}
	v, err := decodeJSON(b, DefaultMaxDepth, errcode.InvalidInput, "claims")
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// ptrNode is one step of the tree that the disclosable pointers form.
type ptrNode struct {
	kids     map[string]*ptrNode
	sd       bool       // the value here becomes a disclosure
	ptr      string     // a pointer that created this node, for errors
	visited  bool       // the build reached an existing value here
	optional bool       // below a "*": need not exist in every (or any) element
	srcs     []*ptrNode // for merged nodes ("/a/*" with "/a/0"): the originals
}

func (n *ptrNode) visit() {
	if n == nil {
		return
	}
	n.visited = true
	for _, s := range n.srcs {
		s.visit()
	}
}

func (n *ptrNode) kid(tok string) *ptrNode {
	if n == nil {
		return nil
	}
	return n.kids[tok]
}

// merge combines the nodes for an array index and for "*".
func merge(a, b *ptrNode) *ptrNode {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	m := &ptrNode{sd: a.sd || b.sd, ptr: a.ptr, srcs: []*ptrNode{a, b}}
	if len(a.kids)+len(b.kids) > 0 {
		m.kids = make(map[string]*ptrNode)
		for k, v := range a.kids {
			m.kids[k] = merge(v, b.kids[k])
		}
		for k, v := range b.kids {
			if _, ok := a.kids[k]; !ok {
				m.kids[k] = v
			}
		}
	}
	return m
}

func pointerTree(ptrs []string) (*ptrNode, []*ptrNode, error) {
	root := &ptrNode{}
	var all []*ptrNode
	for _, p := range ptrs {
		toks, err := jsonptr.Parse(p)
		if err != nil {
			return nil, nil, err
		}
		if len(toks) == 0 {
			return nil, nil, errcode.New(errcode.InvalidInput, "the whole payload cannot be selectively disclosable")
		}
		n, star := root, false
		for _, t := range toks {
			c := n.kids[t]
			if c == nil {
				if n.kids == nil {
					n.kids = make(map[string]*ptrNode)
				}
				c = &ptrNode{ptr: p, optional: star}
				n.kids[t] = c
				all = append(all, c)
			}
			star = star || t == "*"
			n = c
		}
		n.sd = true
	}
	return root, all, nil
}

// builder turns claims into an SD-JWT payload. mk makes the disclosure
// string for a value; Issue uses random salts, tests feed known strings.
type builder struct {
	rand  io.Reader
	mk    func(path []string, name string, isArray bool, value any) (string, error)
	path  []string // JSON Pointer tokens of the value being built
	discs []string

	decoys  []int // decoys per _sd object, by completion order
	objects int   // _sd objects completed so far
}

func (b *builder) randomDisclosure(_ []string, name string, isArray bool, value any) (string, error) {
	salt, err := b.random()
	if err != nil {
		return "", err
	}
	return encodeDisclosure(b64.EncodeToString(salt), name, isArray, value)
}

func (b *builder) random() ([]byte, error) {
	buf := make([]byte, saltBytes)
	if _, err := io.ReadFull(b.rand, buf); err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "random source failed")
	}
	return buf, nil
}

// buildPayload returns the issuer payload (without _sd_alg) and the
// disclosure strings, in the order they were made (inner before outer).
// Decoys are spread round-robin over the objects that get an _sd array,
// starting with the top level; an object's _sd array is final (sorted,
// decoys in) before a disclosure of that object is made, since its digest
// covers it.
func (b *builder) buildPayload(claims map[string]any, disclosable []string, decoys int) (map[string]any, []string, error) {
	if decoys > 0 {
		// A dry run counts the objects that get an _sd array.
		dry := &builder{mk: func([]string, string, bool, any) (string, error) { return "", nil }}
		if _, _, err := dry.buildPayload(claims, disclosable, 0); err != nil {
			return nil, nil, err
		}
		b.decoys = make([]int, dry.objects)
		for i := 0; i < decoys; i++ {
			b.decoys[dry.objects-1-i%dry.objects]++
		}
	}
	root, all, err := pointerTree(disclosable)
	if err != nil {
		return nil, nil, err
	}
	out, err := b.object(claims, root, true)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range all {
		if !n.visited && !n.optional {
			return nil, nil, errcode.New(errcode.InvalidInput, "JSON Pointer %q addresses no claim", n.ptr)
		}
	}
	return out, b.discs, nil
}

// finish sets the _sd array of an object that has digests (or is the top
// level), adding its share of decoys.
func (b *builder) finish(out map[string]any, digests []string, top bool) error {
	if len(digests) == 0 && !top {
		return nil
	}
	idx := b.objects
	b.objects++
	if idx < len(b.decoys) {
		for i := 0; i < b.decoys[idx]; i++ {
			r, err := b.random()
			if err != nil {
				return err
			}
			digests = append(digests, SDHash(string(r)))
		}
	}
	if len(digests) == 0 {
		return nil
	}
	sort.Strings(digests)
	list := make([]any, len(digests))
	for i, d := range digests {
		list[i] = d
	}
	out["_sd"] = list
	return nil
}

func (b *builder) value(v any, n *ptrNode) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		return b.object(x, n, false)
	case []any:
		return b.array(x, n)
	}
	return v, nil // pointers below a scalar stay unvisited and are reported
}

func (b *builder) disclose(name string, isArray bool, v any) (string, error) {
	raw, err := b.mk(b.path, name, isArray, v)
	if err != nil {
		return "", err
	}
	b.discs = append(b.discs, raw)
	return SDHash(raw), nil
}

func (b *builder) object(m map[string]any, n *ptrNode, top bool) (map[string]any, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k == "_sd" || k == "..." || (top && k == "_sd_alg") {
			return nil, errcode.New(errcode.InvalidInput, "claim name %q is reserved", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]any, len(m)+1)
	var digests []string
	for _, k := range keys {
		c := n.kid(k)
		c.visit()
		b.path = append(b.path, k)
		nv, err := b.value(m[k], c)
		if err == nil && c != nil && c.sd {
			var dg string
			if dg, err = b.disclose(k, false, nv); err == nil {
				digests = append(digests, dg)
			}
		} else if err == nil {
			out[k] = nv
		}
		b.path = b.path[:len(b.path)-1]
		if err != nil {
			return nil, err
		}
	}
	if err := b.finish(out, digests, top); err != nil {
		return nil, err
	}
	return out, nil
}

func (b *builder) array(a []any, n *ptrNode) ([]any, error) {
	star := n.kid("*")
	star.visit()
	out := make([]any, len(a))
	for i, e := range a {
		tok := strconv.Itoa(i)
		c := n.kid(tok)
		c.visit()
		c = merge(c, star)
		b.path = append(b.path, tok)
		nv, err := b.value(e, c)
		if err == nil && c != nil && c.sd {
			var dg string
			if dg, err = b.disclose("", true, nv); err == nil {
				out[i] = map[string]any{"...": dg}
			}
		} else if err == nil {
			out[i] = nv
		}
		b.path = b.path[:len(b.path)-1]
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
