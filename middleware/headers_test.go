package middleware

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestSecurityHeaders(t *testing.T) {
	r := gin.New()
	r.Use(SecurityHeaders())
	r.GET("/page", func(c *gin.Context) { c.String(200, "ok") })
	r.GET("/relaxed", func(c *gin.Context) {
		c.Header("Referrer-Policy", "no-referrer")
		c.String(200, "ok")
	})
	tests := []struct {
		name, path string
		want       map[string]string
	}{
		{"defaults", "/page", map[string]string{
			"X-Content-Type-Options":     "nosniff",
			"Referrer-Policy":            "same-origin",
			"X-Frame-Options":            "DENY",
			"Content-Security-Policy":    "frame-ancestors 'none'",
			"Cross-Origin-Opener-Policy": "same-origin",
		}},
		{"handler overrides one", "/relaxed", map[string]string{
			"Referrer-Policy": "no-referrer",
			"X-Frame-Options": "DENY",
		}},
		{"404s too", "/missing", map[string]string{"X-Content-Type-Options": "nosniff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
			for k, v := range tt.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
