package wachtapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// Audit page sizes.
const (
	// DefaultAuditLimit is the page size when the request names none
	// (Wacht's default).
	DefaultAuditLimit = 100
	// MaxAuditLimit is the largest page size.
	MaxAuditLimit = 1000
	// maxAuditScans bounds how many store pages one request reads while
	// filtering by outcome.
	maxAuditScans = 20
)

// auditLogJSON is one audit event: Wacht's entry plus keyportal's fields.
type auditLogJSON struct {
	wacht.AuditLog
	ID             string `json:"id"`
	Action         string `json:"action"`
	Actor          string `json:"actor"`
	OrganizationID string `json:"organization_id"`
	Reason         string `json:"reason,omitempty"`
	Detail         string `json:"detail,omitempty"`
}

// auditLogs answers GET /api-auth/apps/{slug}/audit/events (an extension):
// the app's key lifecycle and ticket events, in the shape of the audit logs.
func (a *API) auditLogs(c *gin.Context) {
	limit, start, end, ok := logPageQuery(c)
	if !ok {
		return
	}
	app, ok := a.loadApp(c, c.Param("slug"))
	if !ok {
		return
	}
	ctx := c.Request.Context()
	q := audit.Query{
		AppSlug: app.Slug, Action: c.Query("action"), KeyID: c.Query("key_id"),
		Since: start, Until: end, Cursor: c.Query("cursor"),
	}
	outcome := c.Query("outcome")

	// Without an outcome filter one store page is the answer. With one,
	// keep reading pages of the remaining size: a page ends exactly where
	// the answer is full, so its cursor continues after the last event read.
	var events []audit.Event
	next := ""
	for scans := 0; ; scans++ {
		q.Limit = limit - len(events)
		page, err := a.store.QueryAudit(ctx, q)
		if err != nil {
			a.storeError(c, err, errText{notFound: appErrText.notFound, invalid: "invalid cursor or filter"})
			return
		}
		for _, e := range page.Events {
			if outcome == "" || e.Outcome == outcome {
				events = append(events, e)
			}
		}
		next = page.NextCursor
		if next == "" || len(events) >= limit || scans+1 >= maxAuditScans {
			break
		}
		q.Cursor = next
	}

	names := a.keyNames(c, app.Slug, events)
	out := newLogPage[auditLogJSON](len(events), limit, next)
	for _, e := range events {
		blocked := ""
		if e.Outcome != audit.OutcomeSuccess && e.Outcome != audit.OutcomeIssued {
			blocked = e.Reason
		}
		out.Data = append(out.Data, auditLogJSON{
			AuditLog: wacht.AuditLog{
				RequestID: e.RequestID, DeploymentID: app.DeploymentID, AppSlug: e.AppSlug, KeyID: e.KeyID,
				KeyName: names[e.KeyID], Outcome: e.Outcome, BlockedByRule: blocked, ClientIP: e.ClientIP,
				RateLimits: noRateLimits, Timestamp: e.Time.UTC(),
			},
			ID: e.ID, Action: e.Action, Actor: e.Actor, OrganizationID: e.Tenant, Reason: e.Reason, Detail: e.Detail,
		})
	}
	c.JSON(http.StatusOK, out)
}

// keyNames maps the key ids of events to key names, reading each key the
// page names once (so the cost follows the page, not the app's keys). It is
// best effort: a key it cannot read has no name rather than failing the page.
func (a *API) keyNames(c *gin.Context, slug string, events []audit.Event) map[string]string {
	names := map[string]string{}
	for _, e := range events {
		if e.KeyID == "" {
			continue
		}
		if _, done := names[e.KeyID]; done {
			continue
		}
		k, err := a.store.GetKey(c.Request.Context(), slug, e.KeyID)
		if err != nil && !errors.Is(err, keystore.ErrNotFound) {
			a.log.Warn().Err(err).Msg("backend: key names for audit logs")
		}
		names[e.KeyID] = k.Name
	}
	return names
}
