// Package config holds agentcert's typed configuration: one struct, its
// defaults (which are the development defaults `make run` uses) and Validate.
//
// Viper fills the struct in cmd/agentcert only (defaults < file <
// AGENTCERT_* environment < flags); every other package receives plain values.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is the whole configuration of one agentcert process.
type Config struct {
	Listen    string `mapstructure:"listen"`     // address to listen on
	PublicURL string `mapstructure:"public_url"` // URL clients use to reach this service; the did:web is derived from it (empty: derived from a loopback listen address)
	DataDir   string `mapstructure:"data_dir"`   // SQLite file, key-encryption key file (dev)
	LogLevel  string `mapstructure:"log_level"`  // debug | info | warn | error
	// MemoryLimitMB, when not 0, is the Go runtime's soft memory limit
	// (MiB); under it the garbage collector runs less often (GOGC 400), so
	// that a busy server spends less CPU on it. GOMEMLIMIT and GOGC in the
	// environment take precedence.
	MemoryLimitMB int64 `mapstructure:"memory_limit_mb"`

	HTTP     HTTP     `mapstructure:"http"`
	Store    Store    `mapstructure:"store"`
	Issuer   Issuer   `mapstructure:"issuer"`
	Status   Status   `mapstructure:"status"`
	Verifier Verifier `mapstructure:"verifier"`
	Fetch    Fetch    `mapstructure:"fetch"`
	Receipts Receipts `mapstructure:"receipts"`
	Console  Console  `mapstructure:"console"`
}

// Console configures the auditor console (/console, with the issuer).
type Console struct {
	Enabled     bool          `mapstructure:"enabled"`
	IdleTimeout time.Duration `mapstructure:"idle_timeout"` // a session unused this long ends
	MaxAge      time.Duration `mapstructure:"max_age"`      // a session ends this long after sign-in, used or not
}

// HTTP bounds the server's connections.
type HTTP struct {
	MaxBodyBytes    int64         `mapstructure:"max_body_bytes"`
	ReadTimeout     time.Duration `mapstructure:"read_timeout"`
	WriteTimeout    time.Duration `mapstructure:"write_timeout"`
	IdleTimeout     time.Duration `mapstructure:"idle_timeout"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// MaxConnections bounds the connections open at once (0: no bound);
	// past it new connections wait in the kernel's backlog, and every
	// answer closes its connection until the count is below the bound.
	MaxConnections int `mapstructure:"max_connections"`
	// TokenCacheTTL is how long a server on SQLite remembers a bearer
	// token it found valid (by its hash) before reading the token table
	// again; 0 reads it on every request. A revocation through the API
	// applies at once (it clears the cache before it answers), and the
	// data directory lock keeps the offline CLI from revoking behind the
	// server's back. With a PostgreSQL store (store.url) tokens are read on
	// every request, so that a token revoked on one node is refused by
	// every node at once.
	TokenCacheTTL time.Duration `mapstructure:"token_cache_ttl"`
	// Admission sheds load: per route class a bound on concurrent
	// requests and on those waiting, and a per-token rate.
	Admission Admission `mapstructure:"admission"`
}

// Admission bounds the work each route class takes on at once. A request
// finding every slot of its class taken waits in the class's queue; past
// max_queue, or after queue_timeout, it is answered 503 (overloaded) with
// Retry-After. A queue that has held more work than its slots get through
// in overload_wait for overload_after is served newest first and nobody
// waits in it longer than overload_wait, until it has held less for
// overload_after. Health, readiness and metrics are never shed.
type Admission struct {
	Verify AdmissionClass `mapstructure:"verify"` // POST /v1/verify, GET /v1/nonce
	Issue  AdmissionClass `mapstructure:"issue"`  // issuance, status changes, offers, the OpenID4VCI endpoints
	Status AdmissionClass `mapstructure:"status"` // public reads: status lists, DID document, metadata, schemas
	Admin  AdmissionClass `mapstructure:"admin"`  // tokens, keys, audit, credential records, incidents
	// OverloadAfter: a class whose queue has stayed long (more waiters
	// than slots, and more work than the slots get through in
	// OverloadWait) this long is overloaded, until its queue has stayed
	// short this long (0: never; the queue stays first come first served).
	OverloadAfter time.Duration `mapstructure:"overload_after"`
	// OverloadWait is the queueing delay aimed at: the work that makes a
	// queue long, and the longest wait in an overloaded class's queue.
	OverloadWait time.Duration `mapstructure:"overload_wait"`
	// RetryAfter is what a 503 tells the client to wait (whole seconds,
	// rounded up).
	RetryAfter time.Duration `mapstructure:"retry_after"`
	// TokenRate is the requests per second each bearer token may make on
	// average (0: no limit), in bursts of up to TokenBurst; past it 429
	// (rate_limited) with Retry-After.
	TokenRate  float64 `mapstructure:"token_rate"`
	TokenBurst int     `mapstructure:"token_burst"`
}

// AdmissionClass is one route class's bounds.
type AdmissionClass struct {
	MaxConcurrent int           `mapstructure:"max_concurrent"` // requests served at once (0: one fewer than GOMAXPROCS, at least 1)
	MaxQueue      int           `mapstructure:"max_queue"`      // requests waiting at once (0: none)
	QueueTimeout  time.Duration `mapstructure:"queue_timeout"`  // longest wait for a slot
}

// Store selects the issuer's database.
type Store struct {
	// URL is empty for the embedded SQLite database in data_dir (one
	// node), or a postgres:// URL of a database that several issuer nodes
	// share.
	URL string `mapstructure:"url"`
	// RefreshInterval is how often a node reloads the signing keys, so
	// that a rotation made on another node is used here too.
	RefreshInterval time.Duration `mapstructure:"refresh_interval"`
}

// Issuer configures the issuing surface (credentials, keys, tokens, audit).
type Issuer struct {
	Enabled         bool          `mapstructure:"enabled"`
	DIDMethod       string        `mapstructure:"did_method"` // web | key
	KeyAlg          string        `mapstructure:"key_alg"`    // ES256 | EdDSA
	DefaultValidity time.Duration `mapstructure:"default_validity"`
	MaxValidity     time.Duration `mapstructure:"max_validity"`
	// KeyEncryptionKeyFile is used when AGENTCERT_KEY_ENCRYPTION_KEY is not
	// set; GenerateKEK allows creating it (dev only).
	KeyEncryptionKeyFile string `mapstructure:"key_encryption_key_file"`
	GenerateKEK          bool   `mapstructure:"generate_kek"`
}

// Status configures the published status lists.
type Status struct {
	ListSize int           `mapstructure:"list_size"` // entries per list, from 131072 to 67108864
	TTL      time.Duration `mapstructure:"ttl"`       // Status List Token ttl (and Cache-Control max-age)
	Validity time.Duration `mapstructure:"validity"`  // Status List Token exp - iat
}

// Trust names an issuer trusted for a set of credential types.
type Trust struct {
	Issuer string   `mapstructure:"issuer"` // DID or https issuer identifier
	VCTs   []string `mapstructure:"vcts"`
}

// Verifier configures POST /v1/verify, GET /v1/nonce and the offline verify.
type Verifier struct {
	Enabled          bool          `mapstructure:"enabled"`
	TrustLocalIssuer bool          `mapstructure:"trust_local_issuer"` // trust this process's own issuer DID for the agent-certification vct
	Trusted          []Trust       `mapstructure:"trusted"`
	Algorithms       []string      `mapstructure:"algorithms"`
	RequireKB        bool          `mapstructure:"require_kb"`
	MaxKBAge         time.Duration `mapstructure:"max_kb_age"`
	Leeway           time.Duration `mapstructure:"leeway"`
	RequiredClaims   []string      `mapstructure:"required_claims"` // JSON Pointers that must be disclosed
	CheckStatus      bool          `mapstructure:"check_status"`
	MaxStatusAge     time.Duration `mapstructure:"max_status_age"`
	RequireNonce     bool          `mapstructure:"require_nonce"` // KB-JWT nonce must come from GET /v1/nonce
	NonceTTL         time.Duration `mapstructure:"nonce_ttl"`
	NonceSecrets     []string      `mapstructure:"nonce_secrets"` // base64 secrets, first signs; empty = random per process
	NonceStore       string        `mapstructure:"nonce_store"`   // where spent nonces are kept: "memory" (one replica) or a redis:// URL shared by replicas
	// PresentationCallback, when set, receives each OpenID4VP outcome as a
	// JSON POST (through the outbound guard); a delivered outcome is not
	// kept for GET /v1/presentation-requests/{id}.
	PresentationCallback string        `mapstructure:"presentation_callback"`
	RequireToken         bool          `mapstructure:"require_token"` // bearer token (any role) needed for /v1/verify
	CacheTTL             time.Duration `mapstructure:"cache_ttl"`     // resolved DID documents and issuer keys
	CacheEntries         int           `mapstructure:"cache_entries"`
	// Delegation chains: at most this many hops, each valid at most this long.
	MaxDelegationDepth    int           `mapstructure:"max_delegation_depth"`
	MaxDelegationLifetime time.Duration `mapstructure:"max_delegation_lifetime"`
	// Human approvals: every irreversible action needs one, whatever the
	// credential says; IrreversibleActions are regarded as irreversible.
	ApproveIrreversible bool     `mapstructure:"approve_irreversible"`
	IrreversibleActions []string `mapstructure:"irreversible_actions"`
}

// Fetch configures the guarded outbound fetcher (did:web, status lists, issuer metadata).
type Fetch struct {
	AllowHosts []string      `mapstructure:"allow_hosts"` // dev only: exempt from the private-address guard, plain http allowed
	Timeout    time.Duration `mapstructure:"timeout"`
	MaxBytes   int64         `mapstructure:"max_bytes"`
}

// Receipts configures the verifier's signed receipts and the receipt log
// (the counterparty's action log).
type Receipts struct {
	Enabled bool `mapstructure:"enabled"` // sign a receipt of every /v1/verify decision
	// KeyFile is the receipt key in verifier-only mode: a private JWK
	// (agentcert did create --out). Empty: a key made for this process
	// alone, whose did:key changes on every start. In issuer mode the key is
	// generated and kept sealed under the key-encryption key in the data
	// directory (receipt.key), and Validate refuses a KeyFile.
	KeyFile string `mapstructure:"key_file"`
	// DIDMethod is the verifier's DID in verifier-only mode: key (the did:key
	// of the receipt key) or web (the did:web of public_url; this process
	// then serves /.well-known/did.json). In issuer mode receipts are signed
	// under the issuer's did:web (or, for a did:key issuer, the receipt
	// key's own did:key).
	DIDMethod   string `mapstructure:"did_method"`
	LogFile     string `mapstructure:"log_file"`      // JSON-lines receipt log; empty: none
	LogStore    string `mapstructure:"log_store"`     // a postgres:// URL to record receipts in instead; empty: none
	LogMaxBytes int64  `mapstructure:"log_max_bytes"` // rotate the log before it passes this size
	LogMaxFiles int    `mapstructure:"log_max_files"` // rotated files kept
}

// AgentCertificationVCT is the credential type agentcert issues.
const AgentCertificationVCT = "urn:agentcert:agent-certification:v1"

// MinStatusListSize is the smallest list size allowed, for herd privacy.
const MinStatusListSize = 131072

// MaxStatusListSize is the largest list size allowed: at 2 bits an entry,
// its list is 16 MiB uncompressed, the most a verifier inflates
// (revocation.DefaultMaxBytes). A larger list would be refused by every
// verifier (each credential on it unverifiable), and its bitmaps would be
// allocated in memory at the first issuance.
const MaxStatusListSize = 1 << 26

// MinMemoryLimitMB is the smallest memory_limit_mb (other than 0, none): a
// limit the live heap reaches makes the collector run without pause.
const MinMemoryLimitMB = 64

// MaxTokenCacheTTL bounds http.token_cache_ttl: a revocation made outside
// the API must not wait long to apply.
const MaxTokenCacheTTL = time.Minute

// Default returns the development defaults that `make run` uses. They are
// the same values as configs/dev.yaml (a test keeps the two equal).
func Default() Config {
	return Config{
		Listen:    "127.0.0.1:8080",
		PublicURL: "",
		DataDir:   "./data",
		LogLevel:  "info",
		HTTP: HTTP{
			MaxBodyBytes:    1 << 20,
			ReadTimeout:     10 * time.Second,
			WriteTimeout:    30 * time.Second,
			IdleTimeout:     120 * time.Second,
			ShutdownTimeout: 20 * time.Second,
			MaxConnections:  1024,
			TokenCacheTTL:   time.Second,
			Admission: Admission{
				Verify:        AdmissionClass{MaxConcurrent: 0, MaxQueue: 512, QueueTimeout: 2 * time.Second},
				Issue:         AdmissionClass{MaxConcurrent: 32, MaxQueue: 256, QueueTimeout: 2 * time.Second},
				Status:        AdmissionClass{MaxConcurrent: 128, MaxQueue: 1024, QueueTimeout: 2 * time.Second},
				Admin:         AdmissionClass{MaxConcurrent: 16, MaxQueue: 128, QueueTimeout: 2 * time.Second},
				OverloadAfter: 20 * time.Millisecond,
				OverloadWait:  10 * time.Millisecond,
				RetryAfter:    time.Second,
				TokenBurst:    100,
			},
		},
		Store: Store{RefreshInterval: time.Second},
		Issuer: Issuer{
			Enabled:              true,
			DIDMethod:            "web",
			KeyAlg:               "ES256",
			DefaultValidity:      30 * 24 * time.Hour,
			MaxValidity:          366 * 24 * time.Hour,
			KeyEncryptionKeyFile: "kek.key",
			GenerateKEK:          true,
		},
		Status: Status{ListSize: MinStatusListSize, TTL: 5 * time.Minute, Validity: 24 * time.Hour},
		Verifier: Verifier{
			Enabled:          true,
			TrustLocalIssuer: true,
			Algorithms:       []string{"ES256", "EdDSA"},
			RequireKB:        true,
			MaxKBAge:         5 * time.Minute,
			Leeway:           30 * time.Second,
			CheckStatus:      true,
			MaxStatusAge:     5 * time.Minute,
			NonceTTL:         5 * time.Minute,
			NonceStore:       "memory",
			CacheTTL:         5 * time.Minute,
			CacheEntries:     1024,

			MaxDelegationDepth:    3,
			MaxDelegationLifetime: time.Hour,
		},
		Fetch: Fetch{
			AllowHosts: []string{"127.0.0.1", "localhost"},
			Timeout:    5 * time.Second,
			MaxBytes:   256 << 10,
		},
		Receipts: Receipts{Enabled: true, DIDMethod: "key", LogMaxBytes: 64 << 20, LogMaxFiles: 10},
		Console:  Console{Enabled: true, IdleTimeout: 15 * time.Minute, MaxAge: 8 * time.Hour},
	}
}

// DerivePublicURL fills an empty PublicURL from a loopback listen address
// (http://127.0.0.1:9300 for listen 127.0.0.1:9300), so that a development
// server on another port serves the DID it signs with. Any other listen
// address leaves it empty: only the operator knows the URL clients use, and
// Validate then refuses an issuer without one.
func (c *Config) DerivePublicURL() {
	if c.PublicURL != "" {
		return
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil || port == "" || port == "0" {
		return
	}
	if host == "localhost" {
		c.PublicURL = "http://" + net.JoinHostPort(host, port)
		return
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		c.PublicURL = "http://" + net.JoinHostPort(ip.String(), port)
	}
}

// Validate completes the derived values (DerivePublicURL), then checks
// every value and returns all problems found, each naming its key.
func (c *Config) Validate() error {
	c.DerivePublicURL()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port", c.Listen)
	}
	if c.PublicURL == "" {
		if c.Issuer.Enabled {
			if _, port, err := net.SplitHostPort(c.Listen); err == nil && (port == "" || port == "0") {
				bad("public_url", "is required when listen (%s) has no fixed port: set it (or --public-url) to the URL clients use; the issuer's DID comes from it", c.Listen)
			} else {
				bad("public_url", "is required when listen (%s) is not a loopback address: set it (or --public-url) to the URL clients use; the issuer's DID comes from it", c.Listen)
			}
		}
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("public_url", "%q is not an http(s) URL", c.PublicURL)
	} else if u.RawQuery != "" || u.Fragment != "" {
		bad("public_url", "%q must not have a query or fragment", c.PublicURL)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.MemoryLimitMB != 0 && (c.MemoryLimitMB < MinMemoryLimitMB || c.MemoryLimitMB > math.MaxInt64>>20) {
		bad("memory_limit_mb", "must be 0 (none) or at least %d", MinMemoryLimitMB)
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		bad("http.max_body_bytes", "must be positive")
	}
	for key, d := range map[string]time.Duration{
		"http.read_timeout": c.HTTP.ReadTimeout, "http.write_timeout": c.HTTP.WriteTimeout,
		"http.idle_timeout": c.HTTP.IdleTimeout, "http.shutdown_timeout": c.HTTP.ShutdownTimeout,
		"fetch.timeout": c.Fetch.Timeout, "console.idle_timeout": c.Console.IdleTimeout, "console.max_age": c.Console.MaxAge,
	} {
		if d <= 0 {
			bad(key, "must be a positive duration")
		}
	}
	if c.HTTP.MaxConnections < 0 {
		bad("http.max_connections", "must be 0 (no bound) or more")
	}
	if c.HTTP.TokenCacheTTL < 0 || c.HTTP.TokenCacheTTL > MaxTokenCacheTTL {
		bad("http.token_cache_ttl", "must be between 0 (off) and %s", MaxTokenCacheTTL)
	}
	c.HTTP.Admission.validate(bad)
	if c.Issuer.Enabled {
		if c.DataDir == "" {
			bad("data_dir", "is required when the issuer is enabled")
		}
		switch c.Issuer.DIDMethod {
		case "web", "key":
		default:
			bad("issuer.did_method", "%q is not one of web, key", c.Issuer.DIDMethod)
		}
		switch c.Issuer.KeyAlg {
		case "ES256", "EdDSA":
		default:
			bad("issuer.key_alg", "%q is not one of ES256, EdDSA", c.Issuer.KeyAlg)
		}
		if c.Issuer.DefaultValidity <= 0 || c.Issuer.MaxValidity < c.Issuer.DefaultValidity {
			bad("issuer.default_validity", "must be positive and at most issuer.max_validity")
		}
		if c.Status.ListSize < MinStatusListSize || c.Status.ListSize > MaxStatusListSize || c.Status.ListSize%8 != 0 {
			bad("status.list_size", "must be a multiple of 8 from %d to %d", MinStatusListSize, MaxStatusListSize)
		}
		if u := c.Store.URL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
			bad("store.url", "must be empty (SQLite in data_dir) or a postgres:// URL")
		}
		if c.Store.RefreshInterval <= 0 {
			bad("store.refresh_interval", "must be a positive duration")
		}
		if c.Status.TTL <= 0 || c.Status.Validity < c.Status.TTL {
			bad("status.ttl", "must be positive and at most status.validity")
		}
	}
	if c.Verifier.Enabled {
		for i, a := range c.Verifier.Algorithms {
			if a != "ES256" && a != "EdDSA" {
				bad(fmt.Sprintf("verifier.algorithms[%d]", i), "%q is not one of ES256, EdDSA", a)
			}
		}
		if len(c.Verifier.Algorithms) == 0 {
			bad("verifier.algorithms", "must list at least one algorithm")
		}
		if c.Verifier.MaxDelegationDepth < 1 || c.Verifier.MaxDelegationDepth > 8 {
			bad("verifier.max_delegation_depth", "must be between 1 and 8 (the format's limit)")
		}
		if c.Verifier.MaxDelegationLifetime <= 0 {
			bad("verifier.max_delegation_lifetime", "must be a positive duration")
		}
		for i, t := range c.Verifier.Trusted {
			if !strings.HasPrefix(t.Issuer, "did:") && !strings.HasPrefix(t.Issuer, "https://") {
				bad(fmt.Sprintf("verifier.trusted[%d].issuer", i), "%q is neither a DID nor an https URL", t.Issuer)
			}
			if len(t.VCTs) == 0 {
				bad(fmt.Sprintf("verifier.trusted[%d].vcts", i), "must list at least one vct")
			}
		}
		if c.Verifier.MaxKBAge <= 0 || c.Verifier.NonceTTL <= 0 || c.Verifier.CacheTTL <= 0 {
			bad("verifier", "max_kb_age, nonce_ttl and cache_ttl must be positive")
		}
		if c.Verifier.Leeway < 0 || c.Verifier.MaxStatusAge < 0 {
			bad("verifier", "leeway and max_status_age must not be negative")
		}
		if c.Verifier.RequireToken && !c.Issuer.Enabled {
			bad("verifier.require_token", "needs the issuer's token store (issuer.enabled: true)")
		}
		if cb := c.Verifier.PresentationCallback; cb != "" {
			if u, err := url.Parse(cb); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad("verifier.presentation_callback", "must be an http(s) URL")
			}
		}
		if n := c.Verifier.NonceStore; n != "memory" && !strings.HasPrefix(n, "redis://") && !strings.HasPrefix(n, "rediss://") {
			bad("verifier.nonce_store", "must be memory or a redis:// URL")
		} else if n != "memory" && len(c.Verifier.NonceSecrets) == 0 {
			// Random per-process secrets would make every replica refuse
			// the others' nonces.
			bad("verifier.nonce_store", "a shared nonce store needs verifier.nonce_secrets, the same on every replica")
		}
		if c.Verifier.CacheEntries <= 0 {
			bad("verifier.cache_entries", "must be positive")
		}
	}
	if c.Fetch.MaxBytes <= 0 {
		bad("fetch.max_bytes", "must be positive")
	}
	if c.Receipts.Enabled {
		if c.Receipts.DIDMethod != "key" && c.Receipts.DIDMethod != "web" {
			bad("receipts.did_method", "%q is not one of key, web", c.Receipts.DIDMethod)
		}
		if c.Receipts.LogMaxBytes <= 0 || c.Receipts.LogMaxFiles <= 0 {
			bad("receipts", "log_max_bytes and log_max_files must be positive")
		}
		if c.Receipts.KeyFile != "" && c.Issuer.Enabled {
			// It would be ignored: receipts would be signed by another key
			// than the one the operator gave.
			bad("receipts.key_file", "is for verifier-only mode: with the issuer enabled the receipt key is the one sealed in data_dir (receipt.key)")
		}
		if c.Receipts.LogFile != "" && c.Receipts.LogStore != "" {
			bad("receipts.log_store", "give log_file or log_store, not both")
		}
		if c.Receipts.LogStore != "" && !strings.HasPrefix(c.Receipts.LogStore, "postgres://") && !strings.HasPrefix(c.Receipts.LogStore, "postgresql://") {
			bad("receipts.log_store", "must be a postgres:// URL")
		}
	}
	if !c.Issuer.Enabled && !c.Verifier.Enabled {
		errs = append(errs, errors.New("config: neither issuer nor verifier is enabled"))
	}
	return errors.Join(errs...)
}

func (a Admission) validate(bad func(key, format string, args ...any)) {
	for _, c := range []struct {
		name string
		cl   AdmissionClass
	}{{"verify", a.Verify}, {"issue", a.Issue}, {"status", a.Status}, {"admin", a.Admin}} {
		key, cl := "http.admission."+c.name, c.cl
		if cl.MaxConcurrent < 0 {
			bad(key+".max_concurrent", "must be 0 (one fewer than GOMAXPROCS) or more")
		}
		if cl.MaxQueue < 0 {
			bad(key+".max_queue", "must not be negative")
		}
		if cl.QueueTimeout <= 0 {
			bad(key+".queue_timeout", "must be a positive duration")
		}
	}
	if a.OverloadAfter < 0 {
		bad("http.admission.overload_after", "must be 0 (never overloaded) or a positive duration")
	}
	if a.OverloadAfter > 0 && a.OverloadWait <= 0 {
		bad("http.admission.overload_wait", "must be a positive duration when overload_after is set")
	}
	if a.RetryAfter <= 0 {
		bad("http.admission.retry_after", "must be a positive duration")
	}
	if a.TokenRate < 0 || math.IsNaN(a.TokenRate) || math.IsInf(a.TokenRate, 0) {
		bad("http.admission.token_rate", "must be a finite number, 0 or more")
	}
	if a.TokenRate > 0 && a.TokenBurst < 1 {
		bad("http.admission.token_burst", "must be at least 1 when token_rate is set")
	}
}
