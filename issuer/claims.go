package issuer

import (
	"github.com/agentcert/agentcert/schemas"
)

// CheckPayload is the one validation every issuance path runs, the service
// and the offline `agentcert issue` alike, on the complete payload about to
// be signed: the restricting claims a request leaves out are stated in
// clear (schemas.StateRestrictions), the selectively disclosable pointers
// are checked against the type metadata, and the payload against the JSON
// Schema of vct. It returns the pointers to make selectively disclosable
// (those the type metadata marks "always" included). A vct the registry
// does not know is refused (invalid_input).
func CheckPayload(reg *schemas.Registry, vct string, payload map[string]any, disclosable []string) ([]string, error) {
	schemas.StateRestrictions(vct, payload)
	sd, err := reg.Disclosable(vct, disclosable)
	if err != nil {
		return nil, err
	}
	if err := reg.Validate(vct, payload); err != nil {
		return nil, err
	}
	return sd, nil
}
