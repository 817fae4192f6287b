package middleware

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// remoteHandler is the guard over APIKeyConfig.Verifier: the verifier
// judges the whole request, and its verdict carries the rate-limit headers
// and any 429.
func (a *APIKeyAuth) remoteHandler(required, insufficient []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		g, secret, ok := a.begin(c)
		if !ok {
			return
		}
		v, err := a.kv.VerifyRequest(c.Request.Context(), apikey.Request{
			Secret: secret, Required: required,
			Method: c.Request.Method, Path: c.Request.URL.Path,
			ClientIP: g.clientIP(&a.log), UserAgent: firstValue(c.Request.Header, userAgentKey),
		})
		h := c.Writer.Header()
		for name, value := range v.Headers {
			if rateLimitHeader(name) {
				h.Set(name, value)
			}
		}
		switch {
		case err != nil:
			a.refuse(c, err, insufficient)
			a.recordAccess(&g, v.Identity, err, "")
		case v.Identity == nil:
			// A verifier that broke its contract: no verdict.
			a.log.Error().Msg("api key verifier allowed a key without an identity")
			a.refuse(c, apikey.ErrUnavailable, insufficient)
			a.recordAccess(&g, nil, apikey.ErrUnavailable, "")
		case v.RetryAfter > 0:
			a.tooMany(c, v.Identity, ratelimit.Decision{Shown: ratelimit.Result{RetryAfter: v.RetryAfter}})
			a.recordAccess(&g, v.Identity, nil, "rate_limited")
		default:
			a.recordAccess(&g, v.Identity, nil, "")
			c.Set(apiKeyContextKey{}, v.Identity)
			c.Next()
		}
	}
}

// rateLimitHeader reports whether a verifier may set header name: the
// RateLimit fields only, named with letters, digits and dashes (Retry-After
// is the guard's own, on 429).
func rateLimitHeader(name string) bool {
	const prefix = "RateLimit-"
	if len(name) <= len(prefix) || !strings.EqualFold(name[:len(prefix)], prefix) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c == '-' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z') {
			return false
		}
	}
	return true
}
