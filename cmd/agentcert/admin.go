package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/spf13/cobra"
)

// adminFlags are the flags of commands that open the data directory directly.
var adminFlags = map[string]string{"data_dir": "data-dir", "public_url": "public-url"}

func addDataDirFlag(cmd *cobra.Command) {
	cmd.Flags().String("data-dir", "", "data directory (default from config: ./data)")
}

// addIssuerFlags adds the flags that name an issuer's data directory and its
// public URL (from which its did:web comes).
func addIssuerFlags(cmd *cobra.Command) {
	addDataDirFlag(cmd)
	cmd.Flags().String("public-url", "", "the issuer's public URL, as the server runs with (default from config)")
}

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens (opens the data directory directly)"}
	var role, name string
	create := &cobra.Command{
		Use:   "create --role admin|issuer|auditor|reporter [--name N]",
		Short: "Create a token and print it alone on stdout (only its hash is stored)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !tokens.ValidRole(role) {
				return usageErr("--role must be admin, issuer, auditor or reporter")
			}
			return withStore(cmd, func(cfg config.Config, st store.Store) error {
				secret, _, err := tokens.Create(cmd.Context(), st, role, name, "cli", time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), secret)
				return nil
			})
		},
	}
	create.Flags().StringVar(&role, "role", "", "admin, issuer, auditor or reporter")
	create.Flags().StringVar(&name, "name", "", "a name to recognise the token by")
	addDataDirFlag(create)

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(cfg config.Config, st store.Store) error {
				ts, err := st.Tokens(cmd.Context())
				if err != nil {
					return err
				}
				for _, t := range ts {
					state := "active"
					if t.RevokedAt != nil {
						state = "revoked " + t.RevokedAt.Format(time.RFC3339)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Name, t.CreatedAt.Format(time.RFC3339), state)
				}
				return nil
			})
		},
	}
	addDataDirFlag(list)

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(cfg config.Config, st store.Store) error {
				now := time.Now().UTC()
				return st.RevokeToken(cmd.Context(), args[0], now, auditEntry(now, "cli", "token.revoke", args[0], nil))
			})
		},
	}
	addDataDirFlag(revoke)
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the issuer's signing keys (opens the data directory directly)"}
	var alg string
	rotate := &cobra.Command{
		Use:   "rotate [--alg ES256|EdDSA]",
		Short: "Generate a new signing key; older keys stay published until retired",
		Long:  "Generate a new signing key. A running server picks it up when restarted; use POST /v1/admin/keys/rotate to rotate a running server.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(cfg config.Config, st store.Store) error {
				if alg == "" {
					alg = cfg.Issuer.KeyAlg
				}
				a, err := keyutil.ParseAlg(alg)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				kr, err := openKeyRing(cmd.Context(), cfg, st)
				if err != nil {
					return err
				}
				kid, err := kr.Rotate(cmd.Context(), a, "cli")
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), kid)
				return nil
			})
		},
	}
	rotate.Flags().StringVar(&alg, "alg", "", "ES256 or EdDSA (default from config)")
	addIssuerFlags(rotate)
	retire := &cobra.Command{
		Use:   "retire KID",
		Short: "Stop publishing a non-active key; credentials it signed stop verifying",
		Long:  "Retire a key. A running server picks it up when restarted; use POST /v1/admin/keys/retire to retire a key on a running server.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(cfg config.Config, st store.Store) error {
				kr, err := openKeyRing(cmd.Context(), cfg, st)
				if err != nil {
					return err
				}
				return kr.Retire(cmd.Context(), args[0], "cli")
			})
		},
	}
	addIssuerFlags(retire)
	cmd.AddCommand(rotate, retire)
	return cmd
}

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Audit log tools"}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain; names the first broken entry (exit 1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(cfg config.Config, st store.Store) error {
				checked, broken, err := st.VerifyAudit(cmd.Context())
				if err != nil {
					return err
				}
				if broken != 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "audit log BROKEN at entry %d (%d entries checked)\n", broken, checked)
					return &exitError{code: exitNotVerified, err: fmt.Errorf("audit chain broken at entry %d", broken)}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "audit log intact: %d entries\n", checked)
				return nil
			})
		},
	}
	addDataDirFlag(verify)
	cmd.AddCommand(verify)
	return cmd
}

func auditEntry(now time.Time, actor, action, target string, details map[string]any) *store.AuditEntry {
	b := []byte("{}")
	if details != nil {
		b, _ = json.Marshal(details)
	}
	return &store.AuditEntry{Time: now, Actor: actor, Action: action, Target: target, Details: b}
}

// withStore loads the config, opens the data directory's store for fn and
// closes it afterwards.
func withStore(cmd *cobra.Command, fn func(cfg config.Config, st store.Store) error) error {
	cfg, err := loadConfig(cmd, adminFlags)
	if err != nil {
		return err
	}
	// The admin commands work on an existing issuer: a mistyped directory
	// must not quietly become a new, empty one.
	if _, err := os.Stat(filepath.Join(cfg.DataDir, dbFile)); err != nil && cfg.Store.URL == "" {
		return usageErr("no agentcert database in %s (start `agentcert serve` with this data directory first, or pass --data-dir)", cfg.DataDir)
	}
	st, err := openStore(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(cfg, st)
}
