// Package tokens holds the API's bearer tokens and roles: how a token is
// made, how it is stored (only its hash), and which roles exist. The server
// authenticates with it, the issuer checks roles with it, and the CLI mints
// tokens with it, so none of them needs another's package.
package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
)

// Roles a token can have.
const (
	RoleAdmin   = "admin"
	RoleIssuer  = "issuer"
	RoleAuditor = "auditor"
	// RoleReporter is a registered counterparty's: it may report incidents.
	RoleReporter = "reporter"
)

// Prefix starts every API token, so that leaked tokens are easy to find.
const Prefix = "act_"

const (
	secretBytes = 32 // random bytes of a token secret
	idBytes     = 8  // random bytes of a token id
)

// ValidRole reports whether role is one of the roles.
func ValidRole(role string) bool {
	return role == RoleAdmin || role == RoleIssuer || role == RoleAuditor || role == RoleReporter
}

// New returns a fresh API token (shown once) and its id and hash (stored).
func New() (secret, id string, hash []byte) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	secret = Prefix + base64.RawURLEncoding.EncodeToString(b)
	idb := make([]byte, idBytes)
	if _, err := rand.Read(idb); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return secret, "tok_" + hex.EncodeToString(idb), Hash(secret)
}

// Hash is the stored form of a token.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Store is where Create keeps a token: the store's CreateToken, which
// writes the token and its audit entry together.
type Store interface {
	CreateToken(ctx context.Context, t records.Token, a *records.AuditEntry) error
}

// Create makes a token with role and name, stores it with an audit entry
// naming actor, and returns the secret (shown once) and the record.
func Create(ctx context.Context, st Store, role, name, actor string, now time.Time) (string, records.Token, error) {
	if !ValidRole(role) {
		return "", records.Token{}, errcode.New(errcode.InvalidInput, "role must be admin, issuer, auditor or reporter")
	}
	if err := CheckName(name); err != nil {
		return "", records.Token{}, err
	}
	secret, id, hash := New()
	t := records.Token{ID: id, Name: name, Role: role, Hash: hash, CreatedAt: now.UTC()}
	details := records.AuditDetails(ctx, map[string]any{"role": role, "name": name})
	if err := st.CreateToken(ctx, t, &records.AuditEntry{Time: now.UTC(), Actor: actor, Action: "token.create", Target: id, Details: details}); err != nil {
		return "", records.Token{}, err
	}
	return secret, t, nil
}

// MaxNameLen bounds a token's name, in characters.
const MaxNameLen = 128

// CheckName refuses a token name longer than MaxNameLen characters, not
// UTF-8, or holding a control character: a name is shown in tables
// (`agentcert token list` separates columns with tabs), in the console and
// as an incident's reporter, where a tab or newline in it would forge rows.
func CheckName(name string) error {
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen {
		return errcode.New(errcode.InvalidInput, "a token name is UTF-8 text of at most %d characters", MaxNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errcode.New(errcode.InvalidInput, "a token name may not hold control characters (%U)", r)
		}
	}
	return nil
}
