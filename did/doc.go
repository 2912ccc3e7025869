// Package did parses DIDs and DID URLs, turns keys into did:key and did:jwk
// identifiers and back, resolves did:web over a guarded HTTPS fetcher, and
// finds the assertion key a credential's kid names.
//
// # Identifiers
//
// Parse and ParseURL check the DID Core syntax and return did_invalid on
// anything else. did:key (Ed25519 and P-256, multicodec + base58btc, P-256
// compressed) and did:jwk are computed offline in both directions:
//
//	id, _ := did.KeyDID(pub)      // "did:key:z6Mk..." or "did:key:zDna..."
//	key, _ := did.PublicKey(id)   // public jwk.Key, alg and kid set
//	kid, _ := did.VerificationMethodID(id)
//
// Only Ed25519 and P-256 keys are supported; other key types are
// did_method_unsupported, never a panic. A did:jwk that carries a private
// key is did_invalid.
//
// # Documents and resolution
//
// DocumentFor builds the document of a did:key or did:jwk; NewWebDocument
// builds the document an issuer serves for its did:web. A Resolver turns a
// DID into its document: NewResolver resolves did:key and did:jwk offline and
// fetches did:web documents (whose id must equal the DID) through a Fetcher;
// NewCachingResolver adds a bounded TTL cache and collapses concurrent
// resolutions of one DID. AssertionKey resolves a kid DID URL to the public
// key of a verification method listed under assertionMethod:
//
//	r := did.NewCachingResolver(did.NewResolver(did.NewFetcher(did.FetcherConfig{})), 5*time.Minute, 1024, nil)
//	key, err := did.AssertionKey(ctx, r, "did:web:issuer.example#key-1")
//
// # The outbound guard
//
// A Fetcher is the one way this project reaches the network for DID
// documents, status lists and metadata. It fetches https only and refuses,
// with fetch_refused and before any connection is made, destinations that
// are loopback, private, link-local, unspecified, CGNAT, multicast or
// otherwise reserved (IPv4-mapped IPv6 included). It checks every address a
// name resolves to, dials only a checked address, checks it again in the
// dialer's Control hook, and repeats all of it on every redirect. Hosts
// named in FetcherConfig.AllowHosts are exempt and may use plain http: that
// is for development only. Bodies are capped (256 KiB by default), time is
// bounded (5 s), and at most 3 redirects are followed. GetConditional sends
// If-None-Match and accepts a 304 answer, for callers that cache by ETag.
//
// Every failure is an *errcode.Error with one of did_invalid,
// did_method_unsupported, did_resolution_failed, key_not_found,
// fetch_refused, fetch_failed (and invalid_input for bad arguments to the
// builders).
package did
