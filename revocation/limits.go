package revocation

import "time"

// Limits and defaults of this package, in one place.
const (
	// MinW3CEntries is the minimum number of entries of a W3C Bitstring
	// Status List (BSL v1.0 section 2.2: at least 16 KB uncompressed;
	// minimumNumberOfEntries 131,072 in the validation algorithm, section 3.2).
	MinW3CEntries = 131072

	// DefaultMaxBytes caps the decompressed size of a status list and the
	// size of a Status List Token when an option leaves it 0 (16 MiB).
	DefaultMaxBytes = 16 << 20

	// DefaultMaxEntries bounds the number of status lists a Client caches
	// when ClientOptions.MaxEntries is 0.
	DefaultMaxEntries = 1024

	// DefaultMaxStatusAge is the policy default for max_status_age. The
	// Client does not apply it (MaxAge 0 means "always fetch"); callers that
	// read a policy apply it when the policy leaves the value unset.
	DefaultMaxStatusAge = 5 * time.Minute

	// MediaTypeStatusListJWT is the media type of a Status List Token in JWT
	// form (draft-ietf-oauth-status-list section 5.1); it is also the Accept
	// header the Client sends.
	MediaTypeStatusListJWT = "application/statuslist+jwt"

	// TypStatusListJWT is the JOSE typ header of a Status List Token.
	TypStatusListJWT = "statuslist+jwt"

	// TypVCJWT is the JOSE typ header of the W3C BitstringStatusListCredential
	// secured with JOSE (VC-JOSE-COSE).
	TypVCJWT = "vc+jwt"
)

// bound returns v, or def when v is not positive.
func bound(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// compressionLevel is the DEFLATE level of both encoders. Issued indexes are
// random, so set entries are scattered: the best-compression level costs
// about 35x the time of the default level (470 ms against 13 ms for a
// 1,048,576-entry list with 1% set) for about 15% fewer bytes, and a list is
// re-encoded after every change.
const compressionLevel = 6
