package sqlstore

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// secretBytes is the entropy of a key secret (Wacht's format: 32 random bytes,
// base64url without padding, 43 characters; keystore.WellFormedSecret checks
// that shape).
const secretBytes = 32

// newSecret returns a fresh secret "{prefix}_{43 base64url chars}".
func newSecret(prefix string) string {
	var b [secretBytes]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return prefix + "_" + base64.RawURLEncoding.EncodeToString(b[:])
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns prefix + 26 base32 characters of 128 random bits: unguessable
// and unique without coordination between instances.
func NewID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])
}

// hashTicket is how a ticket id is kept in the used-ticket set.
func hashTicket(id string) string {
	sum := sha256.Sum256([]byte("keyportal-ticket:" + id))
	return hex.EncodeToString(sum[:])
}

// keySuffix returns the last keystore.SuffixLen characters of the secret.
func keySuffix(secret string) string {
	if len(secret) <= keystore.SuffixLen {
		return secret
	}
	return secret[len(secret)-keystore.SuffixLen:]
}

// isHexHash reports whether s looks like a hex SHA-256.
func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f')
	}) < 0
}

func randRead(b []byte) { rand.Read(b) }
