package main

import (
	"os"
	"strings"
	"testing"
)

// TestOID4VCIExample runs examples/oid4vci.sh (the curl transcript of
// docs/oid4vci.md) against the binary under test, and checks that every
// curl command of the script is in the document as it runs.
func TestOID4VCIExample(t *testing.T) {
	runExample(t, "oid4vci.sh",
		`"token_type":"Bearer"`,
		`"c_nonce":"`,
		`"typ":"openid4vci-proof+jwt"`,
		`"sub":"did:key:`,
		`"code":"pre_authorized_code_used"`,
		"received 1 credential(s)",
		"VERIFIED",
		"action:  invoices:read ALLOWED",
		"oid4vci example complete",
	)
	script, err := os.ReadFile("../../examples/oid4vci.sh")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/oid4vci.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(script), "\n") {
		if strings.HasPrefix(line, "curl ") || strings.HasPrefix(line, "  --data") {
			if !strings.Contains(string(doc), line) {
				t.Errorf("docs/oid4vci.md lacks the command of examples/oid4vci.sh:\n%s", line)
			}
		}
	}
}
