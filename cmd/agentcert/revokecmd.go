package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/spf13/cobra"
)

// newStatusChangeCmds returns the revoke, suspend and reinstate commands.
func newStatusChangeCmds() []*cobra.Command {
	return []*cobra.Command{
		newStatusChangeCmd("revoke", "Revoke a credential (final); prints the updated record"),
		newStatusChangeCmd("suspend", "Suspend a credential (can be reinstated); prints the updated record"),
		newStatusChangeCmd("reinstate", "Reinstate a suspended credential; prints the updated record"),
	}
}

// newStatusChangeCmd builds one of revoke, suspend and reinstate. Exit
// codes: 0 when the server answered 200, 1 when it answered an error (its
// problem code is printed on stderr) or could not be reached, 2 on a usage
// error.
func newStatusChangeCmd(action, short string) *cobra.Command {
	var reason, incident, note string
	var api apiFlags
	role := "auditor, or the issuer token that issued the credential"
	who := "role " + role
	reasonHelp := "reason code: " + strings.Join(issuer.Reasons, ", ") + " (required)"
	long := short + ".\n\nREASON is one of " + strings.Join(issuer.Reasons, ", ") + "."
	use := action + " ID --reason REASON [--incident REF] [--note TEXT] [--server URL] [--token T]"
	if action == "reinstate" {
		// Only auditors lift a suspension, and the reason recorded is why
		// the suspension ends, not a revocation reason.
		role = "auditor"
		who = "role auditor; issuer tokens may not reinstate"
		reasonHelp = "reason code recorded for the reinstatement: incident (the incident is resolved) or other (default other)"
		long = short + ".\n\nThe suspension ends; --incident names the incident that was resolved and --note says how.\n" +
			"REASON is recorded with the change: incident or other (default other)."
		use = action + " ID [--reason incident|other] [--incident REF] [--note TEXT] [--server URL] [--token T]"
	}
	reasons := issuer.Reasons
	if action == "reinstate" {
		reasons = []string{"incident", "other"}
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long + " The API token (" + who + ") comes from --token or $" + tokenEnv + ".",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if action == "reinstate" && reason == "" {
				reason = "other"
			}
			if !slices.Contains(reasons, reason) {
				return usageErr("--reason must be one of %s", strings.Join(reasons, ", "))
			}
			if strings.TrimSpace(args[0]) == "" {
				return usageErr("the credential ID is empty")
			}
			body, err := json.Marshal(issuer.StatusRequest{Reason: reason, Incident: incident, Note: note})
			if err != nil {
				return fmt.Errorf("encode request: %w", err)
			}
			return api.print(cmd, action, http.MethodPost, "/v1/credentials/"+url.PathEscape(args[0])+"/"+action, body, http.StatusOK)
		},
	}
	f := cmd.Flags()
	f.StringVar(&reason, "reason", "", reasonHelp)
	_ = cmd.RegisterFlagCompletionFunc("reason", cobra.FixedCompletions(reasons, cobra.ShellCompDirectiveNoFileComp))
	f.StringVar(&incident, "incident", "", "incident reference (e.g. a ticket id)")
	f.StringVar(&note, "note", "", "free-text note for the audit log")
	api.add(cmd, defaultServer, role)
	return cmd
}

// newStatusCmd returns the status command (status check URI IDX).
func newStatusCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "status", Short: "Status list tools"}
	cmd.AddCommand(newStatusCheckCmd())
	return cmd
}

// statusResult is what status check found.
type statusResult struct {
	Value         uint8
	Issuer        string
	IssuerPinned  bool
	IssuedAt, Exp time.Time
}

func newStatusCheckCmd() *cobra.Command {
	var expectIssuer string
	cmd := &cobra.Command{
		Use:   "check URI IDX [--issuer ISS] [--config FILE]",
		Short: "Fetch and verify a Status List Token and print entry IDX: valid, revoked or suspended",
		Long: "Fetch the Status List Token at URI through the guarded fetcher (the config's fetch allow-list applies),\n" +
			"verify its signature with the key of its issuer (a DID), check that its sub is URI, and print the\n" +
			"status of entry IDX with the token's iat and exp. Without --issuer the token's own iss is accepted\n" +
			"(and the output says so). Exit 0 valid, 1 revoked, suspended or not verifiable, 2 usage error.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			uri := args[0]
			idx, err := strconv.Atoi(args[1])
			if err != nil || idx < 0 {
				return usageErr("IDX %q is not a non-negative integer", args[1])
			}
			if u, err := url.Parse(uri); err != nil || u.Host == "" {
				return usageErr("URI %q is not an absolute URL", uri)
			}
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			fetcher := newFetcher(cfg)
			resolver := newResolver(cfg)
			fetch := func(ctx context.Context, url, accept string, maxBytes int64) ([]byte, error) {
				resp, err := fetcher.Get(ctx, url, accept, maxBytes)
				if err != nil {
					return nil, err
				}
				return resp.Body, nil
			}
			keyFn := func(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
				return did.IssuerKey(ctx, resolver, iss, hdr.KeyID())
			}
			res, err := checkStatus(cmd.Context(), fetch, keyFn, uri, idx, expectIssuer, cfg.Verifier.Leeway, time.Now)
			if err != nil {
				fmt.Fprintln(cmd.OutOrStdout(), "unverifiable")
				fmt.Fprintf(cmd.ErrOrStderr(), "agentcert: status check: %s\n", oneLine(err))
				return &exitError{code: exitNotVerified, err: err}
			}
			printStatus(cmd.OutOrStdout(), uri, idx, res)
			if res.Value != 0 {
				return &exitError{code: exitNotVerified, err: fmt.Errorf("status %s", revocation.StatusName(res.Value))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&expectIssuer, "issuer", "", "require this issuer (default: accept the token's own iss, which is then only as trustworthy as its DID)")
	return cmd
}

// checkStatus fetches the Status List Token at uri, verifies it and returns
// entry idx. The expected issuer is expectIssuer, or the token's own
// (unverified, then verified against its DID's key) iss when empty.
func checkStatus(ctx context.Context, fetch revocation.FetchFunc, key revocation.KeyFunc, uri string, idx int, expectIssuer string, leeway time.Duration, now func() time.Time) (statusResult, error) {
	body, err := fetch(ctx, uri, revocation.MediaTypeStatusListJWT, revocation.DefaultMaxBytes)
	if err != nil {
		return statusResult{}, errcode.Wrap(errcode.StatusUnavailable, err, "status list %s could not be fetched", uri)
	}
	token := string(bytes.TrimSpace(body))
	res := statusResult{Issuer: expectIssuer, IssuerPinned: expectIssuer != ""}
	if !res.IssuerPinned {
		if res.Issuer, err = unverifiedIssuer(token); err != nil {
			return statusResult{}, err
		}
	}
	tok, err := revocation.VerifyToken(ctx, token, revocation.VerifyTokenOptions{
		Key:             key,
		ExpectedIssuer:  res.Issuer,
		ExpectedSubject: uri,
		Now:             now,
		Leeway:          leeway,
	})
	if err != nil {
		return statusResult{}, err
	}
	if res.Value, err = tok.List.Get(idx); err != nil {
		return statusResult{}, err
	}
	res.IssuedAt, res.Exp = tok.IssuedAt, tok.Expires
	return res, nil
}

// unverifiedIssuer reads the iss of a compact JWS without verifying it; the
// caller then verifies the token with that issuer's key.
func unverifiedIssuer(token string) (string, error) {
	if strings.Count(token, ".") != 2 {
		return "", errcode.New(errcode.StatusInvalid, "status list token is not a compact JWS")
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil {
		return "", errcode.Wrap(errcode.StatusInvalid, err, "status list token does not parse")
	}
	var p struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(msg.Payload(), &p); err != nil {
		return "", errcode.Wrap(errcode.StatusInvalid, err, "status list token payload is not a JSON object")
	}
	if p.Iss == "" {
		return "", errcode.New(errcode.MissingClaim, "status list token has no iss; pass --issuer")
	}
	return p.Iss, nil
}

func printStatus(w io.Writer, uri string, idx int, r statusResult) {
	fmt.Fprintln(w, revocation.StatusName(r.Value))
	fmt.Fprintf(w, "list:    %s\nindex:   %d\n", uri, idx)
	if r.IssuerPinned {
		fmt.Fprintf(w, "issuer:  %s (as required by --issuer)\n", r.Issuer)
	} else {
		fmt.Fprintf(w, "issuer:  %s (taken from the token itself, signature checked against its DID; pass --issuer to require an issuer)\n", r.Issuer)
	}
	fmt.Fprintf(w, "iat:     %s\n", r.IssuedAt.UTC().Format(time.RFC3339))
	if r.Exp.IsZero() {
		fmt.Fprintln(w, "exp:     none")
	} else {
		fmt.Fprintf(w, "exp:     %s\n", r.Exp.UTC().Format(time.RFC3339))
	}
}
