package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Limiter shared by every instance that uses the same Redis
// and Prefix: one atomic Lua script per request (one round trip). Build it
// with NewRedis.
//
// When Redis cannot answer, Allow returns the error and middleware that
// uses it lets the request through (fail open): the limiter protects
// capacity, not access — the key was already verified against the store —
// and an outage of an optional cache must not take the API down. Bound the
// wait with the client's ReadTimeout/WriteTimeout (go-redis default 3 s;
// use ~100 ms on a LAN).
type Redis struct {
	client redis.Scripter
	prefix string
}

// window.lua: count one request in the key's window, opening the window
// (with its expiry) at the first request. Returns {count, ms left}.
var windowScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// NewRedis returns a limiter counting in client under keys starting with
// prefix (e.g. "keyportal:rl:"). client is a *redis.Client, *redis.Ring or
// *redis.ClusterClient.
func NewRedis(client redis.Scripter, prefix string) (*Redis, error) {
	if client == nil {
		return nil, errors.New("ratelimit: NewRedis: client is nil")
	}
	return &Redis{client: client, prefix: prefix}, nil
}

// Allow counts one request of key against rule.
func (r *Redis) Allow(ctx context.Context, key string, rule Rule) (Result, error) {
	if err := rule.Validate(); err != nil {
		return Result{}, err
	}
	ms := rule.Per.Milliseconds()
	v, err := windowScript.Run(ctx, r.client, []string{r.prefix + rule.String() + "|" + key}, ms).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(v) != 2 {
		return Result{}, fmt.Errorf("ratelimit: redis: script returned %d values", len(v))
	}
	return result(rule, v[0], time.Duration(v[1])*time.Millisecond), nil
}
