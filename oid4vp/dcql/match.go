package dcql

import (
	"encoding/json"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/internal/jsonval"
	"math/big"
	"slices"
	"strconv"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonptr"
)

// Selected is one value a claim path selects, with its concrete location.
type Selected struct {
	Pointer jsonptr.Pointer
	Value   any
}

// Select applies a claims path pointer to v (decoded JSON) as section 7
// says: a string selects that key of each selected object, nil every
// element of each selected array, an integer that element. Components that
// do not apply to a selected value (a key of an array, an index out of
// range) drop it. The result is empty when the path selects nothing.
func Select(v any, p Path) []Selected {
	cur := []Selected{{Value: v}}
	for _, comp := range p {
		var next []Selected
		for _, s := range cur {
			switch c := comp.(type) {
			case string:
				if m, ok := s.Value.(map[string]any); ok {
					if x, ok := m[c]; ok {
						next = append(next, Selected{Pointer: child(s.Pointer, c), Value: x})
					}
				}
			case nil:
				if a, ok := s.Value.([]any); ok {
					for i, x := range a {
						next = append(next, Selected{Pointer: child(s.Pointer, strconv.Itoa(i)), Value: x})
					}
				}
			case int:
				if a, ok := s.Value.([]any); ok && c < len(a) {
					next = append(next, Selected{Pointer: child(s.Pointer, strconv.Itoa(c)), Value: a[c]})
				}
			}
		}
		cur = next
	}
	return cur
}

func child(p jsonptr.Pointer, tok string) jsonptr.Pointer {
	return append(slices.Clip(p), tok)
}

// selectClaim selects the values of claim c in claims, keeping only those
// equal to one of c.Values when it lists any.
func selectClaim(claims map[string]any, c ClaimQuery) []Selected {
	sel := Select(claims, c.Path)
	if len(c.Values) == 0 {
		return sel
	}
	var out []Selected
	for _, s := range sel {
		if slices.ContainsFunc(c.Values, func(want any) bool { return sameScalar(s.Value, want) }) {
			out = append(out, s)
		}
	}
	return out
}

// sameScalar compares a claim value with a query value: same JSON type and
// value (numbers compared by their exact decimal value).
func sameScalar(got, want any) bool {
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		return ok && g == w
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case json.Number:
		return sameNumber(got, w)
	}
	return false
}

// sameNumber reports whether the claim value got is the number want,
// exactly: 100, 100.0 and 1e2 are one value, while two integers past 2^53
// (or two decimals) that round to one float64 are not.
func sameNumber(got any, want json.Number) bool {
	var g string
	switch x := got.(type) {
	case json.Number:
		g = x.String()
	case float64:
		g = strconv.FormatFloat(x, 'g', -1, 64)
	case int:
		g = strconv.Itoa(x)
	case int64:
		g = strconv.FormatInt(x, 10)
	default:
		return false
	}
	if g == want.String() {
		return true
	}
	a, ok1 := exactNumber(g)
	b, ok2 := exactNumber(want.String())
	return ok1 && ok2 && a.Cmp(b) == 0
}

// exactNumber reads a JSON number exactly; ok is false for anything else,
// or one past jsonstrict's bounds on length and exponent (compared by text
// only: a big.Rat of 1e999999999 would be huge).
func exactNumber(s string) (*big.Rat, bool) {
	if !jsonval.ValidNumber(s) || jsonstrict.CheckNumber(s) != nil {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

// options lists the claim combinations of c in order of preference: its
// claim_sets, or all of its claims as the one option. nil when c asks for
// no claims.
func (c *CredentialQuery) options() [][]int {
	if len(c.Claims) == 0 {
		return nil
	}
	if len(c.ClaimSets) == 0 {
		all := make([]int, len(c.Claims))
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	byID := map[string]int{}
	for i, cl := range c.Claims {
		if cl.ID != "" {
			byID[cl.ID] = i
		}
	}
	out := make([][]int, 0, len(c.ClaimSets))
	for _, set := range c.ClaimSets {
		o := make([]int, 0, len(set))
		for _, id := range set {
			o = append(o, byID[id]) // Validate checked that each is defined
		}
		out = append(out, o)
	}
	return out
}

// satisfy returns the pointers to disclose so that claims satisfy c with
// the least: the selections of the first option whose every claim selects
// something. ok is false when no option can be satisfied.
func (c *CredentialQuery) satisfy(claims map[string]any) (ptrs []jsonptr.Pointer, ok bool) {
	opts := c.options()
	if opts == nil {
		return nil, true
	}
	for _, o := range opts {
		var out []jsonptr.Pointer
		all := true
		for _, i := range o {
			sel := selectClaim(claims, c.Claims[i])
			if len(sel) == 0 {
				all = false
				break
			}
			for _, s := range sel {
				out = append(out, s.Pointer)
			}
		}
		if all {
			return out, true
		}
	}
	return nil, false
}

// Credential is one credential a holder could present: its vct and its
// claims with every disclosure applied.
type Credential struct {
	VCT    string
	Claims map[string]any
}

// Choice is one presentation the holder makes: for credential query
// QueryID, the credential at index Credential of the holder's list,
// disclosing the values at Pointers (nothing but what is clear when empty).
type Choice struct {
	QueryID    string
	Credential int
	Pointers   []jsonptr.Pointer
}

// Pick decides what a holder of creds presents for q, disclosing the least
// that satisfies it: for each credential query it takes the first
// credential of an accepted vct that satisfies the first claim option it
// can; then it presents the queries of the first satisfiable option of each
// required credential set (all queries when there are no sets), and none of
// the optional ones. Errors: query_unsatisfied.
func Pick(q *Query, creds []Credential) ([]Choice, error) {
	found := map[string]Choice{}
	for _, c := range q.Credentials {
		for i, cr := range creds {
			if !slices.Contains(c.Meta.VCTValues, cr.VCT) {
				continue
			}
			if ptrs, ok := c.satisfy(cr.Claims); ok {
				found[c.ID] = Choice{QueryID: c.ID, Credential: i, Pointers: ptrs}
				break
			}
		}
	}
	var want []string
	if len(q.CredentialSets) == 0 {
		for _, c := range q.Credentials {
			if _, ok := found[c.ID]; !ok {
				return nil, errcode.New(errcode.QueryUnsatisfied, "no credential satisfies credential query %q", c.ID)
			}
			want = append(want, c.ID)
		}
	} else {
		for i, s := range q.CredentialSets {
			if !s.IsRequired() {
				continue
			}
			o := slices.IndexFunc(s.Options, func(o []string) bool {
				return !slices.ContainsFunc(o, func(id string) bool { _, ok := found[id]; return !ok })
			})
			if o < 0 {
				return nil, errcode.New(errcode.QueryUnsatisfied, "no option of credential set %d can be satisfied", i)
			}
			for _, id := range s.Options[o] {
				if !slices.Contains(want, id) {
					want = append(want, id)
				}
			}
		}
	}
	out := make([]Choice, 0, len(want))
	for _, id := range want {
		out = append(out, found[id])
	}
	return out, nil
}

// Presented is one verified presentation as the verifier sees it: its vct,
// the claims it discloses (clear and disclosed together), the location of
// each disclosure in them, and whether it carried key binding.
type Presented struct {
	VCT         string
	Claims      map[string]any
	Disclosed   []jsonptr.Pointer
	HolderBound bool
}

// Check decides whether the presentations of a response, by credential
// query id, satisfy q and disclose nothing it did not ask for:
//
//   - every id is one of q's credential queries, with one presentation
//     unless the query allows multiple;
//   - each presentation has an accepted vct, key binding when the query
//     requires it, and satisfies one claim option of its query;
//   - each disclosure lies on a branch of a value some claim of that one
//     option selects (the container of a requested claim, the claim, or
//     inside it); a disclosure beyond, claims of another option among
//     them, is over_disclosure. Claims the issuer put in clear are not
//     disclosures and never count;
//   - the presented ids satisfy every required credential set, and each
//     is named by some set (or, with no sets, every credential query is
//     presented).
//
// Errors: query_unsatisfied, over_disclosure.
func (q *Query) Check(resp map[string][]Presented) error {
	for id, ps := range resp {
		c, ok := q.Credential(id)
		if !ok {
			return errcode.New(errcode.QueryUnsatisfied, "the response presents %q, which the query does not ask for", id)
		}
		if len(ps) == 0 || (len(ps) > 1 && !c.Multiple) {
			return errcode.New(errcode.QueryUnsatisfied, "credential query %q takes one presentation, not %d", id, len(ps))
		}
		for _, p := range ps {
			if err := c.check(p); err != nil {
				return err
			}
		}
	}
	has := func(id string) bool { return len(resp[id]) > 0 }
	if len(q.CredentialSets) == 0 {
		for _, c := range q.Credentials {
			if !has(c.ID) {
				return errcode.New(errcode.QueryUnsatisfied, "credential query %q is not answered", c.ID)
			}
		}
		return nil
	}
	// A credential query no set names is not asked for (section 6.4.2).
	for id := range resp {
		if !slices.ContainsFunc(q.CredentialSets, func(s CredentialSet) bool {
			return slices.ContainsFunc(s.Options, func(o []string) bool { return slices.Contains(o, id) })
		}) {
			return errcode.New(errcode.QueryUnsatisfied, "the response presents %q, which no credential set asks for", id)
		}
	}
	for i, s := range q.CredentialSets {
		if !s.IsRequired() {
			continue
		}
		if !slices.ContainsFunc(s.Options, func(o []string) bool { return !slices.ContainsFunc(o, func(id string) bool { return !has(id) }) }) {
			return errcode.New(errcode.QueryUnsatisfied, "no option of required credential set %d is answered", i)
		}
	}
	return nil
}

func (c *CredentialQuery) check(p Presented) error {
	if !slices.Contains(c.Meta.VCTValues, p.VCT) {
		return errcode.New(errcode.QueryUnsatisfied, "credential query %q: vct %q is not one it accepts", c.ID, p.VCT)
	}
	if c.HolderBinding() && !p.HolderBound {
		return errcode.New(errcode.QueryUnsatisfied, "credential query %q requires key binding", c.ID)
	}
	opts := c.options()
	if opts == nil {
		opts = [][]int{nil} // no claims: nothing may be disclosed
	}
	// The query asks for one option (claim_sets: one combination of
	// claims): some option must be satisfied and cover every disclosure,
	// so that claims of two alternatives, or of an option not satisfied,
	// are not disclosed together.
	var over error
	for _, o := range opts {
		var asked []jsonptr.Pointer
		all := true
		for _, i := range o {
			sel := selectClaim(p.Claims, c.Claims[i])
			if len(sel) == 0 {
				all = false
				break
			}
			for _, s := range sel {
				asked = append(asked, s.Pointer)
			}
		}
		if !all {
			continue
		}
		i := slices.IndexFunc(p.Disclosed, func(d jsonptr.Pointer) bool {
			return !slices.ContainsFunc(asked, func(a jsonptr.Pointer) bool { return jsonptr.Related(p.Claims, a, d) })
		})
		if i < 0 {
			return nil
		}
		if over == nil {
			over = errcode.New(errcode.OverDisclosure, "credential query %q: the presentation discloses %s, which the query does not ask for", c.ID, p.Disclosed[i].String())
		}
	}
	if over == nil {
		return errcode.New(errcode.QueryUnsatisfied, "credential query %q: the presentation does not disclose the claims it asks for", c.ID)
	}
	return over
}
