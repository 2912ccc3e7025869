package httpsig

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/dunglas/httpsfv"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Algorithm names from the HTTP Signature Algorithms registry that this
// package signs and verifies.
const (
	AlgEd25519   = "ed25519"
	AlgECDSAP256 = "ecdsa-p256-sha256"
)

// Header names.
const (
	HeaderSignature       = "Signature"
	HeaderSignatureInput  = "Signature-Input"
	HeaderAcceptSignature = "Accept-Signature"
	HeaderContentDigest   = "Content-Digest"
	HeaderSignatureAgent  = "Signature-Agent"
)

// Limits on what Parse accepts.
const (
	MaxSignatures = 8  // members of one Signature-Input
	MaxComponents = 32 // covered components of one signature
	MaxHeaderLen  = 8 << 10
)

// JWS returns the JWS algorithm whose signature bytes equal those of the
// named RFC 9421 algorithm.
func JWS(alg string) (jwa.SignatureAlgorithm, bool) {
	switch alg {
	case AlgEd25519:
		return jwa.EdDSA, true
	case AlgECDSAP256:
		return jwa.ES256, true
	}
	return "", false
}

// Component is one covered component identifier: a name ("@method",
// "content-digest") and its parameters (name, key, req, sf, bs, tr).
type Component struct {
	Name   string
	Params *httpsfv.Params
}

// Components returns identifiers without parameters for the given names.
func Components(names ...string) []Component {
	out := make([]Component, len(names))
	for i, n := range names {
		out[i] = Component{Name: n, Params: httpsfv.NewParams()}
	}
	return out
}

// Param returns the string value of one of the identifier's parameters.
func (c Component) Param(name string) (string, bool) {
	if c.Params == nil {
		return "", false
	}
	v, ok := c.Params.Get(name)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

func (c Component) flag(name string) bool {
	if c.Params == nil {
		return false
	}
	v, ok := c.Params.Get(name)
	b, isBool := v.(bool)
	return ok && isBool && b
}

func (c Component) item() httpsfv.Item {
	p := c.Params
	if p == nil {
		p = httpsfv.NewParams()
	}
	return httpsfv.Item{Value: c.Name, Params: p}
}

// String is the serialized identifier, e.g. "@query-param";name="id".
func (c Component) String() string {
	s, err := httpsfv.Marshal(c.item())
	if err != nil {
		return fmt.Sprintf("%q", c.Name)
	}
	return s
}

// Params are a signature's metadata parameters. Zero values are left out
// when signing.
type Params struct {
	Created time.Time
	Expires time.Time
	Nonce   string
	Alg     string
	KeyID   string
	Tag     string
}

// Signature is one parsed signature: its label, covered components,
// parameters and value.
type Signature struct {
	Label      string
	Components []Component
	Params     Params
	HasCreated bool
	HasExpires bool
	Value      []byte

	input httpsfv.InnerList // as received, for @signature-params
}

// Covers reports whether the signature covers the component with this
// name and no parameters.
func (s *Signature) Covers(name string) bool {
	for _, c := range s.Components {
		if c.Name == name && (c.Params == nil || len(c.Params.Names()) == 0) {
			return true
		}
	}
	return false
}

// CoversMember reports whether the signature covers the dictionary member
// key of the named field ("signature-agent";key="sig1").
func (s *Signature) CoversMember(name, key string) bool {
	for _, c := range s.Components {
		if k, ok := c.Param("key"); ok && c.Name == name && k == key {
			return true
		}
	}
	return false
}

func malformed(format string, args ...any) error {
	return errcode.New(errcode.SigMalformed, format, args...)
}

// Parse reads the Signature-Input and Signature field values of a message
// (each slice holds the field's lines) and returns every signature, in the
// order of Signature-Input. A label in one field and not the other, a
// value that is not a byte sequence, a mistyped signature parameter, or
// a duplicate component is sig_malformed. Unregistered signature
// parameters are kept (they are part of @signature-params) and otherwise
// ignored; a component parameter that is not understood makes Base fail
// with sig_malformed.
func Parse(input, signature []string) ([]*Signature, error) {
	if total(input) > MaxHeaderLen || total(signature) > MaxHeaderLen {
		return nil, malformed("signature fields longer than %d bytes", MaxHeaderLen)
	}
	in, err := httpsfv.UnmarshalDictionary(input)
	if err != nil {
		return nil, errcode.Wrap(errcode.SigMalformed, err, "Signature-Input is not a structured dictionary")
	}
	sg, err := httpsfv.UnmarshalDictionary(signature)
	if err != nil {
		return nil, errcode.Wrap(errcode.SigMalformed, err, "Signature is not a structured dictionary")
	}
	names := in.Names()
	if len(names) == 0 {
		return nil, malformed("Signature-Input has no signature")
	}
	if len(names) > MaxSignatures {
		return nil, malformed("more than %d signatures", MaxSignatures)
	}
	if len(sg.Names()) != len(names) {
		return nil, malformed("Signature and Signature-Input name different labels")
	}
	out := make([]*Signature, 0, len(names))
	for _, label := range names {
		m, _ := in.Get(label)
		il, ok := m.(httpsfv.InnerList)
		if !ok {
			return nil, malformed("Signature-Input %s is not an inner list", label)
		}
		v, ok := sg.Get(label)
		if !ok {
			return nil, malformed("Signature has no value for label %s", label)
		}
		it, ok := v.(httpsfv.Item)
		if !ok {
			return nil, malformed("Signature %s is not a byte sequence", label)
		}
		val, ok := it.Value.([]byte)
		if !ok || len(val) == 0 {
			return nil, malformed("Signature %s is not a byte sequence", label)
		}
		s, err := fromInnerList(label, il)
		if err != nil {
			return nil, err
		}
		s.Value = val
		out = append(out, s)
	}
	return out, nil
}

func total(lines []string) int {
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	return n
}

func fromInnerList(label string, il httpsfv.InnerList) (*Signature, error) {
	if len(il.Items) > MaxComponents {
		return nil, malformed("signature %s covers more than %d components", label, MaxComponents)
	}
	s := &Signature{Label: label, input: il}
	seen := map[string]bool{}
	for _, it := range il.Items {
		name, ok := it.Value.(string)
		if !ok || name == "" || name != strings.ToLower(name) {
			return nil, malformed("signature %s: component identifiers are lowercase strings", label)
		}
		if name == "@signature-params" {
			return nil, malformed("signature %s covers @signature-params", label)
		}
		c := Component{Name: name, Params: it.Params}
		if c.Params == nil {
			c.Params = httpsfv.NewParams()
		}
		id := c.String()
		if seen[id] {
			return nil, malformed("signature %s covers %s twice", label, id)
		}
		seen[id] = true
		s.Components = append(s.Components, c)
	}
	if il.Params == nil {
		return s, nil
	}
	for _, k := range il.Params.Names() {
		v, _ := il.Params.Get(k)
		switch k {
		case "created", "expires":
			n, ok := v.(int64)
			if !ok || n < 0 {
				return nil, malformed("signature %s: %s is not a non-negative integer", label, k)
			}
			if k == "created" {
				s.Params.Created, s.HasCreated = time.Unix(n, 0), true
			} else {
				s.Params.Expires, s.HasExpires = time.Unix(n, 0), true
			}
		case "nonce", "alg", "keyid", "tag":
			str, ok := v.(string)
			if !ok {
				return nil, malformed("signature %s: %s is not a string", label, k)
			}
			switch k {
			case "nonce":
				s.Params.Nonce = str
			case "alg":
				s.Params.Alg = str
			case "keyid":
				s.Params.KeyID = str
			case "tag":
				s.Params.Tag = str
			}
		default:
			// Unregistered parameters are kept in the signed input and
			// otherwise ignored (RFC 9421 section 2.3).
		}
	}
	return s, nil
}

// innerList builds the Signature-Input member for components and params.
func innerList(components []Component, p Params) httpsfv.InnerList {
	il := httpsfv.InnerList{Params: httpsfv.NewParams()}
	for _, c := range components {
		il.Items = append(il.Items, c.item())
	}
	if !p.Created.IsZero() {
		il.Params.Add("created", p.Created.Unix())
	}
	if !p.Expires.IsZero() {
		il.Params.Add("expires", p.Expires.Unix())
	}
	if p.Nonce != "" {
		il.Params.Add("nonce", p.Nonce)
	}
	if p.Alg != "" {
		il.Params.Add("alg", p.Alg)
	}
	if p.KeyID != "" {
		il.Params.Add("keyid", p.KeyID)
	}
	if p.Tag != "" {
		il.Params.Add("tag", p.Tag)
	}
	return il
}

func marshalInner(il httpsfv.InnerList) (string, error) {
	return httpsfv.Marshal(httpsfv.List{il})
}

// Base returns the signature base (RFC 9421 section 2.5) of s over m.
func (s *Signature) Base(m *Message) ([]byte, error) {
	return base(m, s.Components, s.input)
}

func base(m *Message, components []Component, il httpsfv.InnerList) ([]byte, error) {
	var b strings.Builder
	for _, c := range components {
		vals, err := componentValues(m, c)
		if err != nil {
			return nil, err
		}
		id := c.String()
		for _, v := range vals {
			if strings.ContainsAny(v, "\r\n") {
				return nil, malformed("component %s has a line break", id)
			}
			b.WriteString(id)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	p, err := marshalInner(il)
	if err != nil {
		return nil, errcode.Wrap(errcode.SigMalformed, err, "signature parameters do not serialize")
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(p)
	return []byte(b.String()), nil
}

// componentValues returns the value(s) of one component; @query-param
// of a name that occurs once gives one value, everything else one value.
func componentValues(m *Message, c Component) ([]string, error) {
	if c.flag("req") {
		if m.Request == nil {
			return nil, malformed("component %s asks for a request this message does not have", c.String())
		}
		c2 := Component{Name: c.Name, Params: httpsfv.NewParams()}
		for _, k := range c.Params.Names() {
			if k != "req" {
				v, _ := c.Params.Get(k)
				c2.Params.Add(k, v)
			}
		}
		return componentValues(m.Request, c2)
	}
	for _, k := range []string{"sf", "bs", "tr"} {
		if c.Params != nil {
			if _, ok := c.Params.Get(k); ok {
				return nil, malformed("component parameter %s is not supported", k)
			}
		}
	}
	if strings.HasPrefix(c.Name, "@") {
		return derived(m, c)
	}
	// A parameter that is not understood is an error (RFC 9421 section
	// 2.5): left alone, the identifier would stand for the bare field.
	if c.Params != nil {
		for _, k := range c.Params.Names() {
			if k != "key" {
				return nil, malformed("component %s has a parameter that is not understood (%s)", c.String(), k)
			}
			if _, ok := c.Param("key"); !ok {
				return nil, malformed("component %s: key is not a string", c.String())
			}
		}
	}
	lines, ok := m.Header[httpCanonical(c.Name)]
	if !ok {
		lines, ok = lookupFold(m, c.Name)
	}
	if !ok {
		return nil, malformed("component %s is not in the message", c.String())
	}
	if key, ok := c.Param("key"); ok {
		d, err := httpsfv.UnmarshalDictionary(lines)
		if err != nil {
			return nil, errcode.Wrap(errcode.SigMalformed, err, "field %s is not a dictionary", c.Name)
		}
		mem, ok := d.Get(key)
		if !ok {
			return nil, malformed("field %s has no member %s", c.Name, key)
		}
		// The value is the member's value serialized on its own (a list
		// of one member is exactly that), so a bare true is "?1" and
		// cannot be confused with a token that spells the key.
		s, err := httpsfv.Marshal(httpsfv.List{mem})
		if err != nil {
			return nil, errcode.Wrap(errcode.SigMalformed, err, "field %s member %s", c.Name, key)
		}
		return []string{s}, nil
	}
	vals := make([]string, len(lines))
	for i, l := range lines {
		vals[i] = fieldLineValue(l)
	}
	return []string{strings.Join(vals, ", ")}, nil
}

// ows is the whitespace HTTP allows around a field value (SP and HTAB).
const ows = " \t"

// fieldLineValue canonicalizes one field line (RFC 9421 section 2.1):
// each obsolete line folding (CRLF with the whitespace around it) becomes
// one space, and the value's leading and trailing SP and HTAB are removed.
// Nothing else is trimmed: any other byte is part of the signed value.
func fieldLineValue(l string) string {
	if strings.Contains(l, "\r\n") {
		parts := strings.Split(l, "\r\n")
		for i := range parts {
			parts[i] = strings.Trim(parts[i], ows)
		}
		l = strings.Join(parts, " ")
	}
	return strings.Trim(l, ows)
}

func httpCanonical(name string) string {
	// net/http's canonical form; MIMEHeader keys are what http.Header holds.
	b := []byte(name)
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		upper = c == '-'
	}
	return string(b)
}

func lookupFold(m *Message, name string) ([]string, bool) {
	for k, v := range m.Header {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func derived(m *Message, c Component) ([]string, error) {
	isResponse := m.Status != 0
	if c.Name != "@query-param" && c.Params != nil && len(c.Params.Names()) > 0 {
		return nil, malformed("component %s takes no parameters", c.Name)
	}
	if isResponse && c.Name != "@status" {
		return nil, malformed("component %s needs a request", c.Name)
	}
	switch c.Name {
	case "@method":
		return []string{m.Method}, nil
	case "@target-uri":
		return []string{m.targetURI()}, nil
	case "@authority":
		return []string{m.authority()}, nil
	case "@scheme":
		return []string{m.Scheme}, nil
	case "@request-target":
		return []string{m.requestTarget()}, nil
	case "@path":
		return []string{m.path()}, nil
	case "@query":
		return []string{m.query()}, nil
	case "@query-param":
		return queryParam(m, c)
	case "@status":
		if !isResponse {
			return nil, malformed("@status needs a response")
		}
		return []string{m.status()}, nil
	}
	return nil, malformed("derived component %s is not supported", c.Name)
}

func queryParam(m *Message, c Component) ([]string, error) {
	name, ok := c.Param("name")
	if !ok || len(c.Params.Names()) != 1 {
		return nil, malformed("@query-param needs a name parameter, and no other")
	}
	var found []string
	for _, pair := range strings.Split(m.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		dk, err1 := formDecode(k)
		dv, err2 := formDecode(v)
		if err1 != nil || err2 != nil {
			return nil, malformed("the query does not decode")
		}
		if formEncode(dk) == name {
			found = append(found, formEncode(dv))
		}
	}
	switch len(found) {
	case 0:
		return nil, malformed("the query has no parameter %s", name)
	case 1:
		return found, nil
	}
	return nil, malformed("the query has parameter %s more than once", name)
}

func formDecode(s string) (string, error) {
	return url.QueryUnescape(s) // '+' is a space, %XX an octet
}

// formEncode percent-encodes everything outside ALPHA, DIGIT and "*-._"
// (the application/x-www-form-urlencoded set), spaces included as %20.
func formEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '*' || c == '-' || c == '.' || c == '_' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// Sign signs m under label, covering components, with params p and key
// (a jwk.Key, or a crypto key jwx accepts: ed25519.PrivateKey,
// *ecdsa.PrivateKey, a crypto.Signer). It returns the Signature-Input and
// Signature member values ("label=(...);...", "label=:...:").
func Sign(m *Message, label string, components []Component, p Params, key any) (input, signature string, err error) {
	return signList(m, label, components, innerList(components, p), p.Alg, key)
}

func signList(m *Message, label string, components []Component, il httpsfv.InnerList, algName string, key any) (input, signature string, err error) {
	alg, ok := JWS(algName)
	if !ok {
		return "", "", errcode.New(errcode.UnsupportedAlg, "algorithm %q is not supported", algName)
	}
	b, err := base(m, components, il)
	if err != nil {
		return "", "", err
	}
	signer, err := jws.NewSigner(alg)
	if err != nil {
		return "", "", fmt.Errorf("httpsig: %w", err)
	}
	sig, err := signer.Sign(b, key)
	if err != nil {
		return "", "", fmt.Errorf("httpsig: sign: %w", err)
	}
	in := httpsfv.NewDictionary()
	in.Add(label, il)
	sg := httpsfv.NewDictionary()
	sg.Add(label, httpsfv.NewItem(sig))
	if input, err = httpsfv.Marshal(in); err != nil {
		return "", "", errcode.Wrap(errcode.SigMalformed, err, "label %q", label)
	}
	if signature, err = httpsfv.Marshal(sg); err != nil {
		return "", "", errcode.Wrap(errcode.SigMalformed, err, "label %q", label)
	}
	return input, signature, nil
}

// Verify rebuilds s's signature base over m and checks s's value with key
// under the RFC 9421 algorithm alg. When s names an alg parameter it must
// equal alg. A signature that does not verify is sig_invalid.
func Verify(m *Message, s *Signature, alg string, key any) error {
	if s.Params.Alg != "" && s.Params.Alg != alg {
		return errcode.New(errcode.SigInvalid, "signature alg %q does not fit the key (%s)", s.Params.Alg, alg)
	}
	ja, ok := JWS(alg)
	if !ok {
		return errcode.New(errcode.UnsupportedAlg, "algorithm %q is not supported", alg)
	}
	b, err := s.Base(m)
	if err != nil {
		return err
	}
	v, err := jws.NewVerifier(ja)
	if err != nil {
		return fmt.Errorf("httpsig: %w", err)
	}
	if err := v.Verify(b, s.Value, key); err != nil {
		return errcode.Wrap(errcode.SigInvalid, errors.Unwrap(err), "the signature %s does not verify", s.Label)
	}
	return nil
}

// AcceptSignature returns an Accept-Signature member asking for a
// signature under label covering components with the given tag and,
// when set, the key whose keyid is given (RFC 9421 section 5.1).
func AcceptSignature(label string, components []Component, tag, keyid string) string {
	il := innerList(components, Params{Tag: tag, KeyID: keyid})
	il.Params.Add("created", true)
	d := httpsfv.NewDictionary()
	d.Add(label, il)
	s, _ := httpsfv.Marshal(d)
	return s
}
