package keystore

import (
	"crypto/sha256"
	"encoding/hex"
)

// SuffixLen is how many trailing characters of a secret are kept as the key's
// suffix, to help users tell keys apart.
const SuffixLen = 8

// HashSecret returns the hex SHA-256 of a key secret, the only form in which a
// secret is stored and looked up (Key.Hash, LookupKey).
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

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
