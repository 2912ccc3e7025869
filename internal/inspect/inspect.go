// Package inspect decodes agentcert's artifacts offline, for people: an
// SD-JWT VC, a presentation (with its KB-JWT), a delegation chain (a
// Delegate SD-JWT, hop by hop) or a Status List Token. It verifies nothing
// — `agentcert verify` does — and says so in its output.
package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Inspection is what `agentcert inspect` decodes from one file, without
// verifying anything. Exactly one of Credential and StatusList (or JWT for
// any other compact JWS) is set. A delegation chain sets Credential (its
// root) and Hops; its KeyBinding is the final KB-JWT, over the last hop.
type Inspection struct {
	Kind       string          `json:"kind"` // credential | presentation | delegation | delegation_presentation | status_list | jwt
	Credential *sdJWTView      `json:"credential,omitempty"`
	Hops       []*hopView      `json:"hops,omitempty"`
	KeyBinding *kbView         `json:"key_binding,omitempty"`
	StatusList *statusListView `json:"status_list,omitempty"`
	JWT        *jwtView        `json:"jwt,omitempty"`
}

// jwtView is a decoded compact JWS.
type jwtView struct {
	Header  map[string]any `json:"header"`
	Payload map[string]any `json:"payload"`
}

// sdJWTView is an SD-JWT's issuer JWT and its disclosures.
type sdJWTView struct {
	jwtView
	Disclosures []disclosureView `json:"disclosures"`
	// Digests is how many digests the issuer JWT carries (disclosable
	// claims plus decoys); Disclosures is how many of them are present.
	Digests int            `json:"digests"`
	Claims  map[string]any `json:"claims"` // the payload with the present disclosures applied
	Times   timesView      `json:"times"`
	Status  *statusRefView `json:"status,omitempty"`
}

type disclosureView struct {
	Name  string `json:"name,omitempty"` // empty for an array element
	Value any    `json:"value"`
}

type timesView struct {
	IssuedAt  *time.Time `json:"iat,omitempty"`
	NotBefore *time.Time `json:"nbf,omitempty"`
	Expires   *time.Time `json:"exp,omitempty"`
	Expired   bool       `json:"expired"`
}

type statusRefView struct {
	URI string `json:"uri"`
	Idx any    `json:"idx"`
}

// kbView is a decoded KB-JWT and whether its sd_hash matches the
// presentation (a check that needs no key).
type kbView struct {
	jwtView
	SDHashMatches bool `json:"sd_hash_matches"`
}

// statusListView is a decoded Status List Token.
type statusListView struct {
	jwtView
	Bits    int            `json:"bits"`
	Entries int            `json:"entries"`
	NonZero map[string]int `json:"non_zero"` // counts by status name
	Times   timesView      `json:"times"`
}

// Decode decodes s without verifying anything: an SD-JWT (with or without key binding) when it has a
// '~', else a compact JWS.
func Decode(s string, now time.Time) (*Inspection, error) {
	if s == "" {
		return nil, errcode.New(errcode.Malformed, "the input is empty")
	}
	if strings.Contains(s, "~") {
		return inspectSDJWT(s, now)
	}
	v, err := decodeJWS(s)
	if err != nil {
		return nil, err
	}
	if typ, _ := v.Header["typ"].(string); strings.EqualFold(typ, revocation.TypStatusListJWT) || strings.EqualFold(typ, "application/"+revocation.TypStatusListJWT) {
		sl, err := inspectStatusList(v, now)
		if err != nil {
			return nil, err
		}
		return &Inspection{Kind: "status_list", StatusList: sl}, nil
	}
	return &Inspection{Kind: "jwt", JWT: v}, nil
}

func inspectSDJWT(s string, now time.Time) (*Inspection, error) {
	if sdjwt.IsChain(s) {
		return inspectChain(s, now)
	}
	tok, err := sdjwt.Parse(s, sdjwt.Limits{})
	if err != nil {
		return nil, err
	}
	cv, err := credentialView(tok, now)
	if err != nil {
		return nil, err
	}
	in := &Inspection{Kind: "credential", Credential: cv}
	if tok.KBJWT != "" {
		if in.KeyBinding, err = keyBindingView(tok.KBJWT, tok.SDHashInput()); err != nil {
			return nil, err
		}
		in.Kind = "presentation"
	}
	return in, nil
}

// keyBindingView decodes a KB-JWT and compares its sd_hash with the
// digest of sdHashInput (the presentation it claims to bind).
func keyBindingView(kbJWT, sdHashInput string) (*kbView, error) {
	kv, err := decodeJWS(kbJWT)
	if err != nil {
		return nil, errcode.Wrap(errcode.Malformed, err, "the key-binding JWT does not decode")
	}
	got, _ := kv.Payload["sd_hash"].(string)
	return &kbView{jwtView: *kv, SDHashMatches: got != "" && got == sdjwt.SDHash(sdHashInput)}, nil
}

// credentialView decodes an SD-JWT's issuer JWT and applies its disclosures.
func credentialView(tok *sdjwt.Token, now time.Time) (*sdJWTView, error) {
	var err error
	cv := &sdJWTView{jwtView: jwtView{Header: tok.UnverifiedHeader(), Payload: tok.UnverifiedPayload()}, Disclosures: []disclosureView{}}
	for _, d := range tok.Disclosures {
		cv.Disclosures = append(cv.Disclosures, disclosureView{Name: d.Name, Value: d.Value})
	}
	cv.Digests = countDigests(cv.Payload)
	if cv.Claims, err = sdjwt.ProcessDisclosures(copyJSON(cv.Payload), tok.Disclosures, sdjwt.Limits{}); err != nil {
		return nil, err
	}
	cv.Times = timesOf(cv.Payload, now)
	if st, ok := cv.Payload["status"].(map[string]any); ok {
		if ref, ok := st["status_list"].(map[string]any); ok {
			uri, _ := ref["uri"].(string)
			cv.Status = &statusRefView{URI: uri, Idx: ref["idx"]}
		}
	}
	return cv, nil
}

func inspectStatusList(v *jwtView, now time.Time) (*statusListView, error) {
	sl := &statusListView{jwtView: *v, NonZero: map[string]int{}, Times: timesOf(v.Payload, now)}
	claim, ok := v.Payload["status_list"].(map[string]any)
	if !ok {
		return nil, errcode.New(errcode.StatusInvalid, "the status list token has no status_list claim")
	}
	bits, _ := claim["bits"].(json.Number)
	n, err := bits.Int64()
	if err != nil {
		return nil, errcode.New(errcode.StatusInvalid, "status_list.bits is not a number")
	}
	lst, _ := claim["lst"].(string)
	l, err := revocation.DecodeIETF(lst, int(n), revocation.DefaultMaxBytes)
	if err != nil {
		return nil, err
	}
	sl.Bits, sl.Entries = l.Bits(), l.Len()
	for i := 0; i < l.Len(); i++ {
		if s, _ := l.Get(i); s != 0 {
			sl.NonZero[statusName(s)]++
		}
	}
	// The list itself is long; its counts say what it holds.
	delete(claim, "lst")
	claim["lst"] = fmt.Sprintf("(%d characters)", len(lst))
	return sl, nil
}

// statusName names a status value as the status list draft does.
func statusName(v uint8) string {
	switch v {
	case 0:
		return "valid"
	case 1:
		return "revoked"
	case 2:
		return "suspended"
	}
	return fmt.Sprintf("status_%d", v)
}

// decodeJWS decodes a compact JWS's protected header and JSON payload
// without verifying it.
func decodeJWS(s string) (*jwtView, error) {
	msg, err := jws.Parse([]byte(s), jws.WithCompact())
	if err != nil {
		return nil, errcode.Wrap(errcode.Malformed, err, "not a compact JWS, an SD-JWT or a presentation")
	}
	if len(msg.Signatures()) != 1 {
		return nil, errcode.New(errcode.Malformed, "the JWS has %d signatures", len(msg.Signatures()))
	}
	hb, err := json.Marshal(msg.Signatures()[0].ProtectedHeaders())
	if err != nil {
		return nil, errcode.Wrap(errcode.Malformed, err, "the JWS header does not encode")
	}
	v := &jwtView{}
	if err := decodeNumbers(hb, &v.Header); err != nil {
		return nil, errcode.Wrap(errcode.Malformed, err, "the JWS header is not a JSON object")
	}
	if err := decodeNumbers(msg.Payload(), &v.Payload); err != nil {
		return nil, errcode.Wrap(errcode.Malformed, err, "the JWS payload is not a JSON object")
	}
	return v, nil
}

func decodeNumbers(b []byte, out *map[string]any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if *out == nil {
		return fmt.Errorf("null")
	}
	return nil
}

// copyJSON deep-copies a decoded JSON object (ProcessDisclosures edits it).
func copyJSON(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = decodeNumbers(b, &out)
	return out
}

// countDigests counts the _sd entries and array placeholders in v.
func countDigests(v any) int {
	n := 0
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if k == "_sd" {
				if a, ok := e.([]any); ok {
					n += len(a)
				}
				continue
			}
			if k == "..." && len(t) == 1 {
				return 1
			}
			n += countDigests(e)
		}
	case []any:
		for _, e := range t {
			n += countDigests(e)
		}
	}
	return n
}

func timesOf(p map[string]any, now time.Time) timesView {
	var tv timesView
	at := func(name string) *time.Time {
		n, ok := p[name].(json.Number)
		if !ok {
			return nil
		}
		sec, err := n.Int64()
		if err != nil {
			return nil
		}
		t := time.Unix(sec, 0).UTC()
		return &t
	}
	tv.IssuedAt, tv.NotBefore, tv.Expires = at("iat"), at("nbf"), at("exp")
	tv.Expired = tv.Expires != nil && !now.Before(*tv.Expires)
	return tv
}

func Print(w io.Writer, in *Inspection) error {
	fmt.Fprintln(w, "NOT VERIFIED: decoded only; `agentcert verify` checks signatures, key binding and status")
	switch in.Kind {
	case "credential", "presentation":
		if in.Kind == "presentation" {
			fmt.Fprintln(w, "kind:        SD-JWT VC presentation (with key binding)")
		} else {
			fmt.Fprintln(w, "kind:        SD-JWT VC (no key binding)")
		}
		printCredential(w, in.Credential)
		printKeyBinding(w, in.KeyBinding)
	case "delegation", "delegation_presentation":
		if in.Kind == "delegation_presentation" {
			fmt.Fprintf(w, "kind:        delegation chain (dSD-JWT+KB: %d hops and a final KB-JWT)\n", len(in.Hops))
		} else {
			fmt.Fprintf(w, "kind:        delegation chain (dSD-JWT: %d hops, no final KB-JWT)\n", len(in.Hops))
		}
		fmt.Fprintln(w, "root credential:")
		printCredential(w, in.Credential)
		printChain(w, in)
		printKeyBinding(w, in.KeyBinding)
	case "status_list":
		sl := in.StatusList
		fmt.Fprintln(w, "kind:        Status List Token")
		printJSONLine(w, "header:     ", sl.Header)
		fmt.Fprintf(w, "%-12s %v\n%-12s %v\n", "iss:", sl.Payload["iss"], "sub:", sl.Payload["sub"])
		printTimes(w, sl.Times)
		if ttl, ok := sl.Payload["ttl"]; ok {
			fmt.Fprintf(w, "ttl:         %vs\n", ttl)
		}
		fmt.Fprintf(w, "entries:     %d of %d bits\n", sl.Entries, sl.Bits)
		names := make([]string, 0, len(sl.NonZero))
		for n := range sl.NonZero {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) == 0 {
			fmt.Fprintln(w, "non-zero:    none (every entry valid)")
		}
		for _, n := range names {
			fmt.Fprintf(w, "%-12s %d\n", n+":", sl.NonZero[n])
		}
	default:
		fmt.Fprintln(w, "kind:        JWT")
		printJSONLine(w, "header:     ", in.JWT.Header)
		printJSONBlock(w, "payload:", in.JWT.Payload)
	}
	return nil
}

func printCredential(w io.Writer, c *sdJWTView) {
	printJSONLine(w, "header:     ", c.Header)
	for _, k := range []string{"iss", "sub", "vct"} {
		if v, ok := c.Payload[k]; ok {
			fmt.Fprintf(w, "%-12s %v\n", k+":", v)
		}
	}
	printTimes(w, c.Times)
	if c.Status != nil {
		fmt.Fprintf(w, "status:      %s index %v\n", c.Status.URI, c.Status.Idx)
	} else {
		fmt.Fprintln(w, "status:      no status reference")
	}
	if _, ok := c.Payload["cnf"]; ok {
		printJSONLine(w, "holder key: ", c.Payload["cnf"])
	}
	fmt.Fprintf(w, "disclosures: %d present of %d digests (the rest are withheld claims or decoys)\n", len(c.Disclosures), c.Digests)
	for _, d := range c.Disclosures {
		name := d.Name
		if name == "" {
			name = "(array element)"
		}
		printJSONLine(w, "  "+name+":", d.Value)
	}
	claims := map[string]any{}
	for k, v := range c.Claims {
		switch k {
		case "iss", "sub", "vct", "iat", "nbf", "exp", "cnf", "status":
		default:
			claims[k] = v
		}
	}
	printJSONBlock(w, "claims (as disclosed):", claims)
}

// printKeyBinding prints a KB-JWT (the final one of a chain); nothing for nil.
func printKeyBinding(w io.Writer, kb *kbView) {
	if kb == nil {
		return
	}
	fmt.Fprintf(w, "key binding: aud %v, nonce %v", kb.Payload["aud"], kb.Payload["nonce"])
	if t := timesOf(kb.Payload, time.Now()).IssuedAt; t != nil {
		fmt.Fprintf(w, ", iat %s", t.Format(time.RFC3339))
	}
	if kb.SDHashMatches {
		fmt.Fprintln(w, ", sd_hash matches")
	} else {
		fmt.Fprintln(w, ", sd_hash DOES NOT match this presentation")
	}
}

func printTimes(w io.Writer, t timesView) {
	for _, e := range []struct {
		name string
		at   *time.Time
	}{{"issued:", t.IssuedAt}, {"not before:", t.NotBefore}, {"expires:", t.Expires}} {
		if e.at != nil {
			fmt.Fprintf(w, "%-12s %s\n", e.name, e.at.Format(time.RFC3339))
		}
	}
	if t.Expired {
		fmt.Fprintln(w, "             EXPIRED")
	}
}

func printJSONLine(w io.Writer, label string, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "%s %s\n", label, b)
}

func printJSONBlock(w io.Writer, label string, v any) {
	b, _ := json.MarshalIndent(v, "  ", "  ")
	fmt.Fprintf(w, "%s\n  %s\n", label, b)
}
