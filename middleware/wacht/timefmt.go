package wacht

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/keyportal/keyportal/internal/jsonx"
)

// wireTime decodes the timestamps of the API leniently: Wacht sends RFC 3339
// strings, but a time without a zone (taken as UTC), a space instead of the
// "T", unix seconds or milliseconds as a number, "" and null (the zero time)
// are accepted too, so one odd field does not fail a whole listing.
type wireTime time.Time

var wireLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// UnmarshalJSON implements json.Unmarshaler.
func (w *wireTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*w = wireTime{}
		return nil
	}
	if b[0] != '"' {
		n, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return jsonx.Message("a timestamp is neither a string nor a number")
		}
		*w = wireTime(unixNumber(n))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		*w = wireTime{}
		return nil
	}
	for _, layout := range wireLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			*w = wireTime(t)
			return nil
		}
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		*w = wireTime(unixNumber(n))
		return nil
	}
	return jsonx.Message("a timestamp is not RFC 3339")
}

// unixNumber reads unix seconds, or milliseconds when the number is too large
// to be seconds (after the year 5138).
func unixNumber(n float64) time.Time {
	if n > 1e11 || n < -1e11 {
		return time.UnixMilli(int64(n)).UTC()
	}
	sec := int64(n)
	return time.Unix(sec, int64((n-float64(sec))*1e9)).UTC()
}
