package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/spf13/cobra"
)

func newBackupCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup --out FILE [--data-dir DIR | --config FILE]",
		Short: "Write a consistent copy of the database while the server runs (SQLite online backup)",
		Long: "Write a consistent copy of the data directory's database to FILE (which must not exist), with\n" +
			"SQLite's online backup API: a running server keeps serving. The copy is integrity-checked before\n" +
			"it is renamed into place. The key-encryption key is NOT in it: back up kek.key (or the\n" +
			"AGENTCERT_KEY_ENCRYPTION_KEY secret) separately; the issuer's keys in the copy are encrypted under it.\n" +
			"Nor is receipt.key (the verifier's sealed receipt key, when receipts are on): copy it once; receipts\n" +
			"it signed verify only with it.\n" +
			"Restore with `agentcert restore --from FILE` on a stopped server (docs/operations.md).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr("--out is required")
			}
			return withStore(cmd, readAccess, func(cfg config.Config, st store.Store) error {
				sq, ok := st.(*store.SQLite)
				if !ok {
					return usageErr("backup copies the SQLite store; a PostgreSQL store (store.url) is backed up with the database's own tools (docs/operations.md)")
				}
				if err := sq.Backup(cmd.Context(), out); err != nil {
					return err
				}
				fi, err := os.Stat(out)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "backup written: %s (%d bytes)\n", out, fi.Size())
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the backup file to create")
	addDataDirFlag(cmd)
	return cmd
}

func newRestoreCmd() *cobra.Command {
	var from string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore --from FILE [--force] [--data-dir DIR | --config FILE]",
		Short: "Put a backup in place as the data directory's database (the server must be stopped)",
		Long: "Restore a backup made by `agentcert backup`. The backup is opened and its audit hash chain\n" +
			"checked before anything is replaced. A data directory that already has a database is refused\n" +
			"unless --force is given; then the old database is kept beside it as agentcert.db.replaced-TIME.\n" +
			"The data directory must not be in use by a server. Put the key-encryption key back too.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return usageErr("--from is required")
			}
			cfg, err := loadConfig(cmd, adminFlags)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return fmt.Errorf("data directory: %w", err)
			}
			lock, err := lockDataDir(cfg.DataDir, "stop the server before restoring")
			if err != nil {
				return err
			}
			defer lock.Release()
			target := filepath.Join(cfg.DataDir, dbFile)
			exists := fileExists(target)
			if exists && !force {
				return usageErr("%s already exists; pass --force to replace it (it is kept as %s.replaced-TIME)", target, dbFile)
			}
			staging := filepath.Join(cfg.DataDir, ".restore-"+dbFile)
			removeDB(staging)
			if err := copyFile(from, staging); err != nil {
				return usageErr("read backup: %v", err)
			}
			defer removeDB(staging)
			entries, err := checkBackup(cmd, staging)
			if err != nil {
				return err
			}
			if exists {
				aside := target + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
				for _, suffix := range []string{"", "-wal", "-shm"} {
					if err := os.Rename(target+suffix, aside+suffix); err != nil && !os.IsNotExist(err) {
						return fmt.Errorf("move the old database aside: %w", err)
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "previous database kept as %s\n", aside)
			}
			if err := os.Rename(staging, target); err != nil {
				return fmt.Errorf("put the backup in place: %w", err)
			}
			if err := syncDir(cfg.DataDir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s from %s (%d audit entries, chain intact)\n", target, from, entries)
			if os.Getenv(kekEnv) == "" && !fileExists(kekPath(cfg)) {
				fmt.Fprintf(cmd.ErrOrStderr(), "agentcert: warning: %s is missing; restore the key-encryption key too, or the server will refuse to start\n", kekPath(cfg))
			}
			if cfg.Receipts.Enabled && cfg.Verifier.Enabled && cfg.Issuer.Enabled && !fileExists(filepath.Join(cfg.DataDir, receiptKeyFile)) {
				fmt.Fprintf(cmd.ErrOrStderr(), "agentcert: warning: %s is missing; restore it too, or the server makes a new receipt key and the receipts signed before no longer verify against it\n", filepath.Join(cfg.DataDir, receiptKeyFile))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the backup file")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing database (kept beside it)")
	addDataDirFlag(cmd)
	return cmd
}

// checkBackup opens a staged backup (bringing its schema up to date, as a
// start would) and verifies its audit chain; it returns the entries checked.
func checkBackup(cmd *cobra.Command, path string) (int64, error) {
	st, err := store.Open(cmd.Context(), path)
	if err != nil {
		return 0, usageErr("the backup is not a usable agentcert database: %v", err)
	}
	defer st.Close()
	checked, broken, err := st.VerifyAudit(cmd.Context())
	if err != nil {
		return 0, usageErr("the backup's audit log cannot be read: %v", err)
	}
	if broken != 0 {
		return 0, &exitError{code: exitNotVerified, err: fmt.Errorf("the backup's audit chain is broken at entry %d; not restored", broken)}
	}
	return int64(checked), nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// removeDB removes a database file and its WAL companions.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(path + suffix)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
