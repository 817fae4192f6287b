package portal

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/jsonx"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// apiError is the error body of the exchange and the JSON API:
// {"error": {"code": "...", "message": "..."}}. Code is stable and read by
// the page; Message is for people.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// noStore marks a response as never to be cached.
func noStore(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// writeJSON answers v with status, uncacheable.
func writeJSON(c *gin.Context, status int, v any) {
	noStore(c)
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"could not encode the response"}}`)
	}
	c.Data(status, "application/json; charset=utf-8", body)
}

// fail answers an error body and stops the chain.
func fail(c *gin.Context, status int, code, message string) {
	writeJSON(c, status, gin.H{"error": apiError{Code: code, Message: message}})
	c.Abort()
}

// decodeJSON reads a strict JSON object into dst (jsonx.ReadObject):
// Content-Type application/json, at most jsonx.DefaultMaxBytes (16 KiB), no
// unknown fields, nothing after the object. On failure it has answered a 4xx and returns
// false.
func decodeJSON(c *gin.Context, dst any) bool {
	if p := jsonx.ReadObject(c.Writer, c.Request, dst, jsonx.Options{}); p != nil {
		fail(c, p.Status, p.Code, p.Message)
		return false
	}
	return true
}

// crossSite reports whether a browser says the request comes from another
// site or origin. The exchange and the API are called by the page itself,
// never by another page; other clients send no Sec-Fetch-Site at all.
func crossSite(c *gin.Context) bool {
	return !ticket.SameOriginFetch(c.GetHeader("Sec-Fetch-Site"))
}
