package issuer

// Limits of this package, in one place.
const (
	// MaxIncident and MaxNote bound the incident reference and the note of
	// a status change, in bytes.
	MaxIncident = 256
	MaxNote     = 2048
)
