package clientip_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/clientip"
)

func ExampleOf() {
	gin.SetMode(gin.TestMode)
	engine := gin.New()
	proxies, _ := clientip.ParseProxies("10.0.0.0/8") // serve --trusted-proxies 10.0.0.0/8
	if err := clientip.Trust(engine, proxies); err != nil {
		panic(err)
	}
	log := zerolog.Nop()
	engine.GET("/", func(c *gin.Context) { c.String(http.StatusOK, clientip.Of(c, &log)) })
	for _, peer := range []string{"10.1.2.3", "203.0.113.7"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer + ":40000"
		r.Header.Set("X-Forwarded-For", "198.51.100.1")
		w := httptest.NewRecorder()
		engine.ServeHTTP(w, r)
		fmt.Printf("from %s: %s\n", peer, w.Body)
	}
	// Output:
	// from 10.1.2.3: 198.51.100.1
	// from 203.0.113.7: 203.0.113.7
}
