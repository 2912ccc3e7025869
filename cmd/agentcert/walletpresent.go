package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/oid4vp"
	"github.com/spf13/cobra"
)

func newWalletPresentCmd() *cobra.Command {
	var credFiles []string
	var keyFile, approvalFile string
	var decline, dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "present REQUEST --credential FILE [--credential FILE]... --key FILE [--approval FILE]",
		Short: "Answer an OpenID4VP presentation request, disclosing the least it asks for",
		Long: `Answer an OpenID for Verifiable Presentations 1.0 request. REQUEST is an openid4vp:// link, an https
URL (a link, or the request_uri itself), a file holding either or the request's JSON, or "-" for
stdin. The request is fetched and checked: a decentralized_identifier: request must be signed by a
key of the verifier's DID document, a redirect_uri: request must be unsigned and answered at its
client_id. Its DCQL query is matched against the credentials (--credential, one SD-JWT per line;
the file wallet receive writes), and each chosen credential is presented disclosing only what the
query asks for, with a KB-JWT signed by --key for the verifier's client_id and nonce that binds the
request's transaction data. The response (direct_post, or direct_post.jwt encrypted to the
verifier's key) is posted to response_uri. --decline posts access_denied instead; --dry-run prints
what would be disclosed and posts nothing. Plain http is used only for loopback hosts; a response
is posted to response_uri alone (a redirect is not followed).

A request whose transaction data is of type agentcert_approval asks a person's approval of the
action (docs/approvals.md, "Over OpenID4VP"): what is asked is shown with its approval link, for
agentcert approve; --approval is the file with the approval it printed, carried in the KB-JWT
beside the transaction data hashes. Without it nothing is posted (approval_required).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(credFiles) == 0 || keyFile == "") && !decline {
				return usageErr("--credential and --key are required")
			}
			link, err := readRequestArg(cmd, args[0])
			if err != nil {
				return err
			}
			params, err := oid4vp.ParseLink(link)
			if err != nil {
				return usageErr("%s: %v", args[0], err)
			}
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			w := &wallet{http: newWalletHTTPClient(cfg.Fetch.Timeout), resolver: newResolver(cfg), now: time.Now}
			ctx := cmd.Context()
			req, err := oid4vp.ResolveRequest(ctx, params, oid4vp.WalletOptions{Fetch: w.get, Resolver: w.resolver, Now: w.now, Leeway: cfg.Verifier.Leeway})
			if err != nil {
				return err
			}
			stdout := cmd.OutOrStdout()
			signer := "unsigned"
			if req.Signed {
				signer = "signed by " + req.KeyID
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "request from %s (%s)\n", req.ClientID, signer)
			for _, td := range req.TransactionData {
				b, _ := json.Marshal(td.Fields)
				fmt.Fprintf(cmd.ErrOrStderr(), "transaction data (%s) bound into the key binding: %s\n", td.Type, b)
			}
			for _, td := range req.TransactionData {
				if td.Approval == nil {
					continue
				}
				link, err := approval.Link(*td.Approval)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "the request asks a person's approval:\n%s  approval link (agentcert approve): %s\n", approval.Describe(*td.Approval), link)
			}
			var form url.Values
			var ans *oid4vp.Answer
			if decline {
				if form, err = req.Decline("access_denied", ""); err != nil {
					return err
				}
			} else {
				var held []oid4vp.Held
				var tok string
				if approvalFile != "" {
					if tok, err = readText(approvalFile); err != nil {
						return usageErr("--approval %s: %v", approvalFile, err)
					}
				}
				for _, f := range credFiles {
					b, err := os.ReadFile(f)
					if err != nil {
						return usageErr("--credential %s: %v", f, err)
					}
					for _, line := range strings.Split(string(b), "\n") {
						if line = strings.TrimSpace(line); line != "" {
							held = append(held, oid4vp.Held{SDJWT: line, Approval: tok})
						}
					}
				}
				key, err := keyutil.ReadPrivateFile(keyFile)
				if err != nil {
					return usageErr("--key %s: %v", keyFile, err)
				}
				if ans, err = req.Answer(held, key, w.now()); err != nil {
					return err
				}
				form = ans.Form
			}
			if !dryRun {
				if _, err := w.do(ctx, http.MethodPost, req.ResponseURI, "", "application/x-www-form-urlencoded", []byte(form.Encode())); err != nil {
					return err
				}
			}
			return printPresented(stdout, req, ans, decline, dryRun, asJSON)
		},
	}
	cmd.Flags().StringArrayVar(&credFiles, "credential", nil, "file of SD-JWT credentials, one per line (repeatable)")
	cmd.Flags().StringVar(&keyFile, "key", "", "private JWK of the holder key (cnf) of the credentials")
	cmd.Flags().StringVar(&approvalFile, "approval", "", "file with a person's approval (agentcert approve) that the request's agentcert_approval transaction data asks for")
	cmd.Flags().BoolVar(&decline, "decline", false, "answer access_denied instead of presenting")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be disclosed; post nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	return cmd
}

// readRequestArg reads REQUEST: "-" is stdin, an existing file its content,
// anything else the link itself.
func readRequestArg(cmd *cobra.Command, arg string) (string, error) {
	var r io.Reader
	switch {
	case arg == "-":
		r = cmd.InOrStdin()
	case !strings.Contains(arg, "://") && !strings.HasPrefix(strings.TrimSpace(arg), "{"):
		f, err := os.Open(arg)
		if err != nil {
			return "", usageErr("REQUEST %s: %v", arg, err)
		}
		defer f.Close()
		r = f
	default:
		return arg, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, oid4vp.MaxRequestBytes+1))
	if err != nil {
		return "", usageErr("read the request: %v", err)
	}
	return string(b), nil
}

// printPresented reports what was presented (or would be).
func printPresented(w io.Writer, req *oid4vp.Resolved, ans *oid4vp.Answer, declined, dryRun, asJSON bool) error {
	type item struct {
		Query     string   `json:"credential_query"`
		Disclosed []string `json:"disclosed"`
		TxHashes  []string `json:"transaction_data_hashes,omitempty"`
	}
	out := struct {
		ClientID      string `json:"client_id"`
		Posted        bool   `json:"posted"`
		Declined      bool   `json:"declined,omitempty"`
		Presentations []item `json:"presentations"`
	}{ClientID: req.ClientID, Posted: !dryRun, Declined: declined, Presentations: []item{}}
	if ans != nil {
		for _, p := range ans.Presentations {
			out.Presentations = append(out.Presentations, item{Query: p.QueryID, Disclosed: p.Disclosed, TxHashes: p.TxHashes})
		}
	}
	if asJSON {
		return json.NewEncoder(w).Encode(out)
	}
	verb := "presented to"
	switch {
	case declined && dryRun:
		verb = "would decline"
	case declined:
		verb = "declined"
	case dryRun:
		verb = "would present to"
	}
	fmt.Fprintf(w, "%s %s\n", verb, req.ClientID)
	for _, p := range out.Presentations {
		d := strings.Join(p.Disclosed, " ")
		if d == "" {
			d = "(nothing beyond the claims in clear)"
		}
		fmt.Fprintf(w, "  %s: discloses %s\n", p.Query, d)
	}
	return nil
}
