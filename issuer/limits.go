package issuer

import (
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// Limits of this package, in one place.
const (
	// MaxIncident and MaxNote bound the incident reference and the note of
	// a status change, in bytes.
	MaxIncident = 256
	MaxNote     = 2048
)

// EarliestTime is the earliest time a request may name (a filter, an
// expiry): the Unix epoch. Earlier times, the zero time.Time among them,
// are refused rather than read as "no filter".
var EarliestTime = time.Unix(0, 0).UTC()

// CheckTime refuses a time a request names when it is before EarliestTime.
func CheckTime(name string, t time.Time) error {
	if t.Before(EarliestTime) {
		return errcode.New(errcode.InvalidInput, "%s must not be before %s", name, EarliestTime.Format(time.RFC3339))
	}
	return nil
}
