// Command agentcert is the agentcert CLI and server: it creates DIDs, issues,
// presents and verifies agent certifications offline, and serves the issuer,
// status-list and verifier HTTP APIs.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/agentcert/agentcert/errcode"
)

// Exit codes of every command.
const (
	exitOK          = 0
	exitNotVerified = 1 // verification ran and failed
	exitUsage       = 2 // bad flags, missing file, bad JSON, wrong key type
	// exitFailure is serve's exit when it fails on something outside its
	// configuration (the database unreachable, the listen address taken):
	// a supervisor retries it, unlike a refused configuration (exitUsage).
	exitFailure = 1
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	root := newRootCmd()
	err := root.Execute()
	if err == nil {
		os.Exit(exitOK)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.code != exitNotVerified {
			fmt.Fprintln(os.Stderr, "agentcert:", oneLine(ee.err))
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "agentcert:", oneLine(err))
	os.Exit(exitUsage)
}

// oneLine renders err for a person: the safe message of an *errcode.Error
// with its code, or the error text.
func oneLine(err error) string {
	var e *errcode.Error
	if errors.As(err, &e) {
		if e.Err != nil {
			return fmt.Sprintf("%s (%s): %v", e.Message, e.Code, e.Err)
		}
		return fmt.Sprintf("%s (%s)", e.Message, e.Code)
	}
	return err.Error()
}
