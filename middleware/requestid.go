package middleware

import (
	"encoding/hex"
	"math/rand/v2"

	"github.com/gin-gonic/gin"
)

// maxRequestIDLen bounds a client-supplied X-Request-Id.
const maxRequestIDLen = 128

// defaultRequestID returns the request's X-Request-Id when it is a plain
// token (letters, digits and ._:- , at most 128), else a random 128-bit id.
// The id only correlates log lines, so it need not be unguessable.
func defaultRequestID(c *gin.Context) string {
	if id := c.GetHeader("X-Request-Id"); isPlainToken(id, maxRequestIDLen) {
		return id
	}
	var b [16]byte
	a, z := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(z >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

func isPlainToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			ch == '.', ch == '_', ch == ':', ch == '-':
		default:
			return false
		}
	}
	return true
}
