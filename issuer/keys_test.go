package issuer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/issuer"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func kids(keys []jwk.Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.KeyID())
	}
	return out
}

func TestKeyRingNew(t *testing.T) {
	e := newEnv(t)
	active := e.kr.Active()
	if e.kr.Issuer() != testIssuer || !strings.HasPrefix(active.KeyID(), testIssuer+"#") || active.Algorithm().String() != "ES256" || !keyutil.IsPrivate(active) {
		t.Fatalf("issuer %s, active key kid %q alg %v", e.kr.Issuer(), active.KeyID(), active.Algorithm())
	}
	pubs := e.kr.PublicKeys()
	if len(pubs) != 1 || pubs[0].KeyID() != active.KeyID() || keyutil.IsPrivate(pubs[0]) || pubs[0].Algorithm().String() != "ES256" {
		t.Fatalf("public keys %v", kids(pubs))
	}

	// The private key is encrypted at rest: the stored bytes do not hold d.
	stored, err := e.st.Keys(context.Background())
	if err != nil || len(stored) != 1 || !stored[0].Active {
		t.Fatalf("stored keys %+v %v", stored, err)
	}
	raw, _ := keyutil.Marshal(active)
	var d string
	if i := bytes.Index(raw, []byte(`"d":"`)); i >= 0 {
		d = string(raw[i+5 : i+5+bytes.IndexByte(raw[i+5:], '"')])
	}
	dRaw, _ := base64.RawURLEncoding.DecodeString(d)
	if d == "" || bytes.Contains(stored[0].PrivateEnc, []byte(d)) || bytes.Contains(stored[0].PrivateEnc, dRaw) || bytes.Contains(stored[0].PublicJWK, []byte(d)) {
		t.Fatal("the private key is stored in clear")
	}

	// Reopening loads the same key instead of making one.
	e.open()
	if e.kr.Active().KeyID() != active.KeyID() {
		t.Fatalf("reopened key ring has active %s, want %s", e.kr.Active().KeyID(), active.KeyID())
	}
	if ks, _ := e.st.Keys(context.Background()); len(ks) != 1 {
		t.Fatalf("%d keys after reopening", len(ks))
	}
}

func TestKeyRingRotateKeepsOldKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	old := e.kr.Active().KeyID()
	before := e.mustIssue(issuerActor, request(agent))

	kid, err := e.kr.Rotate(ctx, jwa.EdDSA, "tok-admin")
	if err != nil {
		t.Fatal(err)
	}
	if kid == old || e.kr.Active().KeyID() != kid || e.kr.Active().Algorithm().String() != "EdDSA" || !strings.HasPrefix(kid, testIssuer+"#") {
		t.Fatalf("rotate gave %s (old %s), active %s", kid, old, e.kr.Active().KeyID())
	}
	if got := kids(e.kr.PublicKeys()); len(got) != 2 || got[0] != old || got[1] != kid {
		t.Fatalf("public keys %v, want [%s %s]", got, old, kid)
	}
	after := e.mustIssue(issuerActor, request(agent))
	if _, hdr := e.verify(after.Credential); hdr["kid"] != kid || hdr["alg"] != "EdDSA" {
		t.Fatalf("new credential header %v", hdr)
	}
	if _, hdr := e.verify(before.Credential); hdr["kid"] != old {
		t.Fatalf("old credential header %v", hdr)
	}
	audit, err := e.st.Audit(ctx, store.AuditFilter{Target: kid})
	if err != nil || len(audit) != 1 || audit[0].Action != "key.create" || !strings.Contains(string(audit[0].Details), `"active":true`) || audit[0].Actor != "tok-admin" {
		t.Fatalf("audit of the rotation %+v %v", audit, err)
	}

	// A restart keeps both, with the new one active.
	e.open()
	if e.kr.Active().KeyID() != kid || len(e.kr.PublicKeys()) != 2 {
		t.Fatalf("after reopening: active %s, public %v", e.kr.Active().KeyID(), kids(e.kr.PublicKeys()))
	}
	e.verify(before.Credential)

	_, err = e.kr.Rotate(ctx, "HS256", "tok-admin")
	testkit.WantCode(t, err, errcode.UnsupportedAlg, "rotate to HS256")
	if e.kr.Active().KeyID() != kid {
		t.Fatal("a failed rotation changed the active key")
	}
}

func TestKeyRingRetire(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	old := e.kr.Active().KeyID()
	before := e.mustIssue(issuerActor, request(agent))
	kid, err := e.kr.Rotate(ctx, jwa.ES256, "tok-admin")
	if err != nil {
		t.Fatal(err)
	}

	testkit.WantCode(t, e.kr.Retire(ctx, kid, "tok-admin"), errcode.Conflict, "retire the active key")
	testkit.WantCode(t, e.kr.Retire(ctx, testIssuer+"#nope", "tok-admin"), errcode.NotFound, "retire an unknown key")
	if err := e.kr.Retire(ctx, old, "tok-admin"); err != nil {
		t.Fatal(err)
	}
	if got := kids(e.kr.PublicKeys()); len(got) != 1 || got[0] != kid {
		t.Fatalf("public keys after retiring %s: %v", old, got)
	}
	testkit.WantCode(t, e.kr.Retire(ctx, old, "tok-admin"), errcode.Conflict, "retire twice")

	// Credentials signed with a retired key no longer find their key.
	_, err = sdjwtVerify(e, before.Credential)
	testkit.WantCode(t, err, errcode.KeyNotFound, "credential of a retired key")

	e.open()
	if got := kids(e.kr.PublicKeys()); len(got) != 1 || got[0] != kid {
		t.Fatalf("public keys after reopening: %v", got)
	}
}

func TestKeyRingDIDKey(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kek := bytes.Repeat([]byte{7}, issuer.KEKSize)
	kr, err := issuer.NewKeyRing(context.Background(), st, kek, "key", "", jwa.EdDSA, nil)
	if err != nil {
		t.Fatal(err)
	}
	iss := kr.Issuer()
	if !strings.HasPrefix(iss, "did:key:z6Mk") || kr.Active().KeyID() != iss+"#"+strings.TrimPrefix(iss, "did:key:") {
		t.Fatalf("did:key issuer %s, kid %s", iss, kr.Active().KeyID())
	}
	_, err = kr.Rotate(context.Background(), jwa.EdDSA, "tok-admin")
	testkit.WantCode(t, err, errcode.Conflict, "rotate a did:key issuer")
	kr2, err := issuer.NewKeyRing(context.Background(), st, kek, "key", "", jwa.EdDSA, nil)
	if err != nil || kr2.Issuer() != iss {
		t.Fatalf("reopened did:key issuer %v %v, want %s", kr2.Issuer(), err, iss)
	}
}

func TestKeyRingWrongKEK(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := bytes.Repeat([]byte{0xee}, issuer.KEKSize)
	_, err := issuer.NewKeyRing(ctx, e.st, other, "web", testIssuer, jwa.ES256, nil)
	if err == nil || !strings.Contains(err.Error(), "wrong key-encryption key") {
		t.Fatalf("opening with another KEK: %v", err)
	}
	if ks, _ := e.st.Keys(ctx); len(ks) != 1 {
		t.Fatalf("a failed open changed the keys: %d", len(ks))
	}
	for _, n := range []int{0, 7, 31, 33} {
		if _, err := issuer.NewKeyRing(ctx, e.st, make([]byte, n), "web", testIssuer, jwa.ES256, nil); err == nil {
			t.Errorf("a %d-byte KEK was accepted", n)
		}
	}
	// The stored ciphertext is bound to its kid: moving it to another key fails.
	ks, _ := e.st.Keys(ctx)
	moved := ks[0]
	moved.KID, moved.Active = testIssuer+"#moved", true
	if err := e.st.PutKey(ctx, moved, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := issuer.NewKeyRing(ctx, e.st, e.kek, "web", testIssuer, jwa.ES256, nil); err == nil {
		t.Fatal("a ciphertext copied under another kid decrypted")
	}
}

func TestLoadKEK(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{0x42}, issuer.KEKSize)
	b64 := base64.StdEncoding.EncodeToString(key)
	writeFile := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := writeFile("bad.key", "not base64!\n")
	good := writeFile("good.key", b64+"\n")
	short := writeFile("short.key", base64.StdEncoding.EncodeToString(key[:16]))
	missing := filepath.Join(dir, "missing.key")

	for _, tc := range []struct {
		name, env, file string
		generate        bool
		want            []byte // nil: want an error
	}{
		{"env", b64, missing, false, key},
		{"env with white space", "  " + b64 + "\n", missing, false, key},
		{"env wins over a bad file", b64, bad, false, key},
		{"env raw URL encoding", base64.RawURLEncoding.EncodeToString(key), missing, false, nil},
		{"env 16 bytes", base64.StdEncoding.EncodeToString(key[:16]), missing, false, nil},
		{"env 33 bytes", base64.StdEncoding.EncodeToString(append(key, 1)), missing, false, nil},
		{"env not base64", "correct horse battery staple", missing, false, nil},
		{"file", "", good, false, key},
		{"file not base64", "", bad, true, nil},
		{"file too short", "", short, true, nil},
		{"file missing, no generate", "", missing, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := issuer.LoadKEK(tc.env, tc.file, tc.generate)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("want an error, got a %d-byte key", len(got))
				}
				if strings.Contains(err.Error(), b64) {
					t.Fatal("the error shows key material")
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x %v", got, err)
			}
		})
	}
	if b, _ := os.ReadFile(bad); string(b) != "not base64!\n" {
		t.Fatal("a bad key file was overwritten")
	}

	// generate: a new 0600 file, read back on the next start.
	gen := filepath.Join(dir, "gen.key")
	k1, err := issuer.LoadKEK("", gen, true)
	if err != nil || len(k1) != issuer.KEKSize {
		t.Fatalf("generate: %x %v", k1, err)
	}
	fi, err := os.Stat(gen)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key file mode %v %v, want 0600", fi.Mode(), err)
	}
	k2, err := issuer.LoadKEK("", gen, true)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second start read %x %v, want %x", k2, err, k1)
	}
	k3, err := issuer.LoadKEK("", filepath.Join(dir, "gen2.key"), true)
	if err != nil || bytes.Equal(k1, k3) {
		t.Fatal("two generated keys are equal")
	}
	if _, err := issuer.LoadKEK("", filepath.Join(dir, "no-such-dir", "k.key"), true); err == nil {
		t.Fatal("generating into a missing directory succeeded")
	}
}

// TestKeyRingRefreshSeesAnotherNode: two key rings over one store, as two
// nodes on one database. A rotation and a retirement on one are used by the
// other after Refresh, and its status lists are signed by the new key.
func TestKeyRingRefreshSeesAnotherNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other, err := issuer.NewKeyRing(ctx, e.st, e.kek, "web", testIssuer, jwa.ES256, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	first := e.kr.Active().KeyID()
	if other.Active().KeyID() != first {
		t.Fatalf("second ring made its own key %s beside %s", other.Active().KeyID(), first)
	}
	if changed, err := e.kr.Refresh(ctx); err != nil || changed {
		t.Fatalf("Refresh with nothing new = %v, %v", changed, err)
	}
	kid, err := other.Rotate(ctx, jwa.EdDSA, "tok-admin")
	if err != nil {
		t.Fatal(err)
	}
	if e.kr.Active().KeyID() != first {
		t.Fatal("the ring changed before Refresh")
	}
	changed, err := e.kr.Refresh(ctx)
	if err != nil || !changed {
		t.Fatalf("Refresh after another ring rotated = %v, %v", changed, err)
	}
	if got := e.kr.Active(); got.KeyID() != kid || !keyutil.IsPrivate(got) || got.Algorithm().String() != "EdDSA" {
		t.Fatalf("active after Refresh: %s %v", got.KeyID(), got.Algorithm())
	}
	if got := kids(e.kr.PublicKeys()); strings.Join(got, " ") != first+" "+kid {
		t.Fatalf("published after Refresh: %v", got)
	}
	id := e.mustIssue(issuerActor, request(mustAgent(t))).ID
	cr, _ := e.st.Credential(ctx, id)
	p, err := e.statuses.Publish(ctx, cr.ListID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if hdr := decodeB64(t, strings.Split(p.Token, ".")[0]); !strings.Contains(hdr, kid) {
		t.Fatalf("status list signed with %s, want the rotated key %s", hdr, kid)
	}

	if err := other.Retire(ctx, first, "tok-admin"); err != nil {
		t.Fatal(err)
	}
	if changed, err := e.kr.Refresh(ctx); err != nil || !changed {
		t.Fatalf("Refresh after another ring retired = %v, %v", changed, err)
	}
	if got := kids(e.kr.PublicKeys()); strings.Join(got, " ") != kid {
		t.Fatalf("published after the retirement: %v", got)
	}
}

func mustAgent(t *testing.T) string {
	t.Helper()
	agent, _ := newAgentDID(t, jwa.EdDSA)
	return agent
}

// TestKeyRingRetireActiveOnAnotherNode: two issuers opened on one SQLite
// database file, as two replicas. A key the other has made active is not
// retired by the one that has not seen the rotation yet: the store, which
// records the active key, refuses it (conflict) in the retirement's own
// transaction, and the key stays active and published.
func TestKeyRingRetireActiveOnAnotherNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := e.secondNode(t)
	kid, err := other.Rotate(ctx, jwa.EdDSA, "tok-admin")
	if err != nil {
		t.Fatal(err)
	}
	if e.kr.Active().KeyID() == kid {
		t.Fatal("the first issuer saw the rotation before Refresh")
	}
	testkit.WantCode(t, e.kr.Retire(ctx, kid, "tok-admin"), errcode.Conflict, "retire the key another replica made active")
	keys, err := e.st.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.KID == kid && (!k.Active || k.RetiredAt != nil) {
			t.Fatalf("the other replica's active key after the refused retirement: %+v", k)
		}
	}
	if changed, err := e.kr.Refresh(ctx); err != nil || !changed || e.kr.Active().KeyID() != kid {
		t.Fatalf("Refresh = %v, %v; active %s, want %s", changed, err, e.kr.Active().KeyID(), kid)
	}
}

// TestKeyRingRetireOwnStaleActiveKey: a node that has not yet seen another
// node's rotation can retire the key it still signs with (the store says
// it is no longer active), and from then on signs with the store's active
// key: it never keeps signing with a retired one until its next Refresh.
func TestKeyRingRetireOwnStaleActiveKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := e.secondNode(t)
	old := e.kr.Active().KeyID()
	kid, err := other.Rotate(ctx, jwa.EdDSA, "tok-admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.kr.Retire(ctx, old, "tok-admin"); err != nil {
		t.Fatalf("retire the key another node rotated away from: %v", err)
	}
	if got := e.kr.Active().KeyID(); got != kid {
		t.Fatalf("after retiring its stale active key the node signs with %s, want the store's active %s", got, kid)
	}
	for _, k := range e.kr.PublicKeys() {
		if k.KeyID() == old {
			t.Fatalf("the retired key %s is still published", old)
		}
	}
	testkit.WantCode(t, e.kr.Retire(ctx, old, "tok-admin"), errcode.Conflict, "retire it again")
}

// secondNode is another issuer node's key ring on e's database file.
func (e *env) secondNode(t *testing.T) *issuer.KeyRing {
	t.Helper()
	st2, err := store.Open(context.Background(), e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	kr, err := issuer.NewKeyRing(context.Background(), st2, e.kek, "web", testIssuer, jwa.ES256, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}
