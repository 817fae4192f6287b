package middleware

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"
)

// MaxIDLen is the longest resource id the ticket route accepts.
const MaxIDLen = 64

// isJSONContentType reports whether a Content-Type header names JSON in
// UTF-8: application/json, with no charset or charset=utf-8.
func isJSONContentType(ct string) bool {
	if strings.EqualFold(ct, "application/json") {
		return true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// parseBody checks that body is exactly one JSON object whose only member,
// if any, is field, and returns that member's raw value (nil when absent).
// On failure it returns one of ReasonMalformedJSON, ReasonTrailingData,
// ReasonUnknownField or ReasonDuplicateField.
func parseBody(body []byte, field string) (json.RawMessage, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, ReasonMalformedJSON
	}
	var value json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, ReasonMalformedJSON
		}
		key, ok := tok.(string)
		if !ok {
			return nil, ReasonMalformedJSON
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, ReasonMalformedJSON
		}
		if key != field {
			return nil, ReasonUnknownField
		}
		if value != nil {
			return nil, ReasonDuplicateField
		}
		value = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, ReasonMalformedJSON
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, ReasonTrailingData
	}
	return value, ""
}

// parseID turns the id's raw JSON value into the id: a string, or a
// non-negative integer written in digits. It returns ReasonMissingID for an
// absent, null or empty id and ReasonInvalidID for any other value that is
// not 1 to MaxIDLen of [A-Za-z0-9_-].
func parseID(raw json.RawMessage) (string, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", ReasonMissingID
	}
	var id string
	switch c := raw[0]; {
	case c == '"':
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", ReasonInvalidID
		}
		if id == "" {
			return "", ReasonMissingID
		}
	case c >= '0' && c <= '9':
		for _, d := range raw {
			if d < '0' || d > '9' { // a fraction or an exponent
				return "", ReasonInvalidID
			}
		}
		id = string(raw)
	default: // a negative number, true, false, an object or an array
		return "", ReasonInvalidID
	}
	if !validID(id) {
		return "", ReasonInvalidID
	}
	return id, ""
}

// validID reports whether id is 1 to MaxIDLen of [A-Za-z0-9_-], safe in a
// policy object, an app slug, a URL and a log line.
func validID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch ch := id[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '_', ch == '-':
		default:
			return false
		}
	}
	return true
}
