package middleware

import "github.com/gin-gonic/gin"

// SecurityHeaders returns middleware that sets defensive headers on the
// app's own pages and API answers:
//
//   - X-Content-Type-Options: nosniff — bodies are taken for what their
//     Content-Type says, never sniffed into HTML or script;
//   - Referrer-Policy: same-origin — URLs of the app's pages are not sent to
//     other sites (the portal frame included);
//   - X-Frame-Options: DENY and Content-Security-Policy: frame-ancestors
//     'none' — no site may frame the app's pages (clickjacking). This limits
//     who frames the app, not what the app frames: the settings page still
//     embeds the portal. Do not use it on the portal's own pages, which must
//     be framable by their allowed embedders and set their own
//     frame-ancestors;
//   - Cross-Origin-Opener-Policy: same-origin — a page of another site that
//     opens the app gets no handle on its window.
//
// Handlers may override any of them after the middleware ran.
func SecurityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		c.Next()
	}
}
