package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/incident"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/store/postgres"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/oid4vci"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/server"
	"github.com/agentcert/agentcert/verifier"
	"github.com/spf13/cobra"
)

// serveFlags maps config keys to the serve flags that override them.
var serveFlags = map[string]string{"listen": "listen", "data_dir": "data-dir", "public_url": "public-url"}

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [--config FILE] [--listen ADDR] [--data-dir DIR] [--public-url URL]",
		Short: "Run the issuer, status-list and verifier HTTP service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, serveFlags)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().String("listen", "", "listen address (default 127.0.0.1:8080)")
	cmd.Flags().String("data-dir", "", "data directory (default ./data)")
	cmd.Flags().String("public-url", "", "public URL of this service (default http://127.0.0.1:8080)")
	return cmd
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// webDID derives the issuer's did:web from the public URL.
func webDID(publicURL string) (string, error) {
	u, err := url.Parse(publicURL)
	if err != nil {
		return "", fmt.Errorf("public_url: %w", err)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		return "", fmt.Errorf("public_url %q: a did:web issuer is served at the root of its host; remove the path", publicURL)
	}
	return "did:web:" + strings.ReplaceAll(u.Host, ":", "%3A"), nil
}

// issuerParts is the issuer side of a running service.
type issuerParts struct {
	store store.Store
	*issuer.Parts
}

// openIssuer opens the store and key ring and wires the issuer.
func openIssuer(ctx context.Context, cfg config.Config, reg *schemas.Registry) (*issuerParts, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	parts, err := wireIssuer(ctx, cfg, st, reg)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &issuerParts{store: st, Parts: parts}, nil
}

// wireOID4VCI wires OpenID4VCI issuance over the issuer.
func wireOID4VCI(cfg config.Config, parts *issuerParts) (*oid4vci.Service, error) {
	kek, _, err := issuerSettings(cfg)
	if err != nil {
		return nil, err
	}
	st, ok := parts.store.(oid4vci.State)
	if !ok {
		return nil, fmt.Errorf("the %T store keeps no OpenID4VCI state", parts.store)
	}
	return server.NewOID4VCI(cfg, st, parts.Service, kek, newResolver(cfg), nil)
}

// dbFile is the SQLite database's name in the data directory.
const dbFile = "agentcert.db"

// openStore opens the PostgreSQL database of store.url, or else (creating
// it) the SQLite database in the data directory.
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	// The data directory holds the key-encryption key file either way.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if cfg.Store.URL != "" {
		st, err := postgres.Open(ctx, cfg.Store.URL)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return st, nil
	}
	st, err := store.Open(ctx, filepath.Join(cfg.DataDir, dbFile))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// issuerSettings loads the key-encryption key and the issuer's settings.
func issuerSettings(cfg config.Config) ([]byte, issuer.Settings, error) {
	kekFile := cfg.Issuer.KeyEncryptionKeyFile
	if !filepath.IsAbs(kekFile) {
		kekFile = filepath.Join(cfg.DataDir, kekFile)
	}
	kek, err := issuer.LoadKEK(os.Getenv("AGENTCERT_KEY_ENCRYPTION_KEY"), kekFile, cfg.Issuer.GenerateKEK)
	if err != nil {
		return nil, issuer.Settings{}, err
	}
	var id string
	if cfg.Issuer.DIDMethod == "web" {
		if id, err = webDID(cfg.PublicURL); err != nil {
			return nil, issuer.Settings{}, err
		}
	}
	s, err := settingsFrom(cfg, id)
	return kek, s, err
}

// settingsFrom takes the issuer's settings from the typed configuration;
// webDID is the did:web derived from the public URL.
func settingsFrom(cfg config.Config, webDID string) (issuer.Settings, error) {
	alg, err := keyutil.ParseAlg(cfg.Issuer.KeyAlg)
	if err != nil {
		return issuer.Settings{}, err
	}
	return issuer.Settings{
		Config: issuer.Config{
			PublicURL: cfg.PublicURL, VCT: config.AgentCertificationVCT, ListSize: cfg.Status.ListSize,
			DefaultValidity: cfg.Issuer.DefaultValidity, MaxValidity: cfg.Issuer.MaxValidity,
		},
		DIDMethod: cfg.Issuer.DIDMethod, WebDID: webDID, KeyAlg: alg,
		StatusTTL: cfg.Status.TTL, StatusValidity: cfg.Status.Validity,
	}, nil
}

// wireIssuer wires the issuer over an open store.
func wireIssuer(ctx context.Context, cfg config.Config, st store.Store, reg *schemas.Registry) (*issuer.Parts, error) {
	kek, s, err := issuerSettings(cfg)
	if err != nil {
		return nil, err
	}
	return issuer.Open(ctx, st, kek, s, reg, newResolver(cfg), nil)
}

// openKeyRing loads the issuer's key ring alone (for keys rotate).
func openKeyRing(ctx context.Context, cfg config.Config, st store.Store) (*issuer.KeyRing, error) {
	kek, s, err := issuerSettings(cfg)
	if err != nil {
		return nil, err
	}
	return issuer.NewKeyRing(ctx, st, kek, s.DIDMethod, s.WebDID, s.KeyAlg, nil)
}

// serve runs the service until ctx is done.
func serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	opts := server.Options{Config: cfg, Logger: log, Schemas: reg}
	var st store.Store
	if cfg.Issuer.Enabled {
		parts, err := openIssuer(ctx, cfg, reg)
		if err != nil {
			return err
		}
		defer parts.store.Close()
		st = parts.store
		opts.Store, opts.Issuer, opts.Statuses = parts.store, parts.Service, parts.Statuses
		if opts.OID4VCI, err = wireOID4VCI(cfg, parts); err != nil {
			return err
		}
		if err := bootstrapToken(ctx, parts.store, stdout); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "issuer DID: %s\n", parts.Keys.Issuer())
		go refreshKeys(ctx, parts.Keys, cfg.Store.RefreshInterval, log)
	}
	var kek []byte
	local := ""
	if opts.Issuer != nil {
		local = opts.Issuer.Keys().Issuer()
		if kek, _, err = issuerSettings(cfg); err != nil {
			return err
		}
	}
	if opts.Receipts, err = receiptSigner(cfg, kek, local); err != nil {
		return err
	}
	if opts.Receipts != nil {
		fmt.Fprintf(stdout, "receipts signed by: %s\n", opts.Receipts.PublicKey().KeyID())
	}
	sink, err := receiptSink(ctx, cfg)
	if err != nil {
		return err
	}
	if sink != nil {
		defer sink.Close()
		opts.ReceiptSink = sink
	}
	if cfg.Verifier.Enabled {
		p, err := policyFrom(cfg, local)
		if err != nil {
			return err
		}
		if opts.Nonces, err = newNonces(cfg); err != nil {
			return err
		}
		vopts := []verifier.Option{verifier.WithNonces(opts.Nonces)}
		if opts.Receipts != nil {
			vopts = append(vopts, verifier.WithReceipts(opts.Receipts))
		}
		if opts.Verifier, err = newVerifier(cfg, p, vopts...); err != nil {
			return err
		}
	}
	if opts.Issuer != nil {
		keys, sig := opts.Issuer.Keys(), opts.Receipts
		own := newResolver(cfg)
		if strings.HasPrefix(local, "did:web:") {
			// Receipts this service signed are checked against its own document.
			own = withOwnDocument(own, local, func() (*did.Document, error) { return server.DIDDocument(local, keys.PublicKeys(), sig) })
		}
		ist, ok := st.(incident.Store)
		if !ok {
			return fmt.Errorf("the %T store keeps no incidents", st)
		}
		if opts.Incidents, err = incident.New(ist, opts.Statuses, incident.Config{
			Issuer: local, StatusListPrefix: opts.Issuer.StatusURI(""), Keys: receipt.DIDKeys(own),
		}); err != nil {
			return err
		}
	}
	if len(cfg.Fetch.AllowHosts) > 0 {
		log.Warn("fetch.allow_hosts is set: these hosts bypass the outbound address guard (development only)", "hosts", cfg.Fetch.AllowHosts)
	}
	srv, err := server.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	log.Info("serving", "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "issuer", cfg.Issuer.Enabled, "verifier", cfg.Verifier.Enabled)
	err = srv.Serve(ctx, ln)
	log.Info("stopped")
	return err
}

// refreshKeys reloads the key ring every interval until ctx ends, so that
// a rotation or retirement made on another node sharing the database (or by
// `agentcert keys` on this one) is used here within one interval.
func refreshKeys(ctx context.Context, kr *issuer.KeyRing, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := kr.Refresh(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("key refresh failed", "err", err)
		case changed:
			log.Info("signing keys changed in the store", "active", kr.Active().KeyID())
		}
	}
}

// bootstrapToken creates the first admin token when the store has none and
// prints it once; only its hash is stored.
func bootstrapToken(ctx context.Context, st store.Store, w io.Writer) error {
	ts, err := st.Tokens(ctx)
	if err != nil {
		return err
	}
	if len(ts) > 0 {
		return nil
	}
	secret, id, hash := tokens.New()
	now := time.Now().UTC()
	if err := st.CreateToken(ctx, store.Token{ID: id, Name: "bootstrap", Role: tokens.RoleAdmin, Hash: hash, CreatedAt: now},
		&store.AuditEntry{Time: now, Actor: "system", Action: "token.create", Target: id, Details: []byte(`{"role":"admin","name":"bootstrap"}`)}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil
		}
		return err
	}
	fmt.Fprintf(w, "bootstrap admin token (shown once, store it now): %s\n", secret)
	return nil
}
