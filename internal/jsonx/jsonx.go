// Package jsonx decodes JSON bodies strictly and says what is wrong with
// one in words fit for the client that sent it: one decoder for the
// portal's API and exchange, the Wacht-compatible backend API, and the Wacht
// client's reading of responses.
package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxBytes is the body size Options.MaxBytes means when zero.
const DefaultMaxBytes = 16 << 10

// Options says how strict ReadObject is. The zero value is the strictest.
type Options struct {
	// MaxBytes bounds the body; a larger one is answered 413. Zero means
	// DefaultMaxBytes.
	MaxBytes int64
	// AllowUnknownFields accepts object members dst has no field for (an
	// API that is compatible with another one accepts that one's fields it
	// does not model). False refuses them.
	AllowUnknownFields bool
	// AllowEmpty accepts an empty (or all-space) body, leaving dst as it
	// is. False refuses it.
	AllowEmpty bool
	// AllowNoContentType accepts a request without a Content-Type header
	// (a server-to-server client may send none). False requires
	// application/json, which a browser cannot send to another origin
	// without a CORS preflight: a CSRF defence for browser-facing routes.
	AllowNoContentType bool
}

// Problem is why a body was refused: the HTTP status to answer, a stable
// code, and a message for the client that never quotes the body.
type Problem struct {
	Status  int
	Code    string // unsupported_media_type, body_too_large, bad_body or bad_json
	Message string
}

func (p *Problem) Error() string { return p.Message }

// ReadObject reads r's body, which must be one JSON object and nothing
// else, into dst. On failure it returns the Problem to answer; dst may then
// be partly filled. w is used only to close the connection of a too large
// body (http.MaxBytesReader).
func ReadObject(w http.ResponseWriter, r *http.Request, dst any, o Options) *Problem {
	limit := o.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			return &Problem{http.StatusRequestEntityTooLarge, "body_too_large", "the body must be at most " + size(limit)}
		}
		return &Problem{http.StatusBadRequest, "bad_body", "the body could not be read"}
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 && o.AllowEmpty {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" || !o.AllowNoContentType {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &Problem{http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)"}
		}
	}
	if len(data) == 0 || data[0] != '{' {
		return &Problem{http.StatusBadRequest, "bad_json", "the body must be a JSON object"}
	}
	if err := Decode(data, dst, o.AllowUnknownFields); err != nil {
		return &Problem{http.StatusBadRequest, "bad_json", "invalid JSON body: " + Describe(err)}
	}
	return nil
}

// errTrailing is Decode's error for data after the value.
var errTrailing = errors.New("jsonx: data after the value")

// Decode decodes data, which must hold exactly one JSON value (and white
// space), into dst. Object members dst has no field for are an error unless
// allowUnknown. Describe turns the error into words for a client.
func Decode(data []byte, dst any, allowUnknown bool) error {
	if allowUnknown {
		return json.Unmarshal(data, dst) // one value, in one pass
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailing
	}
	return nil
}

// Message is an error that a json.Unmarshaler returns when its message is
// meant for the client as it is (say, "expires_at must be an RFC 3339
// time"); Describe passes it on.
type Message string

func (m Message) Error() string { return string(m) }

// Describe turns an error of Decode (or of json.Unmarshal) into a short
// message for a client, naming the field at fault when known and never
// quoting the input.
func Describe(err error) string {
	var msg Message
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tim *time.ParseError
	switch {
	case errors.As(err, &msg):
		return string(msg)
	case errors.Is(err, errTrailing):
		return "unexpected data after the value"
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "the value must be " + kind(typ.Type)
		}
		return "field " + typ.Field + " must be " + kind(typ.Type)
	case errors.As(err, &syn):
		return "malformed JSON at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &tim):
		return "a time is not RFC 3339"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + name
	}
	return "malformed JSON"
}

// kind names a Go type as a JSON kind.
func kind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer in range"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another type"
}

// size writes a byte count the way people read it.
func size(n int64) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
