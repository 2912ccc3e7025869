package verifier

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonstrict"
)

// Decision is the answer to "may this agent do this?".
type Decision struct {
	Action     string         `json:"action"`
	Allowed    bool           `json:"allowed"`
	Permission map[string]any `json:"permission,omitempty"` // the disclosed permission that allowed the action, or whose constraints failed
	Code       errcode.Code   `json:"code,omitempty"`       // action_not_permitted, action_prohibited, constraint_violated, approval_required or an approval_* refusal when denied
	Reason     string         `json:"reason"`
	// Reversibility is the permission's (reversible, compensable or
	// irreversible), or irreversible when the policy lists the action so.
	Reversibility string `json:"reversibility,omitempty"`
	// ApprovalRequest, on an approval_required decision, is what a person
	// of the principal is asked to approve (see package approval).
	ApprovalRequest *approval.Request `json:"approval_request,omitempty"`
	// Approval is the approval that allowed the action, when one was
	// needed.
	Approval *ApprovalInfo `json:"approval,omitempty"`
}

// Limits on numbers in claims and requests: a number with more characters
// or a larger exponent is treated as malformed, so that no input can make
// exact arithmetic expensive. They are the bounds every request body is
// decoded with.
const (
	maxNumberLen      = jsonstrict.MaxNumberLen
	maxNumberExponent = jsonstrict.MaxNumberExponent
)

// Authorize decides whether action may be taken, given the processed
// (verified, disclosed) claims of an agent certification and the attributes
// of the request (amount, currency, resource, ...; a request "action" member is
// ignored: action is the argument). It does no I/O and never fails: every
// problem is a denial with a code. For the Result of a delegation chain,
// decide on its Authority (the last hop's), not its Claims (the root
// certification's, which grant more): Verify with Request.Action does so.
//
// Authorization is default-deny. The rules, checked in this order:
//
//  1. Actions are "resource:verb" with resource and verb made of a-z, 0-9,
//     '_', '.' and '-'. The requested action must be concrete: a malformed
//     action, or one whose verb is "*", is denied with action_not_permitted.
//  2. Prohibitions win over permissions. A prohibition "resource:verb" matches
//     that action; "resource:*" matches every verb on the resource. A matching
//     prohibition denies with action_prohibited even when a permission
//     matches. A prohibitions claim that is not an array of well-formed action
//     strings (including "*" alone) denies every action with
//     action_prohibited: a restriction that cannot be read is taken to
//     restrict everything.
//  3. A task claim scopes the credential to one delegated task: when
//     task.expires (NumericDate, seconds) is at or before now, every action is
//     denied with action_not_permitted and reason "task expired". A task claim
//     that is not an object, or whose expires is not a number, denies the same
//     way. A task claim that is null states that the credential is not
//     scoped to a task. No leeway is applied; callers pass now adjusted by
//     their leeway.
//  4. A permission matches when its action equals the requested action or is
//     "resource:*" for the requested resource. Malformed permissions (not an
//     object, action not a string or not an action; "*" alone included) are
//     ignored: they grant nothing. No matching permission denies with
//     action_not_permitted.
//  5. A matching permission holds when its resource and constraints hold for
//     the request:
//     - resource: the request's "resource" must equal it, or, when the
//     permission's resource ends in "*", start with the part before the "*".
//     Before any comparison, a resource (requested or permitted) with a
//     "." or ".." segment, an empty segment, a backslash or a control
//     character, plain or percent-encoded (%2e, %2f, %5c, also under %25),
//     or with malformed percent-encoding, does not hold.
//     - constraints.max_amount: the request's "amount" must be present, a
//     non-negative number, and at most max_amount, compared exactly as
//     decimals (json.Number, float64 and integer types are accepted; floats
//     by their shortest decimal form).
//     - constraints.currency: the request's "currency" must be present and
//     equal to it (case-sensitive ISO 4217 code).
//     - constraints.approval ("always" or {"above_amount": n}) holds when it
//     is well formed; it decides whether approval is needed (rule 6).
//     - any other constraint key does not hold (fail closed), and neither do
//     constraints that are not an object.
//  6. A permission that holds needs a person's approval when its approval
//     constraint is "always", or {"above_amount": n} and the request's
//     amount is above n, negative or not a readable number.
//  7. The action is allowed when a matching permission holds and needs no
//     approval; the decision reports the first such one in disclosure
//     order. Otherwise, when a matching permission holds but needs
//     approval, the decision is approval_required (not allowed), reporting
//     the first such permission: the verifier allows it only with a valid
//     approval (Request.Approval). Otherwise it is denied with
//     constraint_violated, reporting the first matching permission and why
//     it does not hold.
//
// The decision's Reversibility is the reported permission's. A Verifier
// also applies its policy (Policy.ApproveIrreversible,
// Policy.IrreversibleActions), which Authorize alone does not.
func Authorize(claims map[string]any, action string, request map[string]any, now time.Time) Decision {
	return authorize(claims, action, request, now, authzOptions{})
}

func authorize(claims map[string]any, action string, request map[string]any, now time.Time, o authzOptions) Decision {
	d := Decision{Action: action}
	deny := func(code errcode.Code, format string, args ...any) Decision {
		d.Code, d.Reason = code, fmt.Sprintf(format, args...)
		return d
	}

	res, verb, ok := parseAction(action)
	if !ok || verb == "*" {
		return deny(errcode.ActionNotPermitted, "action %q is not a concrete resource:verb", action)
	}

	// 2. Prohibitions.
	if raw, present := claims["prohibitions"]; present {
		list, ok := asList(raw)
		if !ok {
			return deny(errcode.ActionProhibited, "prohibitions claim is malformed; every action is prohibited")
		}
		for i, p := range list {
			s, ok := p.(string)
			if !ok {
				return deny(errcode.ActionProhibited, "prohibitions[%d] is malformed; every action is prohibited", i)
			}
			pr, pv, ok := parseAction(s)
			if !ok {
				return deny(errcode.ActionProhibited, "prohibitions[%d] is malformed; every action is prohibited", i)
			}
			if actionMatches(pr, pv, res, verb) {
				return deny(errcode.ActionProhibited, "action %q is prohibited by %q", action, s)
			}
		}
	}

	// 3. Task scope.
	if raw, present := claims["task"]; present && raw != nil {
		task, ok := raw.(map[string]any)
		if !ok {
			return deny(errcode.ActionNotPermitted, "task claim is malformed")
		}
		if exp, present := task["expires"]; present {
			expires, ok := toRat(exp)
			if !ok {
				return deny(errcode.ActionNotPermitted, "task expires is malformed")
			}
			if timeRat(now).Cmp(expires) >= 0 {
				return deny(errcode.ActionNotPermitted, "task expired")
			}
		}
	}

	// 4. Permissions that match the action.
	perms, _ := asList(claims["permissions"])
	var matched []map[string]any
	for _, p := range perms {
		perm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		s, ok := perm["action"].(string)
		if !ok {
			continue
		}
		pr, pv, ok := parseAction(s)
		if !ok || !actionMatches(pr, pv, res, verb) {
			continue
		}
		matched = append(matched, perm)
	}
	if len(matched) == 0 {
		return deny(errcode.ActionNotPermitted, "no disclosed permission matches action %q", action)
	}

	// 5 to 7. The first matching permission that holds and needs no
	// approval allows the action.
	var firstReason, needWhy, needRev string
	var needy map[string]any
	for _, perm := range matched {
		why := holds(perm, request)
		if why == "" {
			rev := o.reversibilityOf(perm, res, verb)
			if need := needsApproval(perm, request, rev == Irreversible, o.approveIrreversible); need != "" {
				if needy == nil {
					needy, needWhy, needRev = perm, need, rev
				}
				continue
			}
			d.Allowed = true
			d.Permission = perm
			d.Reversibility = rev
			d.Reason = fmt.Sprintf("permitted by %q", perm["action"])
			return d
		}
		if firstReason == "" {
			firstReason = why
		}
	}
	if needy != nil {
		d.Permission, d.Reversibility = needy, needRev
		return deny(errcode.ApprovalRequired, "%s", needWhy)
	}
	d.Permission = matched[0]
	if n := len(matched) - 1; n > 0 {
		return deny(errcode.ConstraintViolated, "%s (%d more matching permissions do not hold either)", firstReason, n)
	}
	return deny(errcode.ConstraintViolated, "%s", firstReason)
}

// parseAction splits "resource:verb". The resource is one or more of
// [a-z0-9_.-]; the verb is "*" or one or more of the same characters.
func parseAction(s string) (resource, verb string, ok bool) {
	resource, verb, found := strings.Cut(s, ":")
	if !found || !isName(resource) || (verb != "*" && !isName(verb)) {
		return "", "", false
	}
	return resource, verb, true
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// actionMatches reports whether the pattern (a permission or prohibition)
// covers the concrete action res:verb.
func actionMatches(patRes, patVerb, res, verb string) bool {
	return patRes == res && (patVerb == "*" || patVerb == verb)
}

// asList accepts the array shapes claims take: []any from encoding/json, and
// []string or []map[string]any from Go callers.
func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	case []map[string]any:
		out := make([]any, len(l))
		for i, m := range l {
			out[i] = m
		}
		return out, true
	}
	return nil, false
}

// holds returns "" when the permission's resource and constraints hold for the
// request, or the reason they do not.
func holds(perm, request map[string]any) string {
	if want, present := perm["resource"]; present {
		if why := resourceHolds(want, request["resource"]); why != "" {
			return why
		}
	}
	raw, present := perm["constraints"]
	if !present {
		return ""
	}
	cons, ok := raw.(map[string]any)
	if !ok {
		return "permission constraints are malformed"
	}
	keys := make([]string, 0, len(cons))
	for k := range cons {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var why string
		switch k {
		case "max_amount":
			why = maxAmountHolds(cons[k], request)
		case "currency":
			why = currencyHolds(cons[k], request)
		case "approval":
			why = approvalHolds(cons[k])
		default:
			why = fmt.Sprintf("unknown constraint %q", k)
		}
		if why != "" {
			return why
		}
	}
	return ""
}

func resourceHolds(want, got any) string {
	w, ok := want.(string)
	if !ok || w == "" {
		return "permission resource is malformed"
	}
	if got == nil {
		return fmt.Sprintf("request names no resource; the permission covers %q", w)
	}
	g, ok := got.(string)
	if !ok {
		return "request resource is not a string"
	}
	if why := resourceProblem(strings.TrimSuffix(strings.TrimSuffix(w, "*"), "/")); why != "" {
		return "permission resource is malformed: it has " + why
	}
	if why := resourceProblem(g); why != "" {
		return fmt.Sprintf("resource %q is not covered by %q: it has %s, which could step out of what a permission names", g, w, why)
	}
	if g == w {
		return ""
	}
	if prefix, wild := strings.CutSuffix(w, "*"); wild && strings.HasPrefix(g, prefix) {
		return ""
	}
	return fmt.Sprintf("resource %q is not covered by %q", g, w)
}

// maxDecodeRounds is how many layers of percent-encoding resourceProblem
// looks through.
const maxDecodeRounds = 3

// resourceProblem says why a resource cannot be compared safely with a
// permission's, or returns "". A resource server may normalize a path
// before it acts on it, so anything that normalization could turn into a
// step outside a prefix is refused before matching: "." and ".." segments,
// empty segments, backslashes and control characters, plain or
// percent-encoded (%2e, %2f, %5c, and the same inside %25), and malformed
// percent-encoding. A leading "/" and a leading "scheme://" are allowed.
func resourceProblem(r string) string {
	cur := r
	for round := 0; ; round++ {
		what := ""
		for i := 0; i < len(cur); i++ {
			if c := cur[i]; c == '\\' {
				what = "a backslash"
			} else if c < 0x20 || c == 0x7f {
				what = "a control character"
			}
		}
		if what == "" {
			what = segmentProblem(cur)
		}
		if what != "" {
			if round > 0 {
				return "a percent-encoded " + strings.TrimPrefix(strings.TrimPrefix(what, "an "), "a ")
			}
			return what
		}
		if !strings.Contains(cur, "%") {
			return ""
		}
		if round == maxDecodeRounds {
			return "percent-encoding nested too deep"
		}
		dec, err := url.PathUnescape(cur)
		if err != nil {
			return "malformed percent-encoding"
		}
		if strings.Count(dec, "/") != strings.Count(cur, "/") {
			return "a percent-encoded slash"
		}
		cur = dec
	}
}

// segmentProblem finds dot segments and empty segments in a path.
func segmentProblem(p string) string {
	if i := strings.Index(p, "://"); i > 0 && isScheme(p[:i]) {
		p = p[i+3:]
	}
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return ""
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return "an empty segment"
		case ".", "..":
			return "a dot segment"
		}
	}
	return ""
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

func maxAmountHolds(limitRaw any, request map[string]any) string {
	limit, ok := toRat(limitRaw)
	if !ok || limit.Sign() < 0 {
		return "constraint max_amount is malformed"
	}
	raw, present := request["amount"]
	if !present {
		return "request has no amount; the permission limits it"
	}
	amount, ok := toRat(raw)
	if !ok {
		return "request amount is not a number"
	}
	if amount.Sign() < 0 {
		return "request amount is negative"
	}
	if amount.Cmp(limit) > 0 {
		return fmt.Sprintf("amount %v exceeds max_amount %v", raw, limitRaw)
	}
	return ""
}

func currencyHolds(want any, request map[string]any) string {
	w, ok := want.(string)
	if !ok {
		return "constraint currency is malformed"
	}
	raw, present := request["currency"]
	if !present {
		return fmt.Sprintf("request has no currency; the permission requires %s", w)
	}
	g, ok := raw.(string)
	if !ok {
		return "request currency is not a string"
	}
	if g != w {
		return fmt.Sprintf("currency %q is not %q", g, w)
	}
	return ""
}

// toRat converts a JSON number to an exact rational. Strings are not numbers.
func toRat(v any) (*big.Rat, bool) {
	switch n := v.(type) {
	case json.Number:
		return decimalRat(string(n))
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, false
		}
		return decimalRat(strconv.FormatFloat(n, 'g', -1, 64))
	case float32:
		f := float64(n)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, false
		}
		return decimalRat(strconv.FormatFloat(f, 'g', -1, 32))
	case int:
		return new(big.Rat).SetInt64(int64(n)), true
	case int8:
		return new(big.Rat).SetInt64(int64(n)), true
	case int16:
		return new(big.Rat).SetInt64(int64(n)), true
	case int32:
		return new(big.Rat).SetInt64(int64(n)), true
	case int64:
		return new(big.Rat).SetInt64(n), true
	case uint:
		return new(big.Rat).SetUint64(uint64(n)), true
	case uint8:
		return new(big.Rat).SetUint64(uint64(n)), true
	case uint16:
		return new(big.Rat).SetUint64(uint64(n)), true
	case uint32:
		return new(big.Rat).SetUint64(uint64(n)), true
	case uint64:
		return new(big.Rat).SetUint64(n), true
	}
	return nil, false
}

// decimalRat parses a JSON number (RFC 8259 grammar, which excludes the
// fractions, hexadecimal and underscores big.Rat.SetString would take),
// bounded in length and exponent.
func decimalRat(s string) (*big.Rat, bool) {
	if len(s) == 0 || len(s) > maxNumberLen {
		return nil, false
	}
	i := 0
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	start := i
	n := digits()
	if n == 0 || (n > 1 && s[start] == '0') {
		return nil, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return nil, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		expStart := i
		if digits() == 0 {
			return nil, false
		}
		exp, err := strconv.Atoi(s[expStart:i])
		if err != nil || exp > maxNumberExponent {
			return nil, false
		}
	}
	if i != len(s) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// timeRat is t as seconds since the Unix epoch, exactly.
func timeRat(t time.Time) *big.Rat {
	r := new(big.Rat).SetFrac(big.NewInt(int64(t.Nanosecond())), big.NewInt(int64(time.Second)))
	return r.Add(r, new(big.Rat).SetInt64(t.Unix()))
}
