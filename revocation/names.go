package revocation

import (
	"strconv"
	"strings"
)

// statusNames are the names of the status values this project sets; the
// API, the CLI, metrics and verification results all use them.
var statusNames = [...]string{StatusValid: "valid", StatusRevoked: "revoked", StatusSuspended: "suspended"}

// StatusName names a status value: "valid", "revoked", "suspended", or
// "status_N" for another value N.
func StatusName(v uint8) string {
	if int(v) < len(statusNames) {
		return statusNames[v]
	}
	return "status_" + strconv.Itoa(int(v))
}

// ParseStatusName is StatusName's inverse for the three named values.
func ParseStatusName(s string) (uint8, bool) {
	for v, n := range statusNames {
		if n == s {
			return uint8(v), true
		}
	}
	return 0, false
}

// StatusNames lists the named values, for messages ("valid, revoked or
// suspended").
func StatusNames() string {
	return strings.Join(statusNames[:len(statusNames)-1], ", ") + " or " + statusNames[len(statusNames)-1]
}
