package middleware

import (
	"bytes"
	"encoding/json"
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
//
// The body is validated by json.Valid first; a valid body is then walked
// without allocating (a valid value needs no error handling), and only an
// invalid one goes through a json.Decoder to tell malformed from trailing.
func parseBody(body []byte, field string) (json.RawMessage, string) {
	if !json.Valid(body) {
		return nil, classifyInvalid(body)
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return nil, ReasonMalformedJSON
	}
	i++
	var value json.RawMessage
	for {
		i = skipSpace(body, i)
		switch body[i] {
		case '}':
			return value, ""
		case ',':
			i = skipSpace(body, i+1)
		}
		keyEnd := endOfString(body, i)
		key := body[i+1 : keyEnd-1]
		i = skipSpace(body, keyEnd) + 1 // past ':'
		i = skipSpace(body, i)
		valueEnd := endOfValue(body, i)
		if !keyIs(key, field) {
			return nil, ReasonUnknownField
		}
		if value != nil {
			return nil, ReasonDuplicateField
		}
		value = body[i:valueEnd]
		i = valueEnd
	}
}

// keyIs reports whether the raw key (between its quotes) is field; a key
// with escapes is decoded first.
func keyIs(raw []byte, field string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == field
	}
	var key string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &key); err != nil {
		return false
	}
	return key == field
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index after the string starting at b[i] == '"'
// of valid JSON.
func endOfString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// endOfValue returns the index after the value starting at b[i] of valid
// JSON.
func endOfValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = endOfString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return len(b)
	}
}

// classifyInvalid tells why a body that is not valid JSON was refused: a
// valid first value followed by more is ReasonTrailingData, anything else
// ReasonMalformedJSON.
func classifyInvalid(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	var first json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return ReasonMalformedJSON
	}
	return ReasonTrailingData
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
		if bytes.IndexByte(raw, '\\') < 0 {
			id = string(raw[1 : len(raw)-1])
		} else if err := json.Unmarshal(raw, &id); err != nil {
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
