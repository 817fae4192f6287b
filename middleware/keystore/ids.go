package keystore

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// secretBytes is the entropy of a key secret (Wacht's format: 32 random bytes,
// base64url without padding, 43 characters).
const secretBytes = 32

// SuffixLen is how many trailing characters of a secret are kept as the key's
// suffix, to help users tell keys apart.
const SuffixLen = 8

// HashSecret returns the hex SHA-256 of a key secret, the only form in which a
// secret is stored and looked up (Key.Hash, LookupKey).
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// newSecret returns a fresh secret "{prefix}_{43 base64url chars}".
func newSecret(prefix string) string {
	var b [secretBytes]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return prefix + "_" + base64.RawURLEncoding.EncodeToString(b[:])
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix + 26 base32 characters of 128 random bits: unguessable
// and unique without coordination between instances.
func newID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])
}

// hashTicket is how a ticket id is kept in the used-ticket set.
func hashTicket(id string) string {
	sum := sha256.Sum256([]byte("keyportal-ticket:" + id))
	return hex.EncodeToString(sum[:])
}

// keySuffix returns the last SuffixLen characters of the secret.
func keySuffix(secret string) string {
	if len(secret) <= SuffixLen {
		return secret
	}
	return secret[len(secret)-SuffixLen:]
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

// secretTail is "_" plus the 43 base64url characters of a secret.
const secretTail = 1 + 43

// WellFormedSecret reports whether s has the shape of a key secret,
// "{key_prefix}_{43 base64url chars}" with a 1-32 character prefix of
// [a-zA-Z0-9_]. It lets a verifier turn garbage away before hashing or
// looking anything up; it says nothing of whether the key exists.
func WellFormedSecret(s string) bool {
	n := len(s)
	if n < 1+secretTail || n > 32+secretTail || s[n-secretTail] != '_' {
		return false
	}
	prefix, body := s[:n-secretTail], s[n-secretTail+1:]
	for i := 0; i < len(prefix); i++ {
		if !prefixChar[prefix[i]] {
			return false
		}
	}
	for i := 0; i < len(body); i++ {
		if !base64URLChar[body[i]] {
			return false
		}
	}
	return true
}

var prefixChar, base64URLChar [256]bool

func init() {
	for c := range 256 {
		b := byte(c)
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		prefixChar[c] = alnum || b == '_'
		base64URLChar[c] = alnum || b == '_' || b == '-'
	}
}
