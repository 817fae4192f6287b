package wacht

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Outcomes of an AuditLog, as filters for AuditQuery.Outcome.
const (
	OutcomeAllowed = "allowed"
	OutcomeBlocked = "blocked"
)

// MaxAuditLimit is the largest page Wacht serves.
const MaxAuditLimit = 1000

// AuditQuery selects audit log entries of one app; zero fields do not filter.
type AuditQuery struct {
	// Start and End bound the entries' timestamps (sent as RFC 3339).
	Start, End time.Time
	// Cursor continues from a previous AuditPage.NextCursor.
	Cursor string
	// Limit is the page size, 1 to MaxAuditLimit; zero for the server's
	// default.
	Limit int
	// Outcome keeps entries with this outcome (OutcomeAllowed,
	// OutcomeBlocked).
	Outcome string
	// KeyID keeps entries of this key.
	KeyID string
}

// AuditLog is one verified request of an app's keys.
type AuditLog struct {
	RequestID     string          `json:"request_id"`
	DeploymentID  string          `json:"deployment_id"`
	AppSlug       string          `json:"app_slug"`
	KeyID         string          `json:"key_id"`
	KeyName       string          `json:"key_name"`
	Outcome       string          `json:"outcome"`
	BlockedByRule string          `json:"blocked_by_rule,omitempty"`
	ClientIP      string          `json:"client_ip"`
	Path          string          `json:"path"`
	UserAgent     string          `json:"user_agent,omitempty"`
	RateLimits    json.RawMessage `json:"rate_limits,omitempty"`
	Timestamp     time.Time       `json:"timestamp"`
}

// UnmarshalJSON decodes an entry, reading its timestamp leniently.
func (l *AuditLog) UnmarshalJSON(b []byte) error {
	type plain AuditLog
	aux := struct {
		*plain
		Timestamp wireTime `json:"timestamp"`
	}{plain: (*plain)(l)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	l.Timestamp = time.Time(aux.Timestamp)
	return nil
}

// AuditPage is one page of audit log entries, newest first.
type AuditPage struct {
	Logs    []AuditLog `json:"data"`
	Limit   int        `json:"limit"`
	HasMore bool       `json:"has_more"`
	// NextCursor is passed as AuditQuery.Cursor for the next page; empty on
	// the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// AuditLogs reads one page of an app's audit log
// (GET /api-auth/apps/{slug}/audit/logs).
func (c *Client) AuditLogs(ctx context.Context, slug string, q AuditQuery) (AuditPage, error) {
	k := auditCall("AuditLogs", slug, "/audit/logs", q.Start, q.End, q.KeyID)
	if q.Limit < 0 || q.Limit > MaxAuditLimit {
		k = k.refuse(&inputError{msg: fmt.Sprintf("AuditLogs: Limit %d is outside 0..%d", q.Limit, MaxAuditLimit)})
	}
	if q.Cursor != "" {
		k.query.Set("cursor", q.Cursor)
	}
	if q.Limit > 0 {
		k.query.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Outcome != "" {
		k.query.Set("outcome", q.Outcome)
	}
	return fetch[AuditPage](ctx, c, k)
}
