package gateway_test

import (
	"fmt"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/wacht"
	"github.com/keyportal/keyportal/middleware/wacht/gateway"
)

// Wacht mode: keys made in Wacht's hosted page guard the app's API through
// Wacht's gateway check; a revoked key is refused within CacheTTL.
func ExampleNew() {
	client, err := wacht.New(wacht.Config{APIKey: "wk_live_example_backend_key"})
	if err != nil {
		panic(err)
	}
	v, err := gateway.New(gateway.Config{Client: client, CacheTTL: 2 * time.Second})
	if err != nil {
		panic(err)
	}
	auth, err := middleware.RequireAPIKey(middleware.APIKeyConfig{Verifier: v})
	if err != nil {
		panic(err)
	}
	defer auth.Close()
	e := gin.New()
	e.GET("/v1/whoami", auth.Handler(), func(c *gin.Context) {
		id, _ := middleware.APIKeyFrom(c)
		c.JSON(200, id)
	})
	_, err = gateway.New(gateway.Config{Client: client, CacheTTL: time.Minute})
	fmt.Println(err)
	// Output: gateway: Config.CacheTTL 1m0s is over the bound of 30s
}
