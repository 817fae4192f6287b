package wacht

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestWireTime(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name    string
		json    string
		want    time.Time
		wantErr bool
	}{
		{name: "rfc3339", json: `"2026-11-26T12:00:00Z"`, want: utc("2026-11-26T12:00:00Z")},
		{name: "rfc3339 with offset", json: `"2026-11-26T13:00:00+01:00"`, want: utc("2026-11-26T12:00:00Z")},
		{name: "microseconds (chrono)", json: `"2026-11-26T12:00:00.123456Z"`, want: utc("2026-11-26T12:00:00.123456Z")},
		{name: "no zone is UTC", json: `"2026-11-26T12:00:00.5"`, want: utc("2026-11-26T12:00:00.5Z")},
		{name: "space separator", json: `"2026-11-26 12:00:00+00:00"`, want: utc("2026-11-26T12:00:00Z")},
		{name: "space, no zone", json: `"2026-11-26 12:00:00"`, want: utc("2026-11-26T12:00:00Z")},
		{name: "date only", json: `"2026-11-26"`, want: utc("2026-11-26T00:00:00Z")},
		{name: "unix seconds", json: `1795723200`, want: time.Unix(1795723200, 0)},
		{name: "unix milliseconds", json: `1795723200500`, want: time.UnixMilli(1795723200500)},
		{name: "unix seconds as string", json: `"1795723200"`, want: time.Unix(1795723200, 0)},
		{name: "null", json: `null`},
		{name: "empty string", json: `""`},
		{name: "garbage string", json: `"next tuesday"`, wantErr: true},
		{name: "object", json: `{}`, wantErr: true},
		{name: "bool", json: `true`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w wireTime
			err := json.Unmarshal([]byte(tt.json), &w)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decoded %s as %v, want an error", tt.json, time.Time(w))
				}
				return
			}
			if err != nil || !time.Time(w).Equal(tt.want) {
				t.Fatalf("decoded %s as %v, %v; want %v", tt.json, time.Time(w), err, tt.want)
			}
		})
	}
}

// TestLenientTimesInResources: odd timestamp shapes in an app, a key, an
// audit entry, a scheme and a time series point decode, and their other
// members as sent; absent ones stay zero; a malformed one fails the
// decoding rather than being silently zeroed.
func TestLenientTimesInResources(t *testing.T) {
	var app App
	if err := json.Unmarshal([]byte(`{"app_slug":"aa_42","created_at":"2026-11-26 12:00:00","updated_at":1795723200,"deleted_at":null,"is_active":true}`), &app); err != nil {
		t.Fatal(err)
	}
	if app.AppSlug != "aa_42" || !app.IsActive || app.CreatedAt.IsZero() || app.UpdatedAt.IsZero() || !app.DeletedAt.IsZero() {
		t.Errorf("app = %+v", app)
	}
	var key Key
	if err := json.Unmarshal([]byte(`{"id":"7","name":"ci","expires_at":"2027-01-01T00:00:00Z","revoked_at":"","created_at":"2026-11-26T12:00:00.123Z"}`), &key); err != nil {
		t.Fatal(err)
	}
	if key.ID != "7" || key.Name != "ci" || key.ExpiresAt.Year() != 2027 || !key.RevokedAt.IsZero() || key.CreatedAt.Nanosecond() != 123e6 {
		t.Errorf("key = %+v", key)
	}
	var entry AuditLog
	if err := json.Unmarshal([]byte(`{"request_id":"r1","timestamp":"2026-11-26T12:00:00Z","rate_limits":[{"rule":"x&y"}]}`), &entry); err != nil {
		t.Fatal(err)
	}
	if entry.RequestID != "r1" || entry.Timestamp.IsZero() || !strings.Contains(string(entry.RateLimits), `"x&y"`) {
		t.Errorf("entry = %+v, rate_limits %s", entry, entry.RateLimits)
	}
	var scheme RateLimitScheme
	if err := json.Unmarshal([]byte(`{"slug":"std","created_at":1795723200000,"rules":[]}`), &scheme); err != nil {
		t.Fatal(err)
	}
	if scheme.Slug != "std" || scheme.CreatedAt.Year() != 2026 || !scheme.UpdatedAt.IsZero() {
		t.Errorf("scheme = %+v", scheme)
	}
	var point TimeseriesPoint
	if err := json.Unmarshal([]byte(`{"timestamp":"2026-11-26","total_requests":3}`), &point); err != nil {
		t.Fatal(err)
	}
	if point.TotalRequests != 3 || point.Timestamp.Day() != 26 {
		t.Errorf("point = %+v", point)
	}
	if err := json.Unmarshal([]byte(`{"id":"7","created_at":"yesterday"}`), &key); err == nil {
		t.Error("a malformed created_at was accepted")
	}
	// Marshalling leaves absent optional times out.
	b, _ := json.Marshal(Key{ID: "7"})
	if strings.Contains(string(b), "expires_at") || strings.Contains(string(b), "revoked_at") {
		t.Errorf("marshalled %s", b)
	}
}
