package ratelimit

import "testing"

// RedisPrefixForTest exposes a Redis limiter's prefix to the external tests.
func RedisPrefixForTest(_ testing.TB, r *Redis) string { return r.prefix }
