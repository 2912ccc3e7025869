package issuer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/internal/store"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// TestRotateDIDKeyPutKeyFails: the first key of a did:key issuer (its DID)
// is taken into the ring only once the store holds it. A PutKey that fails
// (the store is closed) leaves the ring as it was, with no DID and no
// key; a rotation that succeeds then sets both.
func TestRotateDIDKeyPutKeyFails(t *testing.T) {
	ctx := context.Background()
	kek := make([]byte, KEKSize)
	dir := t.TempDir()
	closed, err := store.Open(ctx, filepath.Join(dir, "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	kr, err := newKeyRing(closed, kek, "key", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Rotate(ctx, jwa.EdDSA, "system"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("rotate on a closed store: %v", err)
	}
	if kr.Issuer() != "" || kr.Active() != nil || len(kr.PublicKeys()) != 0 {
		t.Fatalf("after a failed PutKey: issuer %q, active %v, %d published keys; want the ring as it was", kr.Issuer(), kr.Active(), len(kr.PublicKeys()))
	}

	st, err := store.Open(ctx, filepath.Join(dir, "open.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr.store = st
	kid, err := kr.Rotate(ctx, jwa.EdDSA, "system")
	if err != nil {
		t.Fatal(err)
	}
	if did, _, _ := strings.Cut(kid, "#"); kr.Issuer() != did || !strings.HasPrefix(did, "did:key:") || kr.Active().KeyID() != kid {
		t.Fatalf("after the rotation: issuer %q, active %s", kr.Issuer(), kr.Active().KeyID())
	}
}
