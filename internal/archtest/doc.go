// Package archtest holds the test that keeps the package layout's arrows
// pointing down: core packages import no HTTP router, no config library, no
// SQL, and the verifier no storage at all.
package archtest
