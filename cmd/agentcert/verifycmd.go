package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/verifier"
	"github.com/spf13/cobra"
)

func newVerifyCmd() *cobra.Command {
	var presFile, aud, nonce, issuerJWK, now, serverURL, token, action, attrs, receiptOut, approvalFile string
	var trust []string
	var noKB, noStatus, asJSON, trustAny bool
	var maxKBAge time.Duration
	cmd := &cobra.Command{
		Use:   "verify --presentation FILE [--aud AUD --nonce NONCE] (--trust ISS... | --issuer-jwk FILE | --trust-any) [--no-kb] [--no-status] [--max-kb-age DURATION] [--now RFC3339] [--action A [--request JSON] [--approval FILE]] [--server URL [--token T]] [--json]",
		Short: "Verify a presentation (exit 0 verified, 1 not verified, 2 usage error)",
		Long: `Verify a presentation offline: issuer signature (the issuer's DID is resolved, or --issuer-jwk pins
its key), disclosures, key binding, and the credential's status list (fetched and verified; --no-status
skips it and the result says so). Offline verification trusts nobody by default: name the trusted
issuers with --trust, pin the issuer key with --issuer-jwk, or accept any issuer whose key resolves with
--trust-any (for inspection only; it prints a warning). With --server the presentation is sent to a
remote verifier's POST /v1/verify instead, and that verifier's policy applies.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if presFile == "" {
				return usageErr("--presentation is required")
			}
			if !noKB && (aud == "" || nonce == "") {
				return usageErr("--aud and --nonce are required unless --no-kb is given")
			}
			if cmd.Flags().Changed("max-kb-age") && maxKBAge <= 0 {
				return usageErr("--max-kb-age must be a positive duration")
			}
			if token != "" && serverURL == "" {
				return usageErr("--token is sent to a remote verifier; it needs --server")
			}
			if issuerJWK != "" && len(trust) > 0 {
				return usageErr("--issuer-jwk pins the issuer's key, which replaces --trust; give one of them")
			}
			if receiptOut != "" && serverURL == "" {
				return usageErr("--receipt-out needs --server: receipts are signed by a verifier service")
			}
			if trustAny && (issuerJWK != "" || len(trust) > 0) {
				return usageErr("--trust-any accepts every issuer; it cannot be combined with --trust or --issuer-jwk")
			}
			if serverURL == "" && !trustAny && issuerJWK == "" && len(trust) == 0 {
				return usageErr("no issuer is trusted: give --trust ISSUER (repeatable), --issuer-jwk FILE, or --trust-any to accept any issuer whose key resolves (inspection only)")
			}
			if serverURL != "" {
				if token == "" {
					token = os.Getenv(tokenEnv)
				}
				for _, local := range []string{"trust", "issuer-jwk", "trust-any", "no-kb", "no-status", "max-kb-age", "now", "config"} {
					if cmd.Flags().Changed(local) {
						return usageErr("--%s applies to local verification; with --server the remote verifier's policy decides", local)
					}
				}
			}
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			pres, err := readText(presFile)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			req := verifier.Request{Presentation: pres, Audience: aud, Nonce: nonce, Action: action}
			if approvalFile != "" {
				if req.Approval, err = readText(approvalFile); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			}
			if attrs != "" {
				dec := json.NewDecoder(strings.NewReader(attrs))
				dec.UseNumber()
				if err := dec.Decode(&req.Attributes); err != nil {
					return usageErr("--request must be a JSON object: %v", err)
				}
			}
			var res *verifier.Result
			if serverURL != "" {
				if res, err = remoteVerify(cmd.Context(), serverURL, token, req); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			} else {
				var opts []verifier.Option
				if now != "" {
					t, err := time.Parse(time.RFC3339, now)
					if err != nil {
						return usageErr("--now: %v", err)
					}
					opts = append(opts, verifier.WithClock(func() time.Time { return t }))
				}
				if issuerJWK != "" {
					k, err := keyutil.ReadFile(issuerJWK)
					if err == nil {
						k, err = keyutil.Public(k)
					}
					if err != nil {
						return &exitError{code: exitUsage, err: err}
					}
					opts = append(opts, verifier.WithPinnedIssuerKey(k))
				}
				p, err := policyFrom(cfg, "")
				if err != nil {
					return err
				}
				p.Trusted = map[string][]string{}
				if trustAny {
					opts = append(opts, verifier.WithAnyIssuer())
					fmt.Fprintln(cmd.ErrOrStderr(), "warning: --trust-any accepts a credential from any issuer whose key resolves; a VERIFIED result says nothing about who issued it")
				}
				for _, t := range trust {
					p.Trusted[t] = append(p.Trusted[t], verifier.AnyVCT)
				}
				p.RequireKB = !noKB
				p.CheckStatus = !noStatus
				p.RequireNonce = false
				if maxKBAge > 0 {
					p.MaxKBAge = maxKBAge
				}
				v, err := newVerifier(cfg, p, opts...)
				if err != nil {
					return err
				}
				res = v.Verify(cmd.Context(), req)
			}
			if err := printVerify(cmd.OutOrStdout(), res, asJSON); err != nil {
				return err
			}
			if receiptOut != "" {
				if err := writeReceipt(receiptOut, res); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			}
			if !res.Allowed() {
				return &exitError{code: exitNotVerified}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&presFile, "presentation", "", "file with the presentation (SD-JWT, optionally with KB-JWT)")
	f.StringVar(&aud, "aud", "", "expected KB-JWT audience")
	f.StringVar(&nonce, "nonce", "", "expected KB-JWT nonce")
	f.StringArrayVar(&trust, "trust", nil, "trusted issuer (repeatable); one of --trust, --issuer-jwk or --trust-any is required")
	f.BoolVar(&trustAny, "trust-any", false, "accept any issuer whose key resolves (inspection only; prints a warning)")
	f.StringVar(&issuerJWK, "issuer-jwk", "", "pin the issuer's public key (JWK file) whatever iss says")
	f.BoolVar(&noKB, "no-kb", false, "do not require key binding")
	f.BoolVar(&noStatus, "no-status", false, "do not check the status list (the result says status was not checked)")
	f.DurationVar(&maxKBAge, "max-kb-age", 0, "maximum KB-JWT age (default from config, 5m)")
	f.StringVar(&now, "now", "", "verify as of this time (RFC 3339)")
	f.StringVar(&serverURL, "server", "", "use the remote verifier at this base URL (POST /v1/verify)")
	f.StringVar(&token, "token", "", "bearer token for a remote verifier that requires one (verifier.require_token; default $"+tokenEnv+")")
	f.StringVar(&action, "action", "", "also decide whether this action (resource:verb) is allowed; a denied action exits 1")
	f.StringVar(&attrs, "request", "", `request attributes for the decision, as JSON (e.g. '{"amount":120,"currency":"EUR"}')`)
	f.StringVar(&approvalFile, "approval", "", "file with a person's approval of the action (agentcert approve), for an action that needs one")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringVar(&receiptOut, "receipt-out", "", "with --server: write the verifier's signed receipt of the decision to this file")
	return cmd
}

// writeReceipt writes the result's receipt to file (0600).
func writeReceipt(file string, res *verifier.Result) error {
	if res.Receipt == "" {
		return fmt.Errorf("the verifier returned no receipt (receipts are signed by a server with receipts.enabled)")
	}
	return os.WriteFile(file, []byte(res.Receipt+"\n"), 0o600)
}

// remoteVerify posts req to a verifier's /v1/verify, with the bearer token
// when one is given.
func remoteVerify(ctx context.Context, base, token string, req verifier.Request) (*verifier.Result, error) {
	base, err := apiBase(base)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	b, err := (&apiClient{base: base, token: token}).do(ctx, http.MethodPost, "/v1/verify", body, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("remote verifier: %s", oneLine(err))
	}
	var res verifier.Result
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("remote verifier: bad answer: %w", err)
	}
	return &res, nil
}

func printVerify(w io.Writer, out *verifier.Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if !out.Verified {
		if e := out.Error; e != nil {
			fmt.Fprintf(w, "NOT VERIFIED: %s: %s\n", e.Code, e.Message)
		}
		return nil
	}
	// One headline says both: what was verified, and what was decided.
	if d := out.Decision; d != nil {
		verdict := "ALLOWED"
		if !d.Allowed {
			verdict = "DENIED (" + string(d.Code) + ")"
		}
		fmt.Fprintf(w, "VERIFIED, action %s %s\n", d.Action, verdict)
	} else {
		fmt.Fprintln(w, "VERIFIED")
	}
	fmt.Fprintf(w, "issuer:  %s\nsubject: %s\nvct:     %s\n", out.Issuer, out.Subject, out.VCT)
	if d := out.Decision; d != nil {
		verdict := "ALLOWED"
		if !d.Allowed {
			verdict = "DENIED " + string(d.Code)
		}
		fmt.Fprintf(w, "action:  %s %s (%s)\n", d.Action, verdict, d.Reason)
		if d.Reversibility != "" {
			fmt.Fprintf(w, "reversibility: %s\n", d.Reversibility)
		}
		if d.Approval != nil {
			fmt.Fprintf(w, "approved by: %s\n", d.Approval.Approver)
		}
		if d.ApprovalRequest != nil {
			b, err := json.Marshal(map[string]any{"approval_request": d.ApprovalRequest})
			if err != nil {
				return fmt.Errorf("encode approval request: %w", err)
			}
			fmt.Fprintf(w, "approval request (agentcert approve): %s\n", b)
		}
	}
	if out.Status.Checked {
		fmt.Fprintf(w, "status:  %s\n", out.Status.Value)
	} else {
		fmt.Fprintf(w, "status:  not checked\n")
	}
	printChain(w, out)
	b, err := json.MarshalIndent(out.Claims, "", "  ")
	if err != nil {
		return fmt.Errorf("encode claims: %w", err)
	}
	fmt.Fprintf(w, "claims:  %s\n", b)
	return nil
}
