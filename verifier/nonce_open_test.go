package verifier

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

func TestNoncesOpen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	n, err := NewNonces([][]byte{bytes.Repeat([]byte{1}, 32)}, time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	a, exp, err := n.Issue()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := n.Issue()
	gotExp, idA, err := n.Open(a)
	if err != nil || !gotExp.Equal(exp) {
		t.Fatalf("Open: %v, expiry %v want %v", err, gotExp, exp)
	}
	_, idA2, _ := n.Open(a)
	_, idB, _ := n.Open(b)
	if !bytes.Equal(idA, idA2) || bytes.Equal(idA, idB) {
		t.Fatal("a nonce's identity must be stable and differ from another nonce's")
	}
	// Open does not spend: Use still accepts the nonce once.
	if err := n.Use(context.Background(), a); err != nil {
		t.Fatalf("Use after Open: %v", err)
	}
	other, _ := NewNonces([][]byte{bytes.Repeat([]byte{2}, 32)}, time.Minute, func() time.Time { return now })
	if _, _, err := other.Open(a); errcode.CodeOf(err) != errcode.NonceInvalid {
		t.Fatalf("Open under another secret: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, _, err := n.Open(b); errcode.CodeOf(err) != errcode.NonceExpired {
		t.Fatalf("Open after expiry: %v", err)
	}
}
