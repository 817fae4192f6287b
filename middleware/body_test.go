package middleware

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

// parseBodyReference is parseBody written plainly with a json.Decoder, the
// specification the allocation-free walk is checked against.
func parseBodyReference(body []byte, field string) (json.RawMessage, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		var first json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&first); err == nil && !json.Valid(body) {
			return nil, ReasonTrailingData
		}
		return nil, ReasonMalformedJSON
	}
	var value json.RawMessage
	reason := ""
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
		switch {
		case reason != "":
		case key != field:
			reason = ReasonUnknownField
		case value != nil:
			reason = ReasonDuplicateField
		default:
			value = raw
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, ReasonMalformedJSON
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, ReasonTrailingData
	}
	if reason != "" {
		return nil, reason
	}
	return value, ""
}

var bodyCases = []struct {
	name, body string
	wantValue  string
	wantReason string
}{
	{"string id", `{"deploymentId":"42"}`, `"42"`, ""},
	{"number id", `{"deploymentId":42}`, `42`, ""},
	{"spaces everywhere", " \t\r\n{ \"deploymentId\" :\n\"42\" } \n", `"42"`, ""},
	{"escaped key", `{"deployment\u0049d":"42"}`, `"42"`, ""},
	{"key starting with an escape", `{"\u0064eploymentId":"42"}`, `"42"`, ""},
	{"escaped quote in value", `{"deploymentId":"4\"2"}`, `"4\"2"`, ""},
	{"nested value", `{"deploymentId":{"a":["}",{"b":"]"}]}}`, `{"a":["}",{"b":"]"}]}`, ""},
	{"array value", `{"deploymentId":[1,2,[3]]}`, `[1,2,[3]]`, ""},
	{"null value", `{"deploymentId":null}`, `null`, ""},
	{"empty object", `{}`, ``, ""},
	{"unknown field", `{"x":1}`, ``, ReasonUnknownField},
	{"unknown after the id", `{"deploymentId":"42","x":{"y":"}"}}`, ``, ReasonUnknownField},
	{"duplicate", `{"deploymentId":"42", "deploymentId":"43"}`, ``, ReasonDuplicateField},
	{"trailing garbage", `{"deploymentId":"42"} x`, ``, ReasonTrailingData},
	{"second object", `{}{}`, ``, ReasonTrailingData},
	{"truncated", `{"deploymentId":"42"`, ``, ReasonMalformedJSON},
	{"empty", ``, ``, ReasonMalformedJSON},
	{"array", `[]`, ``, ReasonMalformedJSON},
	{"number", `42`, ``, ReasonMalformedJSON},
	{"single quotes", `{'deploymentId':'42'}`, ``, ReasonMalformedJSON},
	{"trailing comma", `{"deploymentId":"42",}`, ``, ReasonMalformedJSON},
	{"BOM", "\xef\xbb\xbf{}", ``, ReasonMalformedJSON},
}

func TestParseBody(t *testing.T) {
	for _, tt := range bodyCases {
		t.Run(tt.name, func(t *testing.T) {
			value, reason := parseBody([]byte(tt.body), "deploymentId")
			if string(value) != tt.wantValue || reason != tt.wantReason {
				t.Errorf("parseBody = %q, %q; want %q, %q", value, reason, tt.wantValue, tt.wantReason)
			}
		})
	}
}

// FuzzParseBody checks the allocation-free walk against the plain decoder.
func FuzzParseBody(f *testing.F) {
	for _, c := range bodyCases {
		f.Add(c.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		gotV, gotR := parseBody([]byte(body), "deploymentId")
		wantV, wantR := parseBodyReference([]byte(body), "deploymentId")
		if !bytes.Equal(gotV, wantV) || gotR != wantR {
			t.Fatalf("parseBody(%q) = %q, %q; reference %q, %q", body, gotV, gotR, wantV, wantR)
		}
	})
}

func TestParseID(t *testing.T) {
	tests := []struct {
		name, raw  string
		wantID     string
		wantReason string
	}{
		{"string", `"42"`, "42", ""},
		{"integer", `42`, "42", ""},
		{"zero", `0`, "0", ""},
		{"integer with a 9", `1999`, "1999", ""},
		{"letters and signs", `"aB_-9"`, "aB_-9", ""},
		{"escaped letters", `"\u0034\u0032"`, "42", ""},
		{"absent", ``, "", ReasonMissingID},
		{"null", `null`, "", ReasonMissingID},
		{"empty string", `""`, "", ReasonMissingID},
		{"fraction", `4.0`, "", ReasonInvalidID},
		{"exponent", `1e3`, "", ReasonInvalidID},
		{"negative", `-1`, "", ReasonInvalidID},
		{"slash", `"a/b"`, "", ReasonInvalidID},
		{"dot", `"a.b"`, "", ReasonInvalidID},
		{"newline", `"a\nb"`, "", ReasonInvalidID},
		{"65 digits", `12345678901234567890123456789012345678901234567890123456789012345`, "", ReasonInvalidID},
		{"false", `false`, "", ReasonInvalidID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, reason := parseID(json.RawMessage(tt.raw))
			if id != tt.wantID || reason != tt.wantReason {
				t.Errorf("parseID(%s) = %q, %q; want %q, %q", tt.raw, id, reason, tt.wantID, tt.wantReason)
			}
		})
	}
}
