package schemas

// Restriction is a top-level claim whose absence would widen what the
// holder may do. The issuer never makes it selectively disclosable (the
// type metadata marks it "never"), states it even when the request leaves
// it out, and a verifier refuses a credential of the vct when the claim
// could have been withheld: the one list both sides read.
type Restriction struct {
	// Claim is the top-level claim name.
	Claim string
	// Elements marks an array claim whose elements may be selectively
	// disclosable (an element not shown grants nothing) but whose every
	// element must be in clear inside (a permission's constraints cannot
	// be withheld while the permission is shown).
	Elements bool
	// Required: the claim must be present. Otherwise its absence is
	// accepted only when it is provable: nothing at the top level of the
	// issuer-signed payload is withheld.
	Required bool
	// Absent returns the value the issuer states when a request leaves the
	// claim out ("none", in clear), or is nil when the claim has no such
	// value (the schema requires it).
	Absent func() any
}

// restricting lists, per vct, the claims whose absence widens authority.
// A delegation hop's are whole claims: nothing inside a hop may be
// selectively disclosable, not even one permission.
var restricting = map[string][]Restriction{
	AgentCertificationV1: {
		{Claim: "prohibitions", Required: true, Absent: func() any { return []any{} }},
		{Claim: "task", Absent: func() any { return nil }},
		{Claim: "permissions", Elements: true, Required: true},
	},
	DelegationV1: {
		{Claim: "permissions", Required: true},
		{Claim: "prohibitions", Required: true, Absent: func() any { return []any{} }},
		{Claim: "task"},
		{Claim: "on_behalf_of"},
	},
}

// RestrictingClaims returns the restricting claims of vct (none for a vct
// that has no such list).
func RestrictingClaims(vct string) []Restriction {
	return append([]Restriction(nil), restricting[vct]...)
}

// StateRestrictions adds to payload, a credential of vct about to be
// checked and signed, every restricting claim it leaves out that has an
// Absent value.
func StateRestrictions(vct string, payload map[string]any) {
	for _, r := range restricting[vct] {
		if _, ok := payload[r.Claim]; !ok && r.Absent != nil {
			payload[r.Claim] = r.Absent()
		}
	}
}
