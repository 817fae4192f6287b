package jsonx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type body struct {
	Name  string           `json:"name"`
	Count int              `json:"count"`
	Size  uint             `json:"size"`
	Tags  []string         `json:"tags"`
	Meta  *struct{}        `json:"meta"`
	At    time.Time        `json:"at"`
	Odd   oddField         `json:"odd"`
	Ptr   *float64         `json:"ptr"`
	Sub   struct{ X bool } `json:"sub"`
}

// oddField refuses every value with a message meant for the client.
type oddField struct{}

func (*oddField) UnmarshalJSON([]byte) error { return Message("odd must be left out") }

func TestReadObject(t *testing.T) {
	const js = "application/json"
	tests := []struct {
		name, contentType, body string
		opts                    Options
		status                  int
		code, message           string
	}{
		{name: "object", contentType: js, body: `{"name":"a"}`},
		{name: "charset", contentType: "application/json; charset=utf-8", body: ` {"name":"a"} `},
		{name: "text/plain", contentType: "text/plain", body: `{"name":"a"}`, status: 415, code: "unsupported_media_type", message: "Content-Type: application/json"},
		{name: "no content type", body: `{"name":"a"}`, status: 415, code: "unsupported_media_type"},
		{name: "no content type allowed", body: `{"name":"a"}`, opts: Options{AllowNoContentType: true}},
		{name: "a bad content type is refused even when none is allowed", contentType: "text/plain", body: `{}`, opts: Options{AllowNoContentType: true}, status: 415},
		{name: "too large", contentType: js, body: `{"name":"` + strings.Repeat("x", 20<<10) + `"}`, status: 413, code: "body_too_large", message: "at most 16 KiB"},
		{name: "limit", contentType: js, body: `{"name":"` + strings.Repeat("x", 100) + `"}`, opts: Options{MaxBytes: 64}, status: 413, message: "at most 64 bytes"},
		{name: "empty", contentType: js, body: " ", status: 400, code: "bad_json", message: "must be a JSON object"},
		{name: "empty allowed", body: "", opts: Options{AllowEmpty: true}},
		{name: "empty allowed, any content type", contentType: "text/plain", body: "", opts: Options{AllowEmpty: true}},
		{name: "array", contentType: js, body: `["a"]`, status: 400, code: "bad_json", message: "must be a JSON object"},
		{name: "null", contentType: js, body: `null`, status: 400, message: "must be a JSON object"},
		{name: "syntax", contentType: js, body: `{"name":}`, status: 400, message: "invalid JSON body: malformed JSON at byte 9"},
		{name: "truncated", contentType: js, body: `{"name":"a"`, status: 400, message: "invalid JSON body: truncated JSON"},
		{name: "unknown field", contentType: js, body: `{"name":"a","admin":true}`, status: 400, message: `invalid JSON body: unknown field "admin"`},
		{name: "unknown field allowed", contentType: js, body: `{"name":"a","admin":true}`, opts: Options{AllowUnknownFields: true}},
		{name: "two objects", contentType: js, body: `{"name":"a"} {}`, status: 400, message: "invalid JSON body: unexpected data after the value"},
		{name: "stray closing brace", contentType: js, body: `{"name":"a"}}`, status: 400, message: "invalid JSON body: unexpected data after the value"},
		{name: "stray closing brace, lenient", contentType: js, body: `{"name":"a"}}`, opts: Options{AllowUnknownFields: true}, status: 400, message: "malformed JSON at byte 13"},
		{name: "two objects, lenient", contentType: js, body: `{"name":"a"} {}`, opts: Options{AllowUnknownFields: true}, status: 400, message: "malformed JSON at byte 14"},
		{name: "string for int", contentType: js, body: `{"count":"1"}`, status: 400, message: "field count must be an integer in range"},
		{name: "negative for uint", contentType: js, body: `{"size":-1}`, status: 400, message: "field size must be a non-negative integer in range"},
		{name: "object for array", contentType: js, body: `{"tags":{}}`, status: 400, message: "field tags must be an array"},
		{name: "number for object", contentType: js, body: `{"meta":1}`, status: 400, message: "field meta must be an object"},
		{name: "string for pointer to number", contentType: js, body: `{"ptr":"x"}`, status: 400, message: "field ptr must be a number"},
		{name: "nested", contentType: js, body: `{"sub":{"X":1}}`, status: 400, message: "field sub.X must be a boolean"},
		{name: "bad time", contentType: js, body: `{"at":"tomorrow"}`, status: 400, message: "a time is not RFC 3339"},
		{name: "a message from an Unmarshaler", contentType: js, body: `{"odd":1}`, status: 400, message: "invalid JSON body: odd must be left out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			var dst body
			p := ReadObject(httptest.NewRecorder(), r, &dst, tt.opts)
			if tt.status == 0 {
				if p != nil {
					t.Fatalf("refused: %+v", p)
				}
				return
			}
			if p == nil || p.Status != tt.status || (tt.code != "" && p.Code != tt.code) || !strings.Contains(p.Message, tt.message) {
				t.Fatalf("problem %+v, want %d %s %q", p, tt.status, tt.code, tt.message)
			}
		})
	}
}

// TestDescribeQuotesNoInput: what Describe says never carries the value
// that was sent (it may be a secret).
func TestDescribeQuotesNoInput(t *testing.T) {
	const secret = "sk_live_0123456789"
	for _, in := range []string{`{"count":"` + secret + `"}`, `{"name":` + secret + `}`, `{"at":"` + secret + `"}`, `["` + secret + `"]`} {
		var dst body
		if err := Decode([]byte(in), &dst, false); err == nil || strings.Contains(Describe(err), secret) {
			t.Errorf("Decode(%s): %v, described as %q", in, err, Describe(err))
		}
		if err := json.Unmarshal([]byte(in), &dst); err == nil || strings.Contains(Describe(err), secret) {
			t.Errorf("json.Unmarshal(%s): %v, described as %q", in, err, Describe(err))
		}
	}
}
