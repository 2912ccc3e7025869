package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/agentcert/agentcert/internal/inspect"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect FILE [--json]",
		Short: "Decode an SD-JWT VC, a presentation, a delegation chain or a Status List Token offline (nothing is verified)",
		Long: "Decode FILE (- for stdin) offline and print what it holds: headers, claims, which disclosures\n" +
			"are present, validity times, the status reference, the key binding (and whether its sd_hash\n" +
			"matches), each hop of a delegation chain (delegator, delegate, permissions, prohibitions, task,\n" +
			"expiry, whether its sd_hash or issuer_jwt_hash link matches, the final KB-JWT), or a status\n" +
			"list's size and how many entries are revoked or suspended. No signature\n" +
			"is checked: use `agentcert verify` or `agentcert status check` for that.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readInput(cmd, args[0])
			if err != nil {
				return err
			}
			in, err := inspect.Decode(strings.TrimSpace(string(b)), time.Now())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			}
			return inspect.Print(cmd.OutOrStdout(), in)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
