package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/spf13/cobra"
)

func newApproveCmd() *cobra.Command {
	var keyFile, credFile string
	var yes bool
	cmd := &cobra.Command{
		Use:   "approve REQUEST --key APPROVER_KEY --credential APPROVER_CREDENTIAL [--yes]",
		Short: "Show what an approval request asks, in words, and sign an approval of it",
		Long: `Approve one high-risk action of an agent (docs/approvals.md). REQUEST is an approval link
(agentcert-approval:?request=..., the approval_link of POST /v1/approvals/requests) or a file (- for
stdin) with the approval request: the answer of POST /v1/approvals/requests or of POST
/v1/presentation-requests with approval, an agentcert_approval transaction data entry (decoded),
an approval_required problem or /v1/verify result, or the bare request. Its digest is checked against its action and parameters,
and what it asks is shown in words (action, amount, counterparty, agent, principal, audience).
Unless --yes is given, the approval is signed only after you answer y. The approval is printed:
the agent sends it as the approval member of /v1/verify, in the Agent-Approval header, or over
OpenID4VP with agentcert wallet present --approval.

--key is the approver's private JWK, --credential the approver credential the issuer made for its
public key (vct urn:agentcert:approver:v1, via agentcert credentials issue with "vct"); it travels
in the approval, so a verifier needs nothing but the issuer's key to check it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if err := requireFlags(cmd, "key", "credential"); err != nil {
				return err
			}
			if args[0] == "-" && !yes {
				return usageErr("a request read from stdin needs --yes: the confirmation is read from stdin too")
			}
			var req approval.Request
			if approval.IsLink(args[0]) {
				req, err = approval.ParseLink(args[0])
			} else {
				var raw []byte
				if raw, err = readInput(cmd, args[0]); err != nil {
					return err
				}
				req, err = approvalRequestFrom(raw)
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			key, err := keyutil.ReadPrivateFile(keyFile)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			cred, err := readText(credFile)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			approver, signKey, err := approverOf(cred, key, req.Principal)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprint(cmd.ErrOrStderr(), approval.Describe(req))
			fmt.Fprintf(cmd.ErrOrStderr(), "  approver:      %s\n", approver)
			if !yes {
				fmt.Fprint(cmd.ErrOrStderr(), "Approve? [y/N] ")
				line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return &exitError{code: exitNotVerified, err: fmt.Errorf("not approved")}
				}
			}
			tok, err := approval.Sign(req, approver, signKey, cred, time.Now())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the approver's private JWK file")
	cmd.Flags().StringVar(&credFile, "credential", "", "file with the approver credential (SD-JWT VC of vct "+schemas.ApproverV1+")")
	cmd.Flags().BoolVar(&yes, "yes", false, "sign without asking")
	return cmd
}

// approvalRequestFrom finds the approval request in b: bare, or as the
// approval_request member of an answer, a problem or a decision.
func approvalRequestFrom(b []byte) (approval.Request, error) {
	var wrap struct {
		ApprovalRequest json.RawMessage `json:"approval_request"`
		Decision        *struct {
			ApprovalRequest json.RawMessage `json:"approval_request"`
		} `json:"decision"`
	}
	if err := json.Unmarshal(b, &wrap); err != nil {
		return approval.Request{}, fmt.Errorf("the approval request is not JSON: %w", err)
	}
	switch {
	case len(wrap.ApprovalRequest) > 0:
		b = wrap.ApprovalRequest
	case wrap.Decision != nil && len(wrap.Decision.ApprovalRequest) > 0:
		b = wrap.Decision.ApprovalRequest
	case wrap.Decision != nil:
		return approval.Request{}, fmt.Errorf("the decision asks for no approval")
	}
	return approval.ParseRequest(b)
}

// approverOf reads the approver credential (unverified: the verifier
// checks it) and returns the approver's DID and the signing key with its
// kid set to its thumbprint, after checking that the credential certifies
// this key for principal.
func approverOf(cred string, key jwk.Key, principal string) (string, jwk.Key, error) {
	claims, _, err := sdjwt.HolderClaims(strings.TrimSpace(cred))
	if err != nil {
		return "", nil, fmt.Errorf("the approver credential: %w", err)
	}
	if vct, _ := claims["vct"].(string); vct != schemas.ApproverV1 {
		return "", nil, fmt.Errorf("the credential is of vct %q, not an approver credential (%s)", vct, schemas.ApproverV1)
	}
	p, _ := claims["principal"].(map[string]any)
	if id, _ := p["id"].(string); id != principal {
		return "", nil, fmt.Errorf("the credential certifies an approver for %q; the request asks %q", id, principal)
	}
	certified, err := sdjwt.HolderKey(claims)
	if err != nil {
		return "", nil, err
	}
	if !keyutil.SameKey(certified, key) {
		return "", nil, fmt.Errorf("--key is not the key the approver credential certifies")
	}
	tp, err := httpsig.Thumbprint(key)
	if err != nil {
		return "", nil, err
	}
	// key was read for this command alone: its kid becomes the
	// thumbprint, which the verifier matches with the credential's cnf.jwk.
	if err := key.Set(jwk.KeyIDKey, tp); err != nil {
		return "", nil, err
	}
	sub, _ := claims["sub"].(string)
	return sub, key, nil
}
