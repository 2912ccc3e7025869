package schemas_test

import (
	"errors"
	"fmt"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/schemas"
)

func Example() {
	reg, err := schemas.New()
	if err != nil {
		panic(err)
	}
	payload := map[string]any{
		"iss":       "did:web:issuer.acme.example",
		"iat":       1767225600,
		"exp":       1775001600,
		"vct":       schemas.AgentCertificationV1,
		"sub":       "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
		"cnf":       map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "Lm_M42cB3HkUiODQsXRcweM6TByfzEHGO9ND274JcOY"}},
		"principal": map[string]any{"id": "did:web:acme.example", "name": "ACME Corporation"},
		"agent":     map[string]any{"class": "invoice-assistant"},
		"permissions": []any{
			map[string]any{"action": "invoices:read"},
			map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": -5, "currency": "EUR"}},
		},
		"autonomy": "supervised",
	}

	err = reg.Validate(schemas.AgentCertificationV1, payload)
	fmt.Println(errcode.CodeOf(err))
	var ve *schemas.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Problems[0].Path)
	}

	ptrs, _ := reg.Disclosable(schemas.AgentCertificationV1, []string{"/principal/name"})
	fmt.Println(ptrs)

	_, err = reg.Disclosable(schemas.AgentCertificationV1, []string{"/prohibitions"})
	fmt.Println(errcode.CodeOf(err))
	// Output:
	// schema_invalid
	// /permissions/1/constraints/max_amount
	// [/permissions/* /principal/name]
	// not_disclosable
}
