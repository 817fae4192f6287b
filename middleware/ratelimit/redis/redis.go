// Package redis is the rate limiter shared by every instance that uses the
// same Redis: ratelimit's fixed windows, counted by one atomic Lua script per
// request (per rule on a Ring or a Cluster). It is a package of its own so
// that only programs that choose it link the Redis client.
package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// Limiter is the ratelimit.Limiter shared by every instance that uses the
// same Redis and Prefix: one atomic Lua script per request (one round
// trip), however many rules the request is under. Build it with New. On a
// Ring or a Cluster, whose keys live on different servers, it runs the
// script once per rule instead, in one pipeline, so that each counter is
// counted on its own server.
//
// When Redis cannot answer, Allow returns the error and middleware that
// uses it lets the request through (fail open): the limiter protects
// capacity, not access — the key was already verified against the store —
// and an outage of an optional cache must not take the API down. Bound the
// wait with the client's ReadTimeout/WriteTimeout (go-redis default 3 s;
// use ~100 ms on a LAN).
type Limiter struct {
	client goredis.Scripter
	prefix string
	// sharded is the client when it spreads keys over servers (a Ring's
	// shards, a Cluster's slots), where one script must touch one key:
	// a Ring runs a script where its first key lives, a Cluster refuses
	// keys of two slots (CROSSSLOT). Nil for one server.
	sharded pipeliner
}

// pipeliner is what a Ring and a Cluster share for pipelines.
type pipeliner interface {
	Pipelined(ctx context.Context, fn func(goredis.Pipeliner) error) ([]goredis.Cmder, error)
}

var _ ratelimit.MultiLimiter = (*Limiter)(nil)

// windowScript counts one request in each key's window, opening a window
// (with its expiry, ARGV[i] ms) at its first request. Returns {count, ms
// left} per key, flattened. All keys in one call: one round trip however
// many rules a request is under.
var windowScript = goredis.NewScript(`
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if n == 1 or ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[i])
    ttl = tonumber(ARGV[i])
  end
  out[#out+1] = n
  out[#out+1] = ttl
end
return out
`)

// New returns a limiter counting in client under keys starting with prefix
// (e.g. "keyportal:rl:"). client is a *redis.Client, *redis.Ring or
// *redis.ClusterClient of github.com/redis/go-redis/v9.
func New(client goredis.Scripter, prefix string) (*Limiter, error) {
	if client == nil {
		return nil, errors.New("ratelimit/redis: New: client is nil")
	}
	l := &Limiter{client: client, prefix: prefix}
	switch c := client.(type) {
	case *goredis.Ring:
		l.sharded = c
	case *goredis.ClusterClient:
		l.sharded = c
	}
	return l, nil
}

// Prefix returns the key prefix the limiter counts under.
func (l *Limiter) Prefix() string { return l.prefix }

// Allow counts one request of key against rule.
func (l *Limiter) Allow(ctx context.Context, key string, rule ratelimit.Rule) (ratelimit.Result, error) {
	var out [1]ratelimit.Result
	err := l.AllowAll(ctx, []ratelimit.Check{{Key: key, Rule: rule}}, out[:])
	return out[0], err
}

// AllowAll counts one request against every check in one round trip,
// writing each answer to out (len(out) must be len(checks)).
func (l *Limiter) AllowAll(ctx context.Context, checks []ratelimit.Check, out []ratelimit.Result) error {
	if len(out) != len(checks) {
		return fmt.Errorf("ratelimit/redis: AllowAll: %d results for %d checks", len(out), len(checks))
	}
	keys := make([]string, len(checks))
	args := make([]any, len(checks))
	now := time.Now() // Redis expires keys in real time
	for i, c := range checks {
		if err := c.Rule.Validate(); err != nil {
			return err
		}
		keys[i] = l.prefix + c.Rule.String() + "|" + c.Key
		args[i] = max(c.Rule.WindowLeft(now).Milliseconds(), 1)
	}
	v, err := l.run(ctx, keys, args)
	if err != nil {
		return fmt.Errorf("ratelimit/redis: %w", err)
	}
	if len(v) != 2*len(checks) {
		return fmt.Errorf("ratelimit/redis: script returned %d values for %d checks", len(v), len(checks))
	}
	for i, c := range checks {
		out[i] = c.Rule.Result(v[2*i], time.Duration(v[2*i+1])*time.Millisecond)
	}
	return nil
}

// run counts one request in each key's window: {count, ms left} per key,
// flattened. On one server, one script takes every key; on a sharded
// client, each key has its own script (windowScript with one key), all in
// one pipeline, which the client sends to each key's server.
func (l *Limiter) run(ctx context.Context, keys []string, args []any) ([]int64, error) {
	if l.sharded == nil {
		return windowScript.Run(ctx, l.client, keys, args...).Int64Slice()
	}
	cmds := make([]*goredis.Cmd, len(keys))
	if _, err := l.sharded.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i := range keys {
			cmds[i] = windowScript.Eval(ctx, p, keys[i:i+1], args[i])
		}
		return nil
	}); err != nil {
		return nil, err
	}
	v := make([]int64, 0, 2*len(keys))
	for _, c := range cmds {
		r, err := c.Int64Slice()
		if err != nil {
			return nil, err
		}
		v = append(v, r...)
	}
	return v, nil
}
