package apikey

// Secret format (Wacht's): "{key_prefix}_{43 base64url characters}", where
// the prefix is 1-32 characters of a-z, A-Z, 0-9 and _, and the 43 characters
// are the unpadded base64url encoding of 32 random bytes.
const (
	// BodyLen is the length of the random part of a secret.
	BodyLen = 43
	// MaxPrefixLen is the longest key prefix an app may have.
	MaxPrefixLen = 32
	// MinSecretLen and MaxSecretLen bound the length of a well-formed secret.
	MinSecretLen = 1 + 1 + BodyLen
	MaxSecretLen = MaxPrefixLen + 1 + BodyLen
)

// Character classes of the format, one table lookup per byte.
const (
	classB64    = 1 << iota // base64url alphabet
	classPrefix             // key prefix alphabet
	classLast               // a canonical last character: 32 bytes leave its low 2 bits zero
)

var charClass = func() (t [256]uint8) {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(b64); i++ {
		t[b64[i]] |= classB64
		if i%4 == 0 {
			t[b64[i]] |= classLast
		}
		if b64[i] != '-' {
			t[b64[i]] |= classPrefix
		}
	}
	return t
}()

// WellFormed reports whether secret has the shape of a key secret. It looks
// at each byte once, allocates nothing and touches no shared state, so that
// garbage is refused before any hashing or lookup.
func WellFormed(secret string) bool {
	n := len(secret)
	if n < MinSecretLen || n > MaxSecretLen {
		return false
	}
	sep := n - BodyLen - 1
	if secret[sep] != '_' {
		return false
	}
	for i := 0; i < sep; i++ {
		if charClass[secret[i]]&classPrefix == 0 {
			return false
		}
	}
	for i := sep + 1; i < n-1; i++ {
		if charClass[secret[i]]&classB64 == 0 {
			return false
		}
	}
	return charClass[secret[n-1]]&classLast != 0
}
