// Package redistest gives Redis tests keys of their own: the test Redis is
// shared by every package's tests (and by other engineers' runs), so each
// test counts under a fresh, randomly named key prefix whose keys are
// deleted when it ends, as pgtest does with Postgres schemas.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyportal/keyportal/internal/testenv"
	rlredis "github.com/keyportal/keyportal/middleware/ratelimit/redis"
)

// Prefix returns a new key prefix on the test Redis (testenv.RedisAddr,
// which skips t when it does not answer): "keyportal-test:" followed by 16
// random hex digits and a colon. Every key under it is deleted when t ends.
func Prefix(t testing.TB) string {
	t.Helper()
	addr := testenv.RedisAddr(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "keyportal-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("delete redis keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

// Client returns a client of the test Redis, closed when t ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Limiter returns a Redis rate limiter on the test Redis under a fresh
// Prefix.
func Limiter(t testing.TB) *rlredis.Limiter {
	t.Helper()
	l, err := rlredis.New(Client(t), Prefix(t))
	if err != nil {
		t.Fatal(err)
	}
	return l
}
