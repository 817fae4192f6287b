package wachtapi_test

import (
	"encoding/json"
	"testing"

	"github.com/keyportal/keyportal/internal/jstest"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
)

// Wacht's own npm backend SDK reads the three audit endpoints of keyportal's
// API when only its base URL changes: logs (paged by cursor, filtered),
// analytics with every top list, and the time series.
func TestWachtSDKReadsAudit(t *testing.T) {
	w := newWorld(t)
	keyID, allowed, blocked, limited := seedAccess(t, w)
	out := jstest.RunWachtSDK(t, w.srv.URL, backendKey, apikeytest.AppSlug)
	type log struct {
		RequestID string `json:"request_id"`
		KeyID     string `json:"key_id"`
		Outcome   string `json:"outcome"`
		Rule      string `json:"blocked_by_rule"`
		Path      string `json:"path"`
		Timestamp string `json:"timestamp"`
	}
	type logs struct {
		Data       []log  `json:"data"`
		Limit      int    `json:"limit"`
		HasMore    bool   `json:"has_more"`
		NextCursor string `json:"next_cursor"`
	}
	var got struct {
		Error     string `json:"error"`
		Logs      struct{ First, Second, Blocked logs }
		Analytics struct {
			Total    int64 `json:"total_requests"`
			Allowed  int64 `json:"allowed_requests"`
			Blocked  int64 `json:"blocked_requests"`
			KeysUsed int64 `json:"keys_used_24h"`
			TopKeys  []struct {
				KeyID string `json:"key_id"`
			} `json:"top_keys"`
			TopPaths       []struct{ Path string } `json:"top_paths"`
			BlockedReasons []struct {
				Rule  string `json:"blocked_by_rule"`
				Count int64  `json:"count"`
			} `json:"blocked_reasons"`
			RateLimitStats struct {
				TotalHits int64 `json:"total_hits"`
			} `json:"rate_limit_stats"`
		}
		Timeseries struct {
			Data []struct {
				Total int64 `json:"total_requests"`
			} `json:"data"`
			Interval string `json:"interval"`
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the SDK script printed %s: %v", out, err)
	}
	if got.Error != "" {
		t.Fatalf("the SDK failed: %s", got.Error)
	}
	l := got.Logs
	if len(l.First.Data) != 5 || !l.First.HasMore || l.First.NextCursor == "" || len(l.Second.Data) != 5 ||
		l.First.Data[4].Timestamp < l.Second.Data[0].Timestamp || int64(len(l.Blocked.Data)) != blocked {
		t.Fatalf("logs read by the SDK: %+v", l)
	}
	for _, e := range l.Blocked.Data {
		if e.Outcome != "blocked" || e.Rule == "" {
			t.Fatalf("blocked entry %+v", e)
		}
	}
	a := got.Analytics
	if a.Total != allowed+blocked || a.Allowed != allowed || a.Blocked != blocked || a.KeysUsed != 1 ||
		len(a.TopKeys) != 1 || a.TopKeys[0].KeyID != keyID || len(a.TopPaths) != 2 || len(a.BlockedReasons) != 2 ||
		a.RateLimitStats.TotalHits != limited {
		t.Fatalf("analytics read by the SDK: %+v", a)
	}
	var total int64
	for _, p := range got.Timeseries.Data {
		total += p.Total
	}
	if got.Timeseries.Interval != "hour" || len(got.Timeseries.Data) < 7*24 || total != allowed+blocked {
		t.Fatalf("time series read by the SDK: %d points summing to %d, interval %q", len(got.Timeseries.Data), total, got.Timeseries.Interval)
	}
}
