package middleware

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/keyportal/keyportal/middleware/audit"
)

// TestAnonymousFloodLeavesNoAuditRows: refusals before the route knows who
// is asking (content type, cross-site, no session) are counted and logged
// at a bounded rate, never given to the Auditor, so a flood cannot fill the
// audit store; a signed-in user's attempt is still recorded (issue 14 §1).
func TestAnonymousFloodLeavesNoAuditRows(t *testing.T) {
	var recorded atomic.Int64
	reg := prometheus.NewRegistry()
	env := newRouteEnv(t, Config{Metrics: reg, Auditor: audit.AuditorFunc(func(context.Context, audit.Event) error {
		recorded.Add(1)
		return nil
	})})
	kinds := []struct {
		r      req
		code   int
		reason string
	}{
		{req{contentType: "text/plain"}, http.StatusUnsupportedMediaType, ReasonUnsupportedMediaType},
		{req{origin: "http://evil"}, http.StatusForbidden, ReasonCrossSite},
		{req{user: "-"}, http.StatusUnauthorized, ReasonUnauthenticated},
	}
	const n = 7500
	for i := range n {
		k := kinds[i%len(kinds)]
		if w := env.do(k.r); w.Code != k.code {
			t.Fatalf("request %d: %d %s, want %d", i, w.Code, w.Body, k.code)
		}
	}
	if got := recorded.Load(); got != 0 {
		t.Fatalf("%d anonymous refusals gave the auditor %d events, want 0", n, got)
	}
	for _, k := range kinds {
		got := testutil.ToFloat64(env.route.metrics.attempts.WithLabelValues(audit.OutcomeDenied, k.reason))
		if got != n/float64(len(kinds)) {
			t.Errorf("keyportal_ticket_attempts_total{reason=%q} = %v, want %d", k.reason, got, n/len(kinds))
		}
	}
	if lines := len(env.log.auditEvents(t)); lines > 10 {
		t.Errorf("%d log lines for %d refusals from one IP, want a few", lines, n)
	}

	if w := env.do(req{}); w.Code != http.StatusOK {
		t.Fatalf("signed-in user: %d %s", w.Code, w.Body)
	}
	if got := recorded.Load(); got != 1 {
		t.Fatalf("the signed-in user's attempt gave the auditor %d events, want 1", got)
	}
}
