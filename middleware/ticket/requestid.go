package ticket

import (
	"encoding/hex"
	"math/rand/v2"
)

// RequestIDHeader is the header that carries a request id, in and out.
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLen is the longest request id taken from a client.
const MaxRequestIDLen = 128

// RequestID returns header, the client's X-Request-Id, when it is a plain
// token: 1 to MaxRequestIDLen bytes of ASCII letters, digits and . _ : -
// (nothing a log line or a header would need to escape). Otherwise it
// returns a new random id of 32 hex digits. The id only correlates audit
// events and log lines, so it need not be unguessable.
func RequestID(header string) string {
	if validRequestID(header) {
		return header
	}
	var b [16]byte
	a, z := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(z >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

func validRequestID(s string) bool {
	if s == "" || len(s) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}
