package verifier

import (
	"context"
	"fmt"

	"github.com/agentcert/agentcert/receipt"
)

// Verify runs every step — presentation (signature, disclosures, key
// binding), trust, required claims, status, authorization — and always
// returns a result; a failure is in Result.Error with its code. With
// WithReceipts, the result carries the signed receipt of the
// decision (a receipt that cannot be signed is an internal error in the
// result, never a silent omission).
func (v *Verifier) Verify(ctx context.Context, req Request) *Result {
	res := v.verify(ctx, req)
	if v.s.receipts == nil {
		return res
	}
	c, err := ReceiptClaims(req, res, v.policyDigest)
	if err == nil {
		res.Receipt, err = v.s.receipts.Sign(c)
	}
	if err != nil {
		res.Receipt = ""
		return res.fail(fmt.Errorf("verifier: receipt: %w", err))
	}
	return res
}

// maxReceiptDescription bounds a receipt's error_description.
const maxReceiptDescription = 512

// PolicyDigest is the JCS digest of a policy as it is in force, which a
// receipt names so that the rules of a decision can be shown later.
func PolicyDigest(p Policy) (string, error) {
	// The policy's rules, without what cannot be encoded (a restriction's
	// Absent function, which says what issuance fills in, not what a
	// verifier accepts).
	type restriction struct {
		Claim    string `json:"claim"`
		Elements bool   `json:"elements,omitempty"`
		Required bool   `json:"required,omitempty"`
	}
	type view struct {
		Policy
		Restrictions map[string][]restriction
	}
	v := view{Policy: p, Restrictions: map[string][]restriction{}}
	for vct, rs := range p.Restrictions {
		for _, r := range rs {
			v.Restrictions[vct] = append(v.Restrictions[vct], restriction{Claim: r.Claim, Elements: r.Elements, Required: r.Required})
		}
	}
	d, err := receipt.JSONDigest(v)
	if err != nil {
		return "", fmt.Errorf("verifier: policy digest: %w", err)
	}
	return d, nil
}

// ReceiptClaims are the claims of the receipt of res, the result of req.
// Only what verified is named: a presentation whose signature did not
// verify gets a receipt with its reference and error alone.
func ReceiptClaims(req Request, res *Result, policyDigest string) (receipt.Claims, error) {
	return receiptClaims(req, res, policyDigest, receipt.Reference(req.Presentation), receipt.CredentialID(req.Presentation))
}

// receiptClaims is ReceiptClaims for a presentation whose reference and
// credential id are known (a session's, on the agent channel).
func receiptClaims(req Request, res *Result, policyDigest, ref, credID string) (receipt.Claims, error) {
	c := receipt.Claims{Result: receipt.Success, Reference: ref, Audience: req.Audience,
		Action: req.Action, PolicyDigest: policyDigest}
	if req.Attributes != nil {
		d, err := receipt.JSONDigest(req.Attributes)
		if err != nil {
			return receipt.Claims{}, err
		}
		c.RequestDigest = d
	}
	switch {
	case res.Error != nil:
		c.Result, c.Error, c.ErrorDescription = receipt.Error, string(res.Error.Code), res.Error.Message
	case res.Decision != nil && !res.Decision.Allowed:
		c.Result, c.Error, c.ErrorDescription = receipt.Error, string(res.Decision.Code), res.Decision.Reason
	}
	if len(c.ErrorDescription) > maxReceiptDescription {
		c.ErrorDescription = c.ErrorDescription[:maxReceiptDescription]
	}
	if d := res.Decision; d != nil {
		c.Decision = &receipt.Decision{Allowed: d.Allowed, Reason: string(d.Code)}
		switch {
		case d.Approval != nil:
			c.Approval = &receipt.Approval{Digest: d.Approval.Digest, Nonce: d.Approval.Nonce, Principal: d.Approval.Principal, Approver: d.Approval.Approver}
		case d.ApprovalRequest != nil:
			c.Approval = &receipt.Approval{Digest: d.ApprovalRequest.Digest, Nonce: d.ApprovalRequest.Nonce, Principal: d.ApprovalRequest.Principal}
		}
	}
	if res.Status.Checked {
		c.Status = &receipt.Status{Checked: true, Value: res.Status.Value}
		if res.Status.AsOf != nil {
			c.Status.AsOf = res.Status.AsOf.Unix()
		}
		if res.Status.FetchedAt != nil {
			c.Status.FetchedAt = res.Status.FetchedAt.Unix()
		}
	}
	if res.Claims == nil || res.Issuer == "" {
		return c, nil
	}
	c.Subject = res.Subject
	if len(res.Chain) > 0 {
		// A chain: the presenter is the last delegate; the chain names
		// every subject from the certified agent on.
		c.Chain = []string{res.Subject}
		for _, h := range res.Chain {
			c.Chain = append(c.Chain, h.Subject)
		}
		c.Subject = c.Chain[len(c.Chain)-1]
	}
	c.Credential = &receipt.Credential{Issuer: res.Issuer, ID: credID, VCT: res.VCT}
	if st, ok := res.Claims["status"].(map[string]any); ok {
		if sl, ok := st["status_list"].(map[string]any); ok {
			uri, _ := sl["uri"].(string)
			if idx, err := toIndex(sl["idx"]); err == nil && uri != "" {
				c.Credential.StatusList = &receipt.StatusRef{URI: uri, Idx: idx}
			}
		}
	}
	if p, ok := res.Claims["principal"].(map[string]any); ok {
		c.Principal, _ = p["id"].(string)
	}
	if a, ok := res.Claims["agent"].(map[string]any); ok {
		var ag receipt.Agent
		ag.Class, _ = a["class"].(string)
		ag.Version, _ = a["version"].(string)
		if ag != (receipt.Agent{}) {
			c.Agent = &ag
		}
	}
	return c, nil
}
