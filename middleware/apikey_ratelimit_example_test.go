package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// ExampleRequireAPIKey_rateLimits limits each key to 2 requests a minute,
// counted in process; set Limiter to a ratelimit/redis Limiter to count
// across instances.
func ExampleRequireAPIKey_rateLimits() {
	ctx := context.Background()
	store, admin := exampleStore(ctx)
	defer store.Close()
	_, secret, _ := store.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "ci"}, admin)

	auth, err := middleware.RequireAPIKey(middleware.APIKeyConfig{
		Config:     apikey.Config{Keys: store},
		RateLimits: []ratelimit.Rule{{Max: 2, Per: time.Minute, Scope: ratelimit.ScopeKey}},
	})
	if err != nil {
		panic(err)
	}
	defer auth.Close()
	r := gin.New()
	r.GET("/v1/things", auth.Handler(), func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	for i := 0; i < 3; i++ {
		req := httptest.NewRequest("GET", "/v1/things", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Printf("%d limit=%s remaining=%s retry-after=%q\n", w.Code, w.Header().Get("RateLimit-Limit"),
			w.Header().Get("RateLimit-Remaining"), w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 limit=2 remaining=1 retry-after=""
	// 200 limit=2 remaining=0 retry-after=""
	// 429 limit=2 remaining=0 retry-after="60"
}
