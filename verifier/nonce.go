package verifier

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// Nonces issues and checks stateless nonces. A nonce carries its own expiry
// and a MAC (HMAC-SHA-256) under a server secret, so any replica that shares
// the secrets can check it. The first secret signs; every secret verifies,
// which allows rotation.
//
// Single use is enforced per replica: each Nonces remembers the nonces it
// accepted until they expire and refuses them again (nonce_replayed). Two
// replicas behind a load balancer do not share that memory, so a nonce can
// be accepted once by each replica within its lifetime; route a client's
// requests to one replica, or keep nonce lifetimes short, where that matters.
type Nonces struct {
	secrets [][]byte
	ttl     time.Duration
	now     func() time.Time
	max     int

	mu   sync.Mutex
	seen map[string]time.Time
}

// NewNonces returns a nonce service. With no secrets it makes a random one
// (nonces then only verify in this process).
func NewNonces(secrets [][]byte, ttl time.Duration, now func() time.Time) (*Nonces, error) {
	if ttl <= 0 {
		return nil, errors.New("verifier: nonce ttl must be positive")
	}
	if len(secrets) == 0 {
		s := make([]byte, nonceSecretSize)
		if _, err := rand.Read(s); err != nil {
			return nil, err
		}
		secrets = [][]byte{s}
	}
	for _, s := range secrets {
		if len(s) < minNonceSecret {
			return nil, fmt.Errorf("verifier: nonce secrets must be at least %d bytes", minNonceSecret)
		}
	}
	if now == nil {
		now = time.Now
	}
	return &Nonces{secrets: secrets, ttl: ttl, now: now, max: DefaultMaxNonces, seen: map[string]time.Time{}}, nil
}

// Issue returns a fresh nonce and its expiry.
func (n *Nonces) Issue() (string, time.Time, error) {
	exp := n.now().Add(n.ttl).Truncate(time.Second)
	body := make([]byte, nonceRandom+8)
	if _, err := rand.Read(body[:nonceRandom]); err != nil {
		return "", time.Time{}, err
	}
	binary.BigEndian.PutUint64(body[nonceRandom:], uint64(exp.Unix()))
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(mac(n.secrets[0], body)), exp, nil
}

func mac(secret, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return h.Sum(nil)
}

// Check verifies that nonce is one of ours, unexpired and not seen before,
// and marks it used.
func (n *Nonces) Check(nonce string) error {
	if err := n.Validate(nonce); err != nil {
		return err
	}
	return n.Use(nonce)
}

// Validate checks that nonce is one of ours and unexpired, without spending
// it.
func (n *Nonces) Validate(nonce string) error {
	_, _, err := n.parse(nonce)
	return err
}

// Use spends a valid nonce: it fails with nonce_replayed when the nonce was
// used before (on this replica), and with nonce_invalid or nonce_expired
// when it does not validate.
func (n *Nonces) Use(nonce string) error {
	exp, key, err := n.parse(nonce)
	if err != nil {
		return err
	}
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.seen[key]; dup {
		return errcode.New(errcode.NonceReplayed, "the nonce was already used")
	}
	if len(n.seen) >= n.max {
		for k, e := range n.seen {
			if !now.Before(e) {
				delete(n.seen, k)
			}
		}
		if len(n.seen) >= n.max {
			return errcode.New(errcode.RateLimited, "too many outstanding nonces; retry later")
		}
	}
	n.seen[key] = exp
	return nil
}

// parse checks the MAC and expiry and returns the expiry and the replay key:
// the decoded body, so that another encoding of the same bytes is the same
// nonce.
func (n *Nonces) parse(nonce string) (time.Time, string, error) {
	b64body, b64mac, ok := strings.Cut(nonce, ".")
	body, err1 := base64.RawURLEncoding.DecodeString(b64body)
	sum, err2 := base64.RawURLEncoding.DecodeString(b64mac)
	if !ok || err1 != nil || err2 != nil || len(body) != nonceRandom+8 || len(sum) != nonceMAC {
		return time.Time{}, "", errcode.New(errcode.NonceInvalid, "the nonce was not issued by this verifier")
	}
	valid := false
	for _, s := range n.secrets {
		if hmac.Equal(mac(s, body), sum) {
			valid = true
			break
		}
	}
	if !valid {
		return time.Time{}, "", errcode.New(errcode.NonceInvalid, "the nonce was not issued by this verifier")
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(body[nonceRandom:])), 0)
	if !n.now().Before(exp) {
		return time.Time{}, "", errcode.New(errcode.NonceExpired, "the nonce expired at %s", exp.UTC().Format(time.RFC3339))
	}
	return exp, string(body), nil
}

// Open checks that nonce is one of ours and unexpired, without spending it,
// and returns its expiry and identity (the bytes the MAC covers: another
// encoding of them is the same nonce), for callers that record spent nonces
// in shared storage.
func (n *Nonces) Open(nonce string) (time.Time, []byte, error) {
	exp, key, err := n.parse(nonce)
	if err != nil {
		return time.Time{}, nil, err
	}
	return exp, []byte(key), nil
}
