package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/revocation"
)

// StatusInfo states what was learned about revocation, and how fresh it is.
type StatusInfo struct {
	Checked   bool       `json:"checked"`
	Value     string     `json:"value,omitempty"` // valid | revoked | suspended | status_N
	AsOf      *time.Time `json:"as_of,omitempty"`
	FetchedAt *time.Time `json:"fetched_at,omitempty"`
}

// checkStatus fills res.Status; revoked and suspended are errors.
func (v *Verifier) checkStatus(ctx context.Context, res *Result) error {
	if !v.p.CheckStatus {
		return nil
	}
	st, ok := res.Claims["status"].(map[string]any)
	if !ok {
		// Fail closed: the reference may have been withheld by the holder.
		return errcode.New(errcode.StatusInvalid, "the credential carries no status reference, so its revocation status cannot be checked")
	}
	sl, ok := st["status_list"].(map[string]any)
	if !ok {
		return errcode.New(errcode.StatusInvalid, "status has no status_list reference")
	}
	uri, _ := sl["uri"].(string)
	idx, err := toIndex(sl["idx"])
	if uri == "" || err != nil {
		return errcode.New(errcode.StatusInvalid, "status_list needs a uri and a non-negative integer idx")
	}
	s, local, err := v.localStatus(ctx, uri, idx, res.Issuer)
	if !local {
		s, err = v.status.Status(ctx, revocation.Reference{URI: uri, Idx: idx}, res.Issuer)
	}
	if err != nil {
		return err
	}
	asOf, fetched := s.AsOf, s.FetchedAt
	res.Status = StatusInfo{Checked: true, Value: revocation.StatusName(s.Value), AsOf: &asOf, FetchedAt: &fetched}
	res.statusUntil = s.UsableUntil
	switch s.Value {
	case revocation.StatusValid:
		return nil
	case revocation.StatusRevoked:
		return errcode.New(errcode.Revoked, "the credential is revoked")
	case revocation.StatusSuspended:
		return errcode.New(errcode.Suspended, "the credential is suspended")
	}
	return errcode.New(errcode.StatusInvalid, "unknown status value %d", s.Value)
}

func toIndex(v any) (int, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return x, nil
	default:
		return 0, errors.New("not a number")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("not a non-negative integer")
	}
	return n, nil
}
