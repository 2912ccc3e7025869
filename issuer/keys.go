package issuer

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// KeyStore is the part of the store the key ring needs.
type KeyStore interface {
	PutKey(ctx context.Context, k records.Key, a *records.AuditEntry) error
	Keys(ctx context.Context) ([]records.Key, error)
	ActivateKey(ctx context.Context, kid string, a *records.AuditEntry) error
	RetireKey(ctx context.Context, kid string, at time.Time, a *records.AuditEntry) error
}

// KEKSize is the size of the key-encryption key (AES-256).
const KEKSize = 32

// LoadKEK returns the key-encryption key: from env (base64, 32 bytes) when
// non-empty, else from file, which is created with mode 0600 when generate is
// true and it does not exist.
func LoadKEK(env, file string, generate bool) ([]byte, error) {
	if env != "" {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(env))
		if err != nil || len(k) != KEKSize {
			return nil, errors.New("AGENTCERT_KEY_ENCRYPTION_KEY must be 32 bytes, base64-encoded")
		}
		return k, nil
	}
	b, err := os.ReadFile(file)
	if err == nil {
		k, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(k) != KEKSize {
			return nil, fmt.Errorf("key-encryption key file %s must hold 32 bytes, base64-encoded", file)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) || !generate {
		return nil, fmt.Errorf("read key-encryption key: %w (set AGENTCERT_KEY_ENCRYPTION_KEY)", err)
	}
	k := make([]byte, KEKSize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate key-encryption key: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key-encryption key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key-encryption key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync key-encryption key file: %w", err)
	}
	return k, f.Close()
}

// KeyRing holds the issuer's signing keys: private keys encrypted at rest
// with AES-256-GCM under the KEK, one active key that signs, older keys kept
// (and published) until retired.
type KeyRing struct {
	store  KeyStore
	aead   cipher.AEAD
	issuer string // the issuer DID; kids are issuer + "#" + fragment
	method string // "web" or "key"
	now    func() time.Time

	mu     sync.RWMutex
	active jwk.Key   // private
	public []jwk.Key // every non-retired key, oldest first
}

// NewKeyRing opens the key ring. For method "web" the issuer DID is fixed
// (derived from the public URL); for "key" it is the did:key of the first
// key, and rotation is refused.
func NewKeyRing(ctx context.Context, ks KeyStore, kek []byte, method, webDID string, alg jwa.SignatureAlgorithm, now func() time.Time) (*KeyRing, error) {
	kr, err := newKeyRing(ks, kek, method, webDID, now)
	if err != nil {
		return nil, err
	}
	if err := kr.load(ctx); err != nil {
		return nil, err
	}
	if kr.active == nil {
		if _, err := kr.Rotate(ctx, alg, "system"); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

// newKeyRing is a key ring over ks with no keys loaded yet.
func newKeyRing(ks KeyStore, kek []byte, method, webDID string, now func() time.Time) (*KeyRing, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("issuer: the key-encryption key must be %d bytes (AES-256), not %d", KEKSize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("issuer: key-encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("issuer: key-encryption key: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &KeyRing{store: ks, aead: aead, issuer: webDID, method: method, now: now}, nil
}

// Issuer returns the issuer DID.
func (kr *KeyRing) Issuer() string {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.issuer
}

// Active returns the private key that signs now (kid and alg set).
func (kr *KeyRing) Active() jwk.Key {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.active
}

// PublicKeys returns every non-retired public key, oldest first.
func (kr *KeyRing) PublicKeys() []jwk.Key {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return append([]jwk.Key(nil), kr.public...)
}

func (kr *KeyRing) load(ctx context.Context) error {
	keys, err := kr.store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("issuer: load keys: %w", err)
	}
	return kr.use(keys)
}

// Refresh reloads the keys from the store, so that a rotation or retirement
// made by another node sharing the database is used here too. It reports
// whether anything changed; keys are decrypted again only then.
func (kr *KeyRing) Refresh(ctx context.Context) (bool, error) {
	keys, err := kr.store.Keys(ctx)
	if err != nil {
		return false, fmt.Errorf("issuer: refresh keys: %w", err)
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if keySetOf(keys) == kr.keySet() {
		return false, nil
	}
	if err := kr.use(keys); err != nil {
		return false, err
	}
	return true, nil
}

// keySetOf names the active kid and the published kids of stored keys.
func keySetOf(keys []records.Key) string {
	var b strings.Builder
	for _, k := range keys {
		if k.Active {
			b.WriteString("*")
		}
		if k.RetiredAt == nil {
			b.WriteString(k.KID + "\n")
		}
	}
	return b.String()
}

// keySet is keySetOf of the keys in use; kr.mu is held.
func (kr *KeyRing) keySet() string {
	var b strings.Builder
	for _, k := range kr.public {
		if kr.active != nil && k.KeyID() == kr.active.KeyID() {
			b.WriteString("*")
		}
		b.WriteString(k.KeyID() + "\n")
	}
	return b.String()
}

// use makes keys the ring's keys. A set without an active key (which a
// store never holds once the ring has started) leaves the active key as it
// was.
func (kr *KeyRing) use(keys []records.Key) error {
	var active jwk.Key
	var public []jwk.Key
	for _, k := range keys {
		// Every key, retired or not, names the DID it was made for: a data
		// directory belongs to one issuer, and keys of another DID would
		// sign credentials nobody can verify.
		owner, _, _ := strings.Cut(k.KID, "#")
		switch {
		case kr.method == "web" && owner != kr.issuer:
			return fmt.Errorf("issuer: this data directory holds keys of %s, but the public URL gives %s; run with the public_url it was created with", owner, kr.issuer)
		case kr.method == "key" && !strings.HasPrefix(owner, "did:key:"):
			return fmt.Errorf("issuer: this data directory holds keys of %s, not of a did:key issuer; set issuer.did_method accordingly", owner)
		}
		if k.RetiredAt != nil {
			continue
		}
		pub, err := jwk.ParseKey(k.PublicJWK)
		if err != nil {
			return fmt.Errorf("issuer: stored public key %s: %w", k.KID, err)
		}
		public = append(public, pub)
		if kr.method == "key" && kr.issuer == "" {
			kr.issuer, _, _ = strings.Cut(k.KID, "#")
		}
		if k.Active {
			if active, err = kr.decrypt(k); err != nil {
				return err
			}
		}
	}
	if active != nil || kr.active == nil {
		kr.active = active
	}
	kr.public = public
	return nil
}

func (kr *KeyRing) decrypt(k records.Key) (jwk.Key, error) {
	ns := kr.aead.NonceSize()
	if len(k.PrivateEnc) < ns {
		return nil, fmt.Errorf("issuer: stored key %s: ciphertext too short", k.KID)
	}
	plain, err := kr.aead.Open(nil, k.PrivateEnc[:ns], k.PrivateEnc[ns:], []byte(k.KID))
	if err != nil {
		return nil, fmt.Errorf("issuer: decrypt key %s (wrong key-encryption key?): %w", k.KID, err)
	}
	key, err := jwk.ParseKey(plain)
	if err != nil {
		return nil, fmt.Errorf("issuer: stored key %s: %w", k.KID, err)
	}
	return key, nil
}

// Rotate generates a new key that signs from now on; earlier keys stay
// published until retired. It returns the new kid.
func (kr *KeyRing) Rotate(ctx context.Context, alg jwa.SignatureAlgorithm, actor string) (string, error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if kr.method == "key" && kr.active != nil {
		return "", errcode.New(errcode.Conflict, "a did:key issuer cannot rotate its key (its DID is the key); use did:web")
	}
	key, err := keyutil.Generate(alg)
	if err != nil {
		return "", err
	}
	pub, err := keyutil.Public(key)
	if err != nil {
		return "", err
	}
	// A did:key issuer's DID is its first key's, and becomes the ring's only
	// once that key is stored: a failed PutKey leaves the ring as it was.
	issuerDID := kr.issuer
	var kid string
	if kr.method == "key" {
		id, err := didKeyOf(pub)
		if err != nil {
			return "", err
		}
		issuerDID = id
		kid = id + "#" + strings.TrimPrefix(id, "did:key:")
	} else {
		tp, err := pub.Thumbprint(cryptoSHA256)
		if err != nil {
			return "", fmt.Errorf("issuer: thumbprint: %w", err)
		}
		kid = kr.issuer + "#" + base64.RawURLEncoding.EncodeToString(tp)[:16]
	}
	for _, k := range []jwk.Key{key, pub} {
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			return "", fmt.Errorf("issuer: set kid: %w", err)
		}
	}
	plain, err := keyutil.Marshal(key)
	if err != nil {
		return "", err
	}
	pubJSON, err := keyutil.Marshal(pub)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, kr.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("issuer: nonce: %w", err)
	}
	enc := kr.aead.Seal(nonce, nonce, plain, []byte(kid))
	now := kr.now().UTC()
	details := records.AuditDetails(ctx, map[string]any{"alg": alg.String(), "active": true})
	// One transaction: the key is stored already active (the others
	// deactivated), with its audit entry, or not at all.
	if err := kr.store.PutKey(ctx, records.Key{KID: kid, Alg: alg.String(), PublicJWK: pubJSON, PrivateEnc: enc, CreatedAt: now, Active: true},
		&records.AuditEntry{Time: now, Actor: actor, Action: "key.create", Target: kid, Details: details}); err != nil {
		return "", fmt.Errorf("issuer: store key: %w", err)
	}
	kr.issuer = issuerDID
	kr.active = key
	kr.public = append(kr.public, pub)
	return kid, nil
}

// Retire removes a non-active key from publication. Credentials signed
// with it stop verifying.
func (kr *KeyRing) Retire(ctx context.Context, kid, actor string) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	// The store decides (inside the write) whether kid is active: this
	// node's view may be stale after a rotation on another node, either way.
	now := kr.now().UTC()
	err := kr.store.RetireKey(ctx, kid, now, &records.AuditEntry{Time: now, Actor: actor, Action: "key.retire", Target: kid, Details: records.AuditDetails(ctx, nil)})
	switch {
	case errors.Is(err, records.ErrNotFound):
		return errcode.New(errcode.NotFound, "no key %s", kid)
	case errors.Is(err, records.ErrConflict):
		return errcode.Wrap(errcode.Conflict, err, "key %s is the active key or already retired (the active key is retired only after a rotation)", kid)
	case err != nil:
		return fmt.Errorf("issuer: retire key: %w", err)
	}
	if kr.active != nil && kr.active.KeyID() == kid {
		// Another node rotated away from this node's active key, which is
		// now retired: sign with the store's active key from now on.
		if err := kr.load(ctx); err != nil {
			return err
		}
		return nil
	}
	kept := kr.public[:0:0]
	for _, k := range kr.public {
		if k.KeyID() != kid {
			kept = append(kept, k)
		}
	}
	kr.public = kept
	return nil
}

// seal encrypts v (as JSON) under the KEK, bound to aad.
func (kr *KeyRing) seal(v any, aad string) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("issuer: seal: %w", err)
	}
	nonce := make([]byte, kr.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("issuer: nonce: %w", err)
	}
	return kr.aead.Seal(nonce, nonce, plain, []byte(aad)), nil
}

// open decrypts what seal produced into v.
func (kr *KeyRing) open(b []byte, aad string, v any) error {
	ns := kr.aead.NonceSize()
	if len(b) < ns {
		return fmt.Errorf("issuer: sealed value too short")
	}
	plain, err := kr.aead.Open(nil, b[:ns], b[ns:], []byte(aad))
	if err != nil {
		return fmt.Errorf("issuer: open sealed value: %w", err)
	}
	return json.Unmarshal(plain, v)
}
