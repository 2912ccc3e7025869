package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/apiwire"
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

// roleValues are the token roles, for --role and its completion.
var roleValues = []string{tokens.RoleAdmin, tokens.RoleIssuer, tokens.RoleAuditor, tokens.RoleReporter}

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens (through the admin API with --server, else on a stopped server's data directory)",
	}
	var role, name string
	var api apiFlags
	create := &cobra.Command{
		Use:   "create --role admin|issuer|auditor|reporter [--name N] [--server URL --token ADMIN_TOKEN | --data-dir DIR]",
		Short: "Create a token and print it alone on stdout (only its hash is stored)",
		Long: "Create a token and print it alone on stdout (only its hash is stored).\n\n" +
			"With --server it is made through POST /v1/admin/tokens with an admin token (a running server);\n" +
			"without, on the data directory of a stopped server.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !tokens.ValidRole(role) {
				return usageErr("--role must be admin, issuer, auditor or reporter")
			}
			if api.online() {
				var out struct {
					Token string `json:"token"`
				}
				if err := api.callJSON(cmd, "token create", http.MethodPost, "/v1/admin/tokens", map[string]string{"role": role, "name": name}, http.StatusCreated, &out); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), out.Token)
				return nil
			}
			return withStore(cmd, writeAccess("token create --server URL --token ADMIN_TOKEN"), func(cfg config.Config, st store.Store) error {
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
	_ = create.RegisterFlagCompletionFunc("role", cobra.FixedCompletions(roleValues, cobra.ShellCompDirectiveNoFileComp))
	addDataDirFlag(create)
	api.add(create, "", "admin")

	var listAPI apiFlags
	list := &cobra.Command{
		Use:   "list [--server URL --token ADMIN_TOKEN | --data-dir DIR]",
		Short: "List tokens (never their secrets): id, role, name, created, state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ts []store.Token
			if listAPI.online() {
				var out struct {
					Tokens []apiwire.Token `json:"tokens"`
				}
				if err := listAPI.callJSON(cmd, "token list", http.MethodGet, "/v1/admin/tokens", nil, http.StatusOK, &out); err != nil {
					return err
				}
				for _, t := range out.Tokens {
					ts = append(ts, store.Token{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt})
				}
			} else if err := withStore(cmd, readAccess, func(cfg config.Config, st store.Store) error {
				var err error
				ts, err = st.Tokens(cmd.Context())
				return err
			}); err != nil {
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
		},
	}
	addDataDirFlag(list)
	listAPI.add(list, "", "admin")

	var revokeAPI apiFlags
	revoke := &cobra.Command{
		Use:   "revoke ID [--server URL --token ADMIN_TOKEN | --data-dir DIR]",
		Short: "Revoke a token (its id, as token list shows it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := trimmed(args[0], "the token ID")
			if err != nil {
				return err
			}
			if revokeAPI.online() {
				_, err := revokeAPI.call(cmd, "token revoke", http.MethodDelete, "/v1/admin/tokens/"+url.PathEscape(id), nil, http.StatusNoContent)
				return err
			}
			return withStore(cmd, writeAccess("token revoke ID --server URL --token ADMIN_TOKEN"), func(cfg config.Config, st store.Store) error {
				now := time.Now().UTC()
				err := st.RevokeToken(cmd.Context(), id, now, auditEntry(now, "cli", "token.revoke", id, nil))
				switch {
				case errors.Is(err, store.ErrNotFound):
					return errcode.New(errcode.NotFound, "no token %s (token list shows the ids)", id)
				case errors.Is(err, store.ErrConflict):
					return errcode.New(errcode.Conflict, "token %s is already revoked", id)
				}
				return err
			})
		},
	}
	addDataDirFlag(revoke)
	revokeAPI.add(revoke, "", "admin")
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// algValues are the signing algorithms, for --alg and its completion.
var algValues = []string{"ES256", "EdDSA"}

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the issuer's signing keys (through the admin API with --server, else on a stopped server's data directory)",
	}
	var alg string
	var rotateAPI apiFlags
	rotate := &cobra.Command{
		Use:   "rotate [--alg ES256|EdDSA] [--server URL --token ADMIN_TOKEN | --data-dir DIR]",
		Short: "Generate a new signing key and print its kid; older keys stay published until retired",
		Long: "Generate a new signing key, which signs from then on; older keys stay published until retired.\n\n" +
			"With --server the running server rotates (POST /v1/admin/keys/rotate, admin token); without,\n" +
			"the data directory of a stopped server is changed (a running server's directory is refused).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rotateAPI.online() {
				var out struct {
					KID string `json:"kid"`
				}
				var in any
				if alg != "" {
					in = map[string]string{"alg": alg}
				}
				if err := rotateAPI.callJSON(cmd, "keys rotate", http.MethodPost, "/v1/admin/keys/rotate", in, http.StatusOK, &out); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), out.KID)
				return nil
			}
			return withStore(cmd, writeAccess("keys rotate --server URL --token ADMIN_TOKEN"), func(cfg config.Config, st store.Store) error {
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
	_ = rotate.RegisterFlagCompletionFunc("alg", cobra.FixedCompletions(algValues, cobra.ShellCompDirectiveNoFileComp))
	addIssuerFlags(rotate)
	rotateAPI.add(rotate, "", "admin")
	var retireAPI apiFlags
	retire := &cobra.Command{
		Use:   "retire KID [--server URL --token ADMIN_TOKEN | --data-dir DIR]",
		Short: "Stop publishing a non-active key; credentials it signed stop verifying",
		Long: "Retire a key: it is no longer published, so credentials it signed stop verifying.\n\n" +
			"With --server the running server retires it (POST /v1/admin/keys/retire, admin token); without,\n" +
			"the data directory of a stopped server is changed (a running server's directory is refused).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kid, err := trimmed(args[0], "the KID")
			if err != nil {
				return err
			}
			if retireAPI.online() {
				return retireAPI.callJSON(cmd, "keys retire", http.MethodPost, "/v1/admin/keys/retire", map[string]string{"kid": kid}, http.StatusOK, nil)
			}
			return withStore(cmd, writeAccess("keys retire KID --server URL --token ADMIN_TOKEN"), func(cfg config.Config, st store.Store) error {
				kr, err := openKeyRing(cmd.Context(), cfg, st)
				if err != nil {
					return err
				}
				return kr.Retire(cmd.Context(), kid, "cli")
			})
		},
	}
	addIssuerFlags(retire)
	retireAPI.add(retire, "", "admin")
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
			return withStore(cmd, readAccess, func(cfg config.Config, st store.Store) error {
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
	cmd.AddCommand(verify, newAuditListCmd())
	return cmd
}

func auditEntry(now time.Time, actor, action, target string, details map[string]any) *store.AuditEntry {
	b := []byte("{}")
	if details != nil {
		b, _ = json.Marshal(details)
	}
	return &store.AuditEntry{Time: now, Actor: actor, Action: action, Target: target, Details: b}
}

// storeAccess says how an offline command uses the data directory: readers
// may run beside a server (SQLite serves both); writers take the
// directory's lock and refuse one a server holds, naming the online
// command to use instead.
type storeAccess struct {
	write  bool
	online string // the command to use against a running server
}

var readAccess = storeAccess{}

func writeAccess(online string) storeAccess { return storeAccess{write: true, online: online} }

// withStore loads the config, opens the data directory's store for fn and
// closes it afterwards.
func withStore(cmd *cobra.Command, access storeAccess, fn func(cfg config.Config, st store.Store) error) error {
	cfg, err := loadConfig(cmd, adminFlags)
	if err != nil {
		return err
	}
	// The admin commands work on an existing issuer: a mistyped directory
	// must not quietly become a new, empty one.
	if _, err := os.Stat(filepath.Join(cfg.DataDir, dbFile)); err != nil && cfg.Store.URL == "" {
		return usageErr("no agentcert database in %s (start `agentcert serve` with this data directory first, or pass --data-dir)", cfg.DataDir)
	}
	if access.write {
		lock, err := lockDataDir(cfg.DataDir, "a running server keeps its keys and tokens in memory, so change them through its admin API: agentcert "+access.online)
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	st, err := openStore(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(cfg, st)
}
