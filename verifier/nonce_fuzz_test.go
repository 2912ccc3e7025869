package verifier

import (
	"context"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// FuzzNonceCheck: Check never panics, and accepts only nonces this service
// issued (anything else is nonce_invalid, nonce_expired or nonce_replayed).
func FuzzNonceCheck(f *testing.F) {
	n, err := NewNonces([][]byte{[]byte("fuzz-secret-0123456789")}, time.Minute, nil)
	if err != nil {
		f.Fatal(err)
	}
	good, _, _ := n.Issue()
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add(good + good)
	f.Fuzz(func(t *testing.T, s string) {
		err := n.Check(context.Background(), s)
		switch errcode.CodeOf(err) {
		case "", errcode.NonceInvalid, errcode.NonceExpired, errcode.NonceReplayed:
		default:
			t.Fatalf("Check(%q): unexpected %v", s, err)
		}
	})
}
