package verifier

import (
	"context"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/receipt"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// FetchFunc fetches a URL: accept is the Accept header, maxBytes caps the
// body (<= 0: the fetcher's default). (*did.Fetcher).Fetch is one.
type FetchFunc func(ctx context.Context, url, accept string, maxBytes int64) ([]byte, error)

// An Option changes one of New's defaults.
type Option func(*settings)

// settings are what the options set; New fills in the defaults.
type settings struct {
	fetcher      *did.Fetcher
	fetch        FetchFunc
	resolver     did.Resolver
	nonces       *Nonces
	now          func() time.Time
	cacheTTL     time.Duration
	cacheEntries int

	receipts          *receipt.Signer
	noCredentialCache bool

	// The trust modes of offline inspection (see Inspecting).
	pinned    jwk.Key
	anyIssuer bool

	local *LocalIssuer
}

// WithLocalIssuer names the issuer that runs in the same process: its keys
// and status lists are read from l, never fetched nor cached past a change
// (see LocalIssuer).
func WithLocalIssuer(l *LocalIssuer) Option {
	return func(s *settings) { s.local = l }
}

// WithFetcher makes every fetch (https issuer metadata, status lists and,
// unless WithResolver replaces the resolver, did:web documents) go through
// f. The default is did.NewFetcher(did.FetcherConfig{}): HTTPS only, no
// loopback, private or link-local address.
func WithFetcher(f *did.Fetcher) Option {
	return func(s *settings) { s.fetcher = f }
}

// WithFetch replaces how https issuer metadata and status lists are
// fetched (DID resolution is WithResolver's). It is the seam for tests and
// for fetchers of one's own, which must guard outbound requests as
// did.Fetcher does.
func WithFetch(f FetchFunc) Option {
	return func(s *settings) { s.fetch = f }
}

// WithResolver replaces the DID resolver. The default is a caching
// resolver (did.NewCachingResolver) over did.NewResolver and the fetcher;
// a resolver of one's own should cache too.
func WithResolver(r did.Resolver) Option {
	return func(s *settings) { s.resolver = r }
}

// WithNonces names the nonce service whose nonces Policy.RequireNonce
// demands (required with it).
func WithNonces(n *Nonces) Option {
	return func(s *settings) { s.nonces = n }
}

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) { s.now = now }
}

// WithCache sets how long parsed issuer keys, https issuer metadata and DID
// documents are kept (default DefaultCacheTTL) and how many of each
// (default DefaultCacheEntries); non-positive values keep the default.
func WithCache(ttl time.Duration, entries int) Option {
	return func(s *settings) { s.cacheTTL, s.cacheEntries = ttl, entries }
}

// WithReceipts makes Verify sign a receipt of every decision with s
// (Result.Receipt): what was checked and decided, provable later by anyone
// with the verifier's public key.
func WithReceipts(r *receipt.Signer) Option {
	return func(s *settings) { s.receipts = r }
}

// WithoutCredentialCache turns off the verified-credential cache. By
// default a verifier remembers, as many and for as long as WithCache says,
// the issuer-signed JWTs whose signature it has checked (by a digest of
// their exact bytes, signature included), and a repeat presentation of one
// skips that signature check and the parsing of its cnf.jwk; every other
// check still runs (see sdjwt.VerifiedCache). It turns off as well the
// cache of delegation hop payloads that validated against the delegation
// schema (keyed by a digest of the exact disclosure; a repeat skips only
// that validation, see Verifier.HopSchemaCacheStats).
func WithoutCredentialCache() Option {
	return func(s *settings) { s.noCredentialCache = true }
}

// WithPinnedIssuerKey makes k the issuer key of every credential and status
// list, whatever iss says, and trusts that issuer for every vct. It is for
// offline inspection (agentcert verify --issuer-jwk), never for a service:
// the verifier then reports Inspecting.
func WithPinnedIssuerKey(k jwk.Key) Option {
	return func(s *settings) { s.pinned = k }
}

// WithAnyIssuer trusts any issuer whose key resolves, for every vct. It is
// for offline inspection (agentcert verify without --trust), never for a
// service: the verifier then reports Inspecting.
func WithAnyIssuer() Option {
	return func(s *settings) { s.anyIssuer = true }
}
