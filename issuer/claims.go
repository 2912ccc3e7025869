package issuer

import (
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonptr"
	"github.com/agentcert/agentcert/schemas"
)

// CheckPayload is the one validation every issuance path runs, the service
// and the offline `agentcert issue` alike, on the complete payload about to
// be signed: the restricting claims a request leaves out are stated in
// clear (schemas.StateRestrictions), the selectively disclosable pointers
// are checked against the type metadata, and the payload against the JSON
// Schema of vct. It returns the pointers to make selectively disclosable
// (those the type metadata marks "always" included). A vct the registry
// does not know is refused (invalid_input), and so is a pointer that
// addresses no claim of payload: signing would refuse it, after a status
// index was spent and after Check had passed the request.
func CheckPayload(reg *schemas.Registry, vct string, payload map[string]any, disclosable []string) ([]string, error) {
	schemas.StateRestrictions(vct, payload)
	sd, err := reg.Disclosable(vct, disclosable)
	if err != nil {
		return nil, err
	}
	if err := reg.Validate(vct, payload); err != nil {
		return nil, err
	}
	for _, p := range sd {
		toks, err := jsonptr.Parse(p)
		if err != nil {
			return nil, err
		}
		// A final "*" over an array stands for its elements, none or many
		// (jsonptr.Exists reads it so); every other token must exist, as
		// sdjwt.Issue requires.
		if !jsonptr.Exists(payload, toks) {
			return nil, errcode.New(errcode.InvalidInput, "selectively_disclosable %q addresses no claim of the credential", p)
		}
	}
	return sd, nil
}
