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
// does not exist a key of alg is generated and written (mode 0600) before
// it is returned, so a restart signs with the same key. The write is
// atomic: the sealed key goes into a temporary file in the same directory,
// which is synced and then linked to file (never replacing a file that
// exists meanwhile: when another process made the key first, its key is
// returned), and the directory is synced; a crash leaves no file or a whole
// one, and temporary files a crash left behind are removed once file is
// there.
//
// A file that exists but does not open is an error naming the file and
// what to do, never replaced: receipts signed with its key verify only
// with that key.
func LoadSealedKey(file string, kek []byte, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	k, err := readSealed(file, gcm)
	if err == nil {
		removeTemps(file)
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if k, err = keyutil.Generate(alg); err != nil {
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
	created, err := createAtomic(file, sealed+"\n")
	if err != nil {
		return nil, err
	}
	if !created {
		// Another process (a second node starting on the same data
		// directory) made the key first: sign with its key.
		k, err = readSealed(file, gcm)
		if err != nil {
			return nil, err
		}
	}
	removeTemps(file)
	return k, nil
}

// keyFileHelp says what to do about a key file that does not open.
const keyFileHelp = "restore it from a backup (receipts signed with it verify only with its key); " +
	"only if the service never ran with it (it never signed a receipt) remove it, and a new key is made at the next start"

// readSealed opens the sealed key in file. The error wraps os.ErrNotExist
// when there is no file.
func readSealed(file string, gcm cipher.AEAD) (jwk.Key, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("receipt key: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) < gcm.NonceSize()+gcm.Overhead() {
		return nil, fmt.Errorf("receipt key %s is damaged (%d bytes, not a whole sealed key): %s", file, len(b), keyFileHelp)
	}
	plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], []byte(sealedAAD))
	if err != nil {
		return nil, fmt.Errorf("receipt key %s does not open with the key-encryption key: either the configured "+
			"key-encryption key is not the one it was sealed under (configure that one), or the file is damaged: %s", file, keyFileHelp)
	}
	k, err := keyutil.Parse(plain)
	if err != nil {
		return nil, fmt.Errorf("receipt key %s: %w", file, err)
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

// tempPrefix is the start of the names of file's temporary files.
func tempPrefix(file string) string { return "." + filepath.Base(file) + ".tmp-" }

// createAtomic makes file, unless it exists, holding content whole (mode
// 0600, synced with its directory): content is written to a temporary file
// beside it, which is synced and then linked to file, so that no crash can
// leave file partial. A link, unlike a rename, never replaces a file made
// meanwhile; then created is false and file is left as it is.
func createAtomic(file, content string) (created bool, err error) {
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, tempPrefix(file)+"*")
	if err != nil {
		return false, fmt.Errorf("receipt key %s: %w", file, err)
	}
	// Once linked, file is a second name of the temporary file: the
	// temporary name goes in any case.
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return false, fmt.Errorf("receipt key %s: write: %w", file, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("receipt key %s: sync: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("receipt key %s: %w", file, err)
	}
	if err := os.Link(tmp.Name(), file); err != nil {
		if _, serr := os.Lstat(file); serr == nil {
			return false, nil
		}
		return false, fmt.Errorf("receipt key %s: %w", file, err)
	}
	if err := syncDirectory(dir); err != nil {
		return false, fmt.Errorf("receipt key %s: sync directory: %w", file, err)
	}
	return true, nil
}

// removeTemps removes the temporary files of file that a crash left
// behind. It is called only when file exists: a process still writing one
// then finds file there when its link fails, and uses it.
func removeTemps(file string) {
	entries, err := os.ReadDir(filepath.Dir(file))
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix(file)) {
			_ = os.Remove(filepath.Join(filepath.Dir(file), e.Name()))
		}
	}
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
