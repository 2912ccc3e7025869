// Package schemas holds the credential types agentcert issues: for each vct, a
// JSON Schema (draft 2020-12) of the complete payload and the SD-JWT VC type
// metadata (draft-ietf-oauth-sd-jwt-vc, "Type Metadata") that says which
// claims are selectively disclosable. Both are embedded and versioned:
//
//	agent-certification/v1/schema.json         JSON Schema of the payload
//	agent-certification/v1/type-metadata.json  vct urn:agentcert:agent-certification:v1
//	agent-certification/v1/example.json        a payload that validates
//
// The issuer uses a Registry in two steps before it signs:
//
//	reg, err := schemas.New()
//	// 1. The payload must validate; the error names the failing JSON Pointer.
//	if err := reg.Validate(schemas.AgentCertificationV1, payload); err != nil {
//		return err // errcode schema_invalid; errors.As gives *schemas.ValidationError
//	}
//	// 2. The type metadata decides what may be selectively disclosable.
//	ptrs, err := reg.Disclosable(schemas.AgentCertificationV1, requested)
//	if err != nil {
//		return err // errcode not_disclosable for a "never" claim
//	}
//	// ptrs goes to sdjwt.Issue.
//
// Validation happens on the plain payload, before selective-disclosure
// processing: _sd, _sd_alg and "..." entries are not allowed by the schema.
// Objects refuse unknown members, so a typo fails instead of silently granting
// nothing; permission constraints are a closed list (max_amount, currency),
// because a verifier must never meet a constraint it cannot enforce.
//
// # Disclosure rules of the agent certification
//
// Each permission element is always selectively disclosable, so an agent shows
// a counterparty only the permissions that matter to it. Everything that
// restricts the agent is never selectively disclosable, so that withholding a
// disclosure can never widen what the agent may do: prohibitions, autonomy,
// task, and the action, resource and constraints inside a permission. The
// registered claims iss, iat, nbf, exp, jti, vct, vct#integrity, cnf, status
// and sub are never selectively disclosable either. principal, on_behalf_of
// and agent (and their members) are allowed: the issuer decides.
//
// # Serving type metadata
//
// FS returns the embedded tree; the server mounts it at /vct/, so the type
// metadata of the agent certification is at
// /vct/agent-certification/v1/type-metadata.json and its schema at
// /vct/agent-certification/v1/schema.json. The vct is a URN, not a URL: a
// consumer finds the document by that path (or from a local copy), never by
// dereferencing the vct. Registry.Path maps a vct to its directory.
package schemas
