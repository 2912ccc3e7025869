package inspect

import (
	"fmt"
	"io"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/sdjwt"
)

// hopView is one KB-SD-JWT of a delegation chain: its JWT, its
// disclosures, the delegate payload they disclose and the link to the
// component before it (compared without any key).
type hopView struct {
	jwtView
	Disclosures []disclosureView `json:"disclosures"`
	// TypExpected is the typ the hop's position requires (kb+sd-jwt+kb
	// except for the last hop of a chain without a final KB-JWT).
	TypExpected string `json:"typ_expected"`
	// Delegator is the sub of the component before the hop (the root
	// credential, or the previous hop's delegate); Subject the delegate's.
	Delegator string `json:"delegator,omitempty"`
	Subject   string `json:"sub,omitempty"`
	// DelegatePayloads is how many delegate_payload elements are
	// disclosed: exactly one must be, and Claims is that one, processed.
	DelegatePayloads int            `json:"delegate_payloads"`
	Claims           map[string]any `json:"claims,omitempty"`
	Times            timesView      `json:"times"` // the delegate payload's
	// Link names the claims tying the hop to the component before it
	// (sd_hash, issuer_jwt_hash, both joined by "+", or "" for none);
	// LinkMatches says each of them is the digest it must be.
	Link        string `json:"link"`
	LinkMatches bool   `json:"link_matches"`
}

// inspectChain decodes a dSD-JWT or dSD-JWT+KB hop by hop.
func inspectChain(s string, now time.Time) (*Inspection, error) {
	c, err := sdjwt.ParseChain(s, sdjwt.Limits{})
	if err != nil {
		return nil, err
	}
	cv, err := credentialView(c.Root, now)
	if err != nil {
		return nil, err
	}
	in := &Inspection{Kind: "delegation", Credential: cv, Hops: make([]*hopView, 0, len(c.Hops))}
	prev, delegator := c.Root, rootSubject(cv.Claims)
	for i, t := range c.Hops {
		hv, err := hopViewOf(t, prev, now)
		if err != nil {
			return nil, errcode.Prefix(err, "delegation hop %d", i+1)
		}
		hv.TypExpected = sdjwt.TypKBSDKB
		if i == len(c.Hops)-1 && c.KBJWT == "" {
			hv.TypExpected = sdjwt.TypKBSD
		}
		hv.Delegator = delegator
		in.Hops = append(in.Hops, hv)
		prev, delegator = t, hv.Subject
	}
	if c.KBJWT != "" {
		if in.KeyBinding, err = keyBindingView(c.KBJWT, prev.SDHashInput()); err != nil {
			return nil, err
		}
		in.Kind = "delegation_presentation"
	}
	return in, nil
}

func hopViewOf(t, prev *sdjwt.Token, now time.Time) (*hopView, error) {
	hv := &hopView{jwtView: jwtView{Header: t.UnverifiedHeader(), Payload: t.UnverifiedPayload()}, Disclosures: []disclosureView{}}
	for _, d := range t.Disclosures {
		hv.Disclosures = append(hv.Disclosures, disclosureView{Name: d.Name, Value: d.Value})
	}
	processed, err := sdjwt.ProcessDisclosures(copyJSON(hv.Payload), t.Disclosures, sdjwt.Limits{})
	if err != nil {
		return nil, err
	}
	list, _ := processed[sdjwt.ClaimDelegatePayload].([]any)
	hv.DelegatePayloads = len(list)
	if len(list) == 1 {
		if m, ok := list[0].(map[string]any); ok {
			hv.Claims = m
			hv.Subject, _ = m["sub"].(string)
			hv.Times = timesOf(m, now)
		}
	}
	hv.LinkMatches = true
	for _, l := range []struct {
		claim, over string
	}{{sdjwt.ClaimSDHash, prev.SDHashInput()}, {sdjwt.ClaimIssuerJWTHash, prev.IssuerJWT}} {
		v, ok := hv.Payload[l.claim]
		if !ok {
			continue
		}
		if hv.Link != "" {
			hv.Link += "+"
		}
		hv.Link += l.claim
		got, _ := v.(string)
		hv.LinkMatches = hv.LinkMatches && got != "" && got == sdjwt.SDHash(l.over)
	}
	hv.LinkMatches = hv.LinkMatches && hv.Link != ""
	return hv, nil
}

// rootSubject is the sub of a chain's root: its own, or that of its one
// disclosed delegate payload (AP2 roots carry their claims there).
func rootSubject(claims map[string]any) string {
	if s, ok := claims["sub"].(string); ok {
		return s
	}
	if list, _ := claims[sdjwt.ClaimDelegatePayload].([]any); len(list) == 1 {
		if m, ok := list[0].(map[string]any); ok {
			s, _ := m["sub"].(string)
			return s
		}
	}
	return ""
}

func printChain(w io.Writer, in *Inspection) {
	fmt.Fprintf(w, "hops:        %d\n", len(in.Hops))
	for i, h := range in.Hops {
		typ, _ := h.Header["typ"].(string)
		fmt.Fprintf(w, "hop %d:       typ %s", i+1, typ)
		if !jose.TypIs(typ, h.TypExpected) {
			fmt.Fprintf(w, " (this position requires %s)", h.TypExpected)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "  delegator:    %s\n", orNone(h.Delegator))
		fmt.Fprintf(w, "  delegate:     %s\n", orNone(h.Subject))
		switch {
		case h.Link == "":
			fmt.Fprintln(w, "  link:         NONE (neither sd_hash nor issuer_jwt_hash)")
		case h.LinkMatches:
			fmt.Fprintf(w, "  link:         %s matches the component before\n", h.Link)
		default:
			fmt.Fprintf(w, "  link:         %s DOES NOT match the component before\n", h.Link)
		}
		if h.Claims == nil {
			fmt.Fprintf(w, "  delegate payload: %d disclosed (exactly one must be)\n", h.DelegatePayloads)
			continue
		}
		if v, ok := h.Claims["vct"]; ok {
			fmt.Fprintf(w, "  vct:          %v\n", v)
		}
		for _, e := range []struct {
			name string
			at   *time.Time
		}{{"issued:", h.Times.IssuedAt}, {"expires:", h.Times.Expires}} {
			if e.at != nil {
				fmt.Fprintf(w, "  %-13s %s\n", e.name, e.at.Format(time.RFC3339))
			}
		}
		if h.Times.Expired {
			fmt.Fprintln(w, "                EXPIRED")
		}
		for _, k := range []struct{ claim, label string }{
			{"permissions", "permissions: "}, {"prohibitions", "prohibitions:"}, {"task", "task:        "}, {"on_behalf_of", "on behalf of:"}, {"cnf", "holder key:  "},
		} {
			if v, ok := h.Claims[k.claim]; ok {
				printJSONLine(w, "  "+k.label, v)
			}
		}
		if _, ok := h.Claims["cnf"]; !ok {
			fmt.Fprintln(w, "  holder key:   none (the delegate cannot delegate further or present)")
		}
		rest := map[string]any{}
		for k, v := range h.Claims {
			switch k {
			case "vct", "sub", "iat", "exp", "permissions", "prohibitions", "task", "on_behalf_of", "cnf":
			default:
				rest[k] = v
			}
		}
		if len(rest) > 0 {
			printJSONLine(w, "  other claims:", rest)
		}
	}
	if in.KeyBinding == nil {
		fmt.Fprintln(w, "key binding: none (a dSD-JWT: no final KB-JWT)")
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
