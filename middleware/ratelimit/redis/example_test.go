package redis_test

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/keyportal/keyportal/middleware/ratelimit"
	"github.com/keyportal/keyportal/middleware/ratelimit/redis"
)

// Instances that share a Redis and a prefix share their counts; set the
// limiter as APIKeyConfig.Limiter (or wachtapi.Config.Limiter).
func ExampleNew() {
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379",
		ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
	defer client.Close()
	limiter, err := redis.New(client, "keyportal:rl:")
	if err != nil {
		panic(err)
	}
	r, err := limiter.Allow(context.Background(), "key:key_123", ratelimit.Rule{Max: 100, Per: time.Minute})
	if err != nil {
		fmt.Println("Redis does not answer; let the request through:", err)
		return
	}
	fmt.Println(r.Allowed, r.Remaining)
}
