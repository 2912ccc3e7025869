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
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/incident"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/datadir"
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
	"github.com/lestrrat-go/jwx/v2/jwk"
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
			err = serve(ctx, cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
			var ee *exitError
			if errors.As(err, &ee) && ee.code == exitFailure {
				// main reports the errors of every exit but 1 (which
				// commands report themselves).
				fmt.Fprintf(cmd.ErrOrStderr(), "agentcert: %s\n", oneLine(err))
			}
			return err
		},
	}
	cmd.Flags().String("listen", "", "listen address (default 127.0.0.1:8080)")
	cmd.Flags().String("data-dir", "", "data directory (default ./data)")
	cmd.Flags().String("public-url", "", "public URL of this service (default http://LISTEN for a loopback listen address; required otherwise)")
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
	lock  *datadir.Lock
	kek   []byte // the key-encryption key, also for OpenID4VCI state
	*issuer.Parts
}

// Close closes the store and then releases the data directory.
func (p *issuerParts) Close() {
	p.store.Close()
	_ = p.lock.Release()
}

// openIssuer locks the data directory, then opens the store and key ring
// and wires the issuer. Whatever the configuration lacks is found before
// the database file is created.
func openIssuer(ctx context.Context, cfg config.Config, reg *schemas.Registry) (*issuerParts, error) {
	s, err := issuerSettingsFrom(cfg)
	if err != nil {
		return nil, err
	}
	kekFile := kekPath(cfg)
	env := os.Getenv(kekEnv)
	kekMissing := env == "" && !fileExists(kekFile)
	if kekMissing && !cfg.Issuer.GenerateKEK {
		return nil, usageErr("the key-encryption key is missing: set $%s (32 random bytes, base64) or create %s (issuer.generate_kek is off)", kekEnv, kekFile)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir, "another `agentcert serve` runs on it; two servers never share a data directory")
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		_ = lock.Release()
		if cfg.Store.URL != "" {
			// PostgreSQL may be starting too: let the supervisor retry.
			err = unavailable(err)
		}
		return nil, err
	}
	fail := func(err error) (*issuerParts, error) {
		st.Close()
		_ = lock.Release()
		return nil, err
	}
	if kekMissing {
		// A new key-encryption key would not open the keys already stored.
		keys, err := st.Keys(ctx)
		if err != nil {
			return fail(err)
		}
		if len(keys) > 0 {
			return fail(usageErr("the key-encryption key file %s is missing, but the database %s holds %d issuer key(s) encrypted under it: restore the file from your backup or set $%s; no new key-encryption key is made for an existing database",
				kekFile, filepath.Join(cfg.DataDir, dbFile), len(keys), kekEnv))
		}
	}
	kek, err := issuer.LoadKEK(env, kekFile, cfg.Issuer.GenerateKEK)
	if err != nil {
		return fail(err)
	}
	parts, err := issuer.Open(ctx, st, kek, s, reg, newResolver(cfg), nil)
	if err != nil {
		return fail(err)
	}
	return &issuerParts{store: st, lock: lock, kek: kek, Parts: parts}, nil
}

// unavailable marks a start-up failure outside the configuration (a
// database not reachable, an address taken) to exit 1, which a supervisor
// retries; a bad value (errcode.InvalidInput, such as a store.url that does
// not parse) stays a refused configuration (exit 2).
func unavailable(err error) error {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return err
	case errcode.CodeOf(err) == errcode.InvalidInput:
		return &exitError{code: exitUsage, err: err}
	}
	return &exitError{code: exitFailure, err: err}
}

// kekEnv names the environment variable that can hold the key-encryption key.
const kekEnv = "AGENTCERT_KEY_ENCRYPTION_KEY"

// kekPath is the key-encryption key file, relative paths under the data directory.
func kekPath(cfg config.Config) string {
	f := cfg.Issuer.KeyEncryptionKeyFile
	if !filepath.IsAbs(f) {
		f = filepath.Join(cfg.DataDir, f)
	}
	return f
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// lockDataDir takes the data directory's lock; a held one is a usage error
// that says why (why) and what to do instead.
func lockDataDir(dir, why string) (*datadir.Lock, error) {
	l, err := datadir.Acquire(dir)
	var le *datadir.LockedError
	if errors.As(err, &le) {
		return nil, usageErr("%v: %s", le, why)
	}
	return l, err
}

// wireOID4VCI wires OpenID4VCI issuance over the issuer.
func wireOID4VCI(cfg config.Config, parts *issuerParts) (*oid4vci.Service, error) {
	st, ok := parts.store.(oid4vci.State)
	if !ok {
		return nil, fmt.Errorf("the %T store keeps no OpenID4VCI state", parts.store)
	}
	return server.NewOID4VCI(cfg, st, parts.Service, parts.kek, newResolver(cfg), nil)
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

// issuerSettingsFrom derives the issuer's settings (and its did:web) from
// the config; it touches no file.
func issuerSettingsFrom(cfg config.Config) (issuer.Settings, error) {
	var id string
	if cfg.Issuer.DIDMethod == "web" {
		var err error
		if id, err = webDID(cfg.PublicURL); err != nil {
			return issuer.Settings{}, usageErr("%w", err)
		}
	}
	return settingsFrom(cfg, id)
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

// openKeyRing loads the issuer's key ring alone (for keys rotate and
// retire). It never creates a key-encryption key.
func openKeyRing(ctx context.Context, cfg config.Config, st store.Store) (*issuer.KeyRing, error) {
	s, err := issuerSettingsFrom(cfg)
	if err != nil {
		return nil, err
	}
	kek, err := issuer.LoadKEK(os.Getenv(kekEnv), kekPath(cfg), false)
	if err != nil {
		return nil, err
	}
	return issuer.NewKeyRing(ctx, st, kek, s.DIDMethod, s.WebDID, s.KeyAlg, nil)
}

// warnLoosePermissions warns when the data directory, or the key-encryption
// key file in it, can be read by the group or others: the files agentcert
// writes are 0600 and the directory it makes 0700, but one made beforehand
// (an image's, an operator's) keeps its mode, and a KEK others can read
// unseals every signing key. It changes nothing (a mounted secret's mode is
// the platform's to set).
func warnLoosePermissions(cfg config.Config, log *slog.Logger) {
	paths := []string{cfg.DataDir}
	if os.Getenv(kekEnv) == "" {
		paths = append(paths, kekPath(cfg))
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || runtime.GOOS == "windows" {
			continue
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			log.Warn("readable by group or others: restrict it (chmod go-rwx)", "path", p, "mode", fmt.Sprintf("%04o", mode))
		}
	}
}

// serve runs the service until ctx is done.
func serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	tuneGC(cfg.MemoryLimitMB, log)
	ensureProcs(log)
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	opts := server.Options{Config: cfg, Logger: log, Schemas: reg}
	var own *issuerParts
	var st store.Store
	if cfg.Issuer.Enabled {
		parts, err := openIssuer(ctx, cfg, reg)
		if err != nil {
			return err
		}
		own = parts
		defer parts.Close()
		warnLoosePermissions(cfg, log)
		st = parts.store
		opts.Store, opts.Issuer, opts.Statuses = parts.store, parts.Service, parts.Statuses
		if opts.OID4VCI, err = wireOID4VCI(cfg, parts); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "issuer DID: %s\n", parts.Keys.Issuer())
		go refreshKeys(ctx, parts.Keys, cfg.Store.RefreshInterval, log)
	}
	var kek []byte
	local := ""
	if opts.Issuer != nil {
		local = opts.Issuer.Keys().Issuer()
		kek = own.kek
	}
	var idKey jwk.Key
	if opts.Receipts, idKey, err = receiptSigner(cfg, kek, local); err != nil {
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
		if own != nil {
			// Whether it is trusted is the policy's business; where its
			// keys and lists come from is this process.
			vopts = append(vopts, verifier.WithLocalIssuer(localIssuer(cfg.PublicURL, own.Parts)))
		}
		if opts.Receipts != nil {
			vopts = append(vopts, verifier.WithReceipts(opts.Receipts))
		}
		if opts.Verifier, err = newVerifier(cfg, p, vopts...); err != nil {
			return err
		}
		vpStore, err := newPresentationStore(cfg)
		if err != nil {
			return err
		}
		if opts.OID4VP, err = server.NewOID4VP(cfg, vpStore, opts.Verifier, opts.Nonces, opts.Receipts, idKey, newFetcher(cfg), log); err != nil {
			return err
		}
	}
	if opts.Issuer != nil {
		keys, sig := opts.Issuer.Keys(), opts.Receipts
		ownRes := newResolver(cfg)
		if strings.HasPrefix(local, "did:web:") {
			// Receipts this service signed are checked against its own document.
			ownRes = withOwnDocument(ownRes, local, func() (*did.Document, error) { return server.DIDDocument(local, keys.PublicKeys(), sig) })
		}
		ist, ok := st.(incident.Store)
		if !ok {
			return fmt.Errorf("the %T store keeps no incidents", st)
		}
		if opts.Incidents, err = incident.New(ist, opts.Statuses, incident.Config{
			Issuer: local, StatusListPrefix: opts.Issuer.StatusURI(""), Keys: receipt.DIDKeys(ownRes),
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
		return unavailable(fmt.Errorf("listen: %w", err))
	}
	if own != nil {
		// Only a start that gets this far makes the bootstrap token: one
		// printed by a start that then failed would be the only copy, and
		// the next start prints none.
		if err := bootstrapToken(ctx, own.store, stdout); err != nil {
			_ = ln.Close()
			return err
		}
	}
	addr := listenAddr(cfg.Listen, ln.Addr())
	fmt.Fprintf(stdout, "listening on http://%s\n", addr)
	log.Info("serving", "addr", addr, "public_url", cfg.PublicURL, "issuer", cfg.Issuer.Enabled, "verifier", cfg.Verifier.Enabled)
	if err := srv.Serve(ctx, ln); err != nil {
		// Serving failed, or requests were still in flight when
		// http.shutdown_timeout ran out: not a clean stop, and no
		// configuration to refuse.
		log.Error("stopped", "err", err)
		return &exitError{code: exitFailure, err: err}
	}
	log.Info("stopped")
	return nil
}

// refreshKeys reloads the key ring every interval until ctx ends, so that
// a rotation or retirement made on another node sharing the database is
// used here within one interval.
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

// listenAddr is the address to report for a listener opened on listen: the
// host as configured (0.0.0.0 stays 0.0.0.0, not the dual-stack [::]) with
// the port actually bound.
func listenAddr(listen string, bound net.Addr) string {
	host, _, err := net.SplitHostPort(listen)
	tcp, ok := bound.(*net.TCPAddr)
	if err != nil || !ok || host == "" {
		return bound.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
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
