package receipt

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// sealedAAD binds a sealed receipt key to its purpose.
const sealedAAD = "agentcert receipt key v1"

// KeyID is the kid of a receipt key of verifier iss: for a did:key verifier
// its DID's one verification method, else iss#receipt-<the first 16
// characters of the key's RFC 7638 thumbprint>.
func KeyID(iss string, pub jwk.Key) (string, error) {
	if strings.HasPrefix(iss, "did:key:") {
		return iss + "#" + strings.TrimPrefix(iss, "did:key:"), nil
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("receipt: thumbprint: %w", err)
	}
	return iss + "#receipt-" + base64.RawURLEncoding.EncodeToString(tp)[:16], nil
}

// LoadSealedKey returns the private receipt key kept in file, sealed with
// AES-256-GCM under kek (the issuer's key-encryption key). When the file
// does not exist a key of alg is generated and written (mode 0600, synced)
// before it is returned, so a restart signs with the same key.
func LoadSealedKey(file string, kek []byte, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(file)
	if err == nil {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(raw) < gcm.NonceSize() {
			return nil, fmt.Errorf("receipt key %s: not a sealed key", file)
		}
		plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], []byte(sealedAAD))
		if err != nil {
			return nil, fmt.Errorf("receipt key %s: does not open with the key-encryption key", file)
		}
		return keyutil.Parse(plain)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("receipt key: %w", err)
	}
	k, err := keyutil.Generate(alg)
	if err != nil {
		return nil, err
	}
	plain, err := keyutil.Marshal(k)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("receipt key: %w", err)
	}
	sealed := base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, plain, []byte(sealedAAD)))
	if err := writeNew(file, sealed+"\n"); err != nil {
		return nil, err
	}
	return k, nil
}

func newGCM(kek []byte) (cipher.AEAD, error) {
	if len(kek) != 32 {
		return nil, errors.New("receipt key: the key-encryption key must be 32 bytes")
	}
	blk, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// writeNew creates file (which must not exist) with mode 0600 and syncs it
// and its directory.
func writeNew(file, content string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("receipt key: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("receipt key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("receipt key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("receipt key: %w", err)
	}
	if d, err := os.Open(filepath.Dir(file)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// SignerFor returns a signer over the private key k for a verifier whose
// DID is webDID (a did:web; the key is one of its verification methods) or,
// when webDID is empty, the did:key of k.
func SignerFor(k jwk.Key, webDID string, opts ...Option) (*Signer, error) {
	pub, err := keyutil.Public(k)
	if err != nil {
		return nil, err
	}
	iss := webDID
	if iss == "" {
		if iss, err = did.KeyDID(pub); err != nil {
			return nil, fmt.Errorf("receipt: did:key: %w", err)
		}
	}
	kid, err := KeyID(iss, pub)
	if err != nil {
		return nil, err
	}
	k, err = k.Clone()
	if err != nil {
		return nil, err
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, err
	}
	return SignerFromJWK(iss, k, opts...)
}
