package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// maxBody is the largest JSON body the exchange and the API accept.
const maxBody = 16 << 10

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

// decodeJSON reads a strict JSON object into dst: Content-Type
// application/json, at most maxBody bytes, no unknown fields, nothing after
// the object. On failure it has answered a 4xx and returns false.
func decodeJSON(c *gin.Context, dst any) bool {
	ct := c.GetHeader("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		fail(c, http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)")
		return false
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(c, http.StatusRequestEntityTooLarge, "body_too_large", "the body must be at most 16 KiB")
			return false
		}
		fail(c, http.StatusBadRequest, "bad_body", "the body could not be read")
		return false
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		fail(c, http.StatusBadRequest, "bad_json", "the body must be a JSON object")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		fail(c, http.StatusBadRequest, "bad_json", "invalid JSON body: "+jsonProblem(err))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		fail(c, http.StatusBadRequest, "bad_json", "invalid JSON body: unexpected data after the object")
		return false
	}
	return true
}

// jsonProblem turns a decoding error into a message fit for a client.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		return "field " + typ.Field + " must be " + typ.Type.String()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the object is not complete"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed"
}

// crossSite reports whether a browser says the request comes from another
// site or origin. The exchange and the API are called by the page itself,
// never by another page; other clients send no Sec-Fetch-Site at all.
func crossSite(c *gin.Context) bool {
	switch c.GetHeader("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return false
	}
	return true
}
