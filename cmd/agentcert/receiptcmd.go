package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store/postgres"
	"github.com/agentcert/agentcert/receipt"
	"github.com/spf13/cobra"
)

func newReceiptCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "receipt", Short: "Check verification receipts"}
	var verifierDID, jwkFile string
	verify := &cobra.Command{
		Use:   "verify FILE [--verifier DID | --jwk FILE]",
		Short: "Check a receipt offline and print its claims (exit 0 valid, 1 not valid, 2 usage error)",
		Long: `Check a verification receipt (FILE, or - for stdin): its typ and alg, and its signature with the key its
kid names in the verifier's DID document (a did:key needs no network; a did:web document is fetched through
the guarded fetcher), or with the public key in --jwk. --verifier requires the receipt to come from that DID.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if verifierDID != "" && !strings.HasPrefix(verifierDID, "did:") {
				return usageErr("--verifier must be a DID")
			}
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			text, err := readText(args[0])
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			keys := receipt.DIDKeys(newResolver(cfg))
			if jwkFile != "" {
				k, err := keyutil.ReadFile(jwkFile)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				pub, err := keyutil.Public(k)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				keys = receipt.StaticKey(pub)
			}
			c, err := receipt.Verify(cmd.Context(), strings.TrimSpace(text), receipt.VerifyOptions{Keys: keys, Verifier: verifierDID})
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "NOT VALID: %s: %s\n", errcode.CodeOf(err), oneLine(err))
				return &exitError{code: exitNotVerified, err: err}
			}
			b, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "VALID receipt from %s (%s at %s)\n%s\n", c.Issuer, c.Result, c.Time().Format(time.RFC3339), b)
			return nil
		},
	}
	verify.Flags().StringVar(&verifierDID, "verifier", "", "the DID the receipt must come from")
	verify.Flags().StringVar(&jwkFile, "jwk", "", "check with this public JWK instead of resolving the verifier's DID")
	verify.MarkFlagsMutuallyExclusive("verifier", "jwk")
	cmd.AddCommand(verify)
	return cmd
}

func newReceiptsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "receipts", Short: "Query a receipt log (the counterparty's action log)"}
	var f receipt.Filter
	var since, storeURL string
	search := &cobra.Command{
		Use:   "search FILE|--store URL [--subject DID] [--principal ID] [--action A] [--result success|error] [--since TIME|DURATION]",
		Short: "Print the matching records of a receipt log, one JSON line each, oldest first",
		Long: `Search a JSON-lines receipt log (receipts.log_file) and its rotated files, or the receipts recorded in
PostgreSQL (receipts.log_store, --store URL). A subject matches the agent
or any subject of its chain; --since takes an RFC 3339 time or a duration back from now (24h).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (storeURL == "") == (len(args) == 0) {
				return usageErr("give the receipt log FILE or --store URL")
			}
			if f.Result != "" && f.Result != receipt.Success && f.Result != receipt.Error {
				return usageErr("--result must be success or error")
			}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return usageErr("--since: %v", err)
				}
				f.Since = t
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			if storeURL != "" {
				if !strings.HasPrefix(storeURL, "postgres://") && !strings.HasPrefix(storeURL, "postgresql://") {
					return usageErr("--store must be a postgres:// URL")
				}
				st, err := postgres.Open(cmd.Context(), storeURL)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				defer st.Close()
				if err := st.SearchReceipts(cmd.Context(), f, func(r receipt.Record) error { return enc.Encode(r) }); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				return nil
			}
			skipped, err := receipt.SearchFile(args[0], f, func(r receipt.Record) error { return enc.Encode(r) })
			if skipped > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "agentcert: %d line(s) of the log do not parse and were skipped\n", skipped)
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return nil
		},
	}
	fl := search.Flags()
	fl.StringVar(&f.Subject, "subject", "", "only receipts about this agent DID")
	fl.StringVar(&f.Principal, "principal", "", "only receipts about this principal id")
	fl.StringVar(&f.Action, "action", "", "only receipts for this action")
	fl.StringVar(&f.Result, "result", "", "success or error")
	fl.StringVar(&since, "since", "", "only receipts at or after this RFC 3339 time, or this long ago (24h)")
	fl.StringVar(&storeURL, "store", "", "search the receipts recorded in this PostgreSQL database (receipts.log_store) instead of a file")
	cmd.AddCommand(search)
	return cmd
}

// parseSince reads an RFC 3339 time or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a positive duration", s)
	}
	return now.Add(-d), nil
}
