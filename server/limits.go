package server

import "time"

// Limits and defaults of the HTTP service, in one place. The request body
// cap is configuration (http.max_body_bytes).
const (
	// maxHeaderBytes bounds a request's header section: room for the
	// largest presentation in Agent-Credential (sdjwt's 64 KiB), an
	// approval (16 KiB) and the signature fields, while max_connections of
	// them stay a bounded amount of memory (net/http's default is 1 MiB).
	maxHeaderBytes = 256 << 10

	// maxIdempotencyKey is the longest Idempotency-Key accepted.
	maxIdempotencyKey = 255

	// defaultPageSize and maxPageSize bound the limit query parameter of
	// list endpoints.
	defaultPageSize = 100
	maxPageSize     = 1000

	// readyInterval is how long a successful store check answers /readyz,
	// so that probes cannot crowd the store's single writer.
	readyInterval = time.Second

	// readyTimeout bounds one store check of /readyz.
	readyTimeout = 2 * time.Second

	// wellKnownMaxAge is the Cache-Control max-age of the issuer's DID
	// document and JWT VC issuer metadata.
	wellKnownMaxAge = "max-age=60"
)
