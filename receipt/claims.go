package receipt

import (
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// Typ is the JWT typ header of a receipt.
const Typ = "agentcert-receipt+jwt"

// Result values, as in an AP2 Mandate Receipt.
const (
	Success = "success"
	Error   = "error"
)

// Claims is a receipt's payload. The first block is AP2's Mandate Receipt;
// the rest is agentcert's. Empty members are left out.
type Claims struct {
	Issuer           string `json:"iss"`
	IssuedAt         int64  `json:"iat"`
	ID               string `json:"jti"`
	Result           string `json:"result"`              // success | error
	Reference        string `json:"reference,omitempty"` // Reference of the presented SD-JWT
	Error            string `json:"error,omitempty"`     // the stable code, on error
	ErrorDescription string `json:"error_description,omitempty"`

	Audience      string      `json:"audience,omitempty"`   // the audience the presentation was checked for
	Credential    *Credential `json:"credential,omitempty"` // absent when nothing could be read
	Subject       string      `json:"subject,omitempty"`    // the agent (the last subject of a chain)
	Principal     string      `json:"principal,omitempty"`  // principal.id
	Agent         *Agent      `json:"agent,omitempty"`
	Chain         []string    `json:"chain,omitempty"` // subjects of a delegation chain, root first
	Action        string      `json:"action,omitempty"`
	RequestDigest string      `json:"request_digest,omitempty"` // Digest of the request object
	Decision      *Decision   `json:"decision,omitempty"`
	Approval      *Approval   `json:"approval,omitempty"` // the approval asked for or used
	PolicyDigest  string      `json:"policy_digest,omitempty"`
	Status        *Status     `json:"status,omitempty"`
	// Channel is set when the request came signed on the agent channel
	// (HTTP Message Signatures, RFC 9421) rather than with a presentation
	// alone.
	Channel *Channel `json:"channel,omitempty"`
}

// Channel describes a signed request of the agent channel.
type Channel struct {
	// KeyID is the signature's keyid: the RFC 7638 thumbprint of the key it
	// claims to be made with (absent when none could be read).
	KeyID   string `json:"keyid,omitempty"`
	Tag     string `json:"tag,omitempty"`     // the signature's tag
	Created int64  `json:"created,omitempty"` // the signature's created
	Nonce   string `json:"nonce,omitempty"`   // the signature's nonce, single use per key
	// Presented says that the request carried the presentation itself
	// (and opened the session); false for a request signed in a session.
	Presented bool `json:"presented"`
	// Bound says that the signature verified under the cnf key of the
	// credential the receipt names: the request is bound to it.
	Bound bool `json:"bound"`
}

// Credential identifies the credential a receipt is about.
type Credential struct {
	Issuer string `json:"iss"`
	// ID is the base64url SHA-256 of the exact issuer-signed JWT bytes.
	ID  string `json:"id"`
	VCT string `json:"vct,omitempty"`
	// StatusList is the credential's status reference, which lets its
	// issuer find its record.
	StatusList *StatusRef `json:"status_list,omitempty"`
}

// StatusRef is a Token Status List reference.
type StatusRef struct {
	URI string `json:"uri"`
	Idx int    `json:"idx"`
}

// Agent is what the credential says about the agent instance.
type Agent struct {
	Class   string `json:"class,omitempty"`
	Version string `json:"version,omitempty"`
}

// Decision is the authorization decision for Action.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"` // a code when denied
}

// Approval records a person's approval of the action: on an
// approval_required decision, the approval request (digest and nonce, no
// approver); on an allowed one, the approval used, with its approver.
type Approval struct {
	Digest    string `json:"digest"` // JCS digest of the request object
	Nonce     string `json:"nonce"`
	Principal string `json:"principal,omitempty"`
	Approver  string `json:"approver,omitempty"` // the approver's DID, when an approval was used
}

// Status is what was learned about revocation, and how fresh it was.
type Status struct {
	Checked   bool   `json:"checked"`
	Value     string `json:"value,omitempty"`
	AsOf      int64  `json:"as_of,omitempty"`
	FetchedAt int64  `json:"fetched_at,omitempty"`
}

// Time returns iat as a time.
func (c *Claims) Time() time.Time { return time.Unix(c.IssuedAt, 0).UTC() }

// Limits of what a receipt may hold.
const (
	MaxReceiptBytes = 16 << 10 // a compact receipt
	maxString       = 2048     // any one string claim
	maxChain        = 16
)

// check validates a decoded payload.
func (c *Claims) check() error {
	bad := func(f string, a ...any) error { return errcode.New(errcode.ReceiptMalformed, f, a...) }
	switch {
	case c.Issuer == "":
		return bad("the receipt has no iss")
	case c.IssuedAt <= 0:
		return bad("the receipt has no iat")
	case c.ID == "":
		return bad("the receipt has no jti")
	case c.Result != Success && c.Result != Error:
		return bad("result must be %q or %q", Success, Error)
	case c.Result == Error && c.Error == "":
		return bad("an error receipt names its error")
	case c.Result == Success && c.Error != "":
		return bad("a success receipt names no error")
	case len(c.Chain) > maxChain:
		return bad("the chain has more than %d subjects", maxChain)
	}
	strs := []string{c.Issuer, c.ID, c.Reference, c.Error, c.ErrorDescription, c.Audience, c.Subject, c.Principal, c.Action, c.RequestDigest, c.PolicyDigest}
	if a := c.Approval; a != nil {
		if a.Digest == "" || a.Nonce == "" {
			return bad("approval needs a digest and a nonce")
		}
		strs = append(strs, a.Digest, a.Nonce, a.Principal, a.Approver)
	}
	if c.Channel != nil {
		strs = append(strs, c.Channel.KeyID, c.Channel.Tag, c.Channel.Nonce)
	}
	for _, s := range append(strs, c.Chain...) {
		if len(s) > maxString {
			return bad("a claim is longer than %d bytes", maxString)
		}
	}
	if c.Credential != nil && (c.Credential.Issuer == "" || c.Credential.ID == "") {
		return bad("credential needs iss and id")
	}
	if c.Credential != nil && c.Credential.StatusList != nil && (c.Credential.StatusList.URI == "" || c.Credential.StatusList.Idx < 0) {
		return bad("credential.status_list needs a uri and a non-negative idx")
	}
	if c.Channel != nil && c.Channel.Bound && c.Credential == nil {
		return bad("a bound channel names its credential")
	}
	if !strings.HasPrefix(c.Issuer, "did:") {
		return bad("iss must be a DID")
	}
	return nil
}
