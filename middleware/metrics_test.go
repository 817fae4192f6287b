package middleware

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/keyportal/keyportal/middleware/ticket"
)

func TestTicketRouteMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	env := newRouteEnv(t, Config{Metrics: reg})
	for range 3 {
		env.do(req{})
	}
	env.do(req{user: "-"})
	env.do(req{origin: "https://evil.example"})
	env.issuer.err = ticket.ErrUnavailable
	env.do(req{})

	want := `
# HELP keyportal_ticket_attempts_total Ticket requests by outcome (issued, denied, error) and reason.
# TYPE keyportal_ticket_attempts_total counter
keyportal_ticket_attempts_total{outcome="denied",reason="cross_site"} 1
keyportal_ticket_attempts_total{outcome="denied",reason="unauthenticated"} 1
keyportal_ticket_attempts_total{outcome="error",reason="issuer_unavailable"} 1
keyportal_ticket_attempts_total{outcome="issued",reason="allowed"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "keyportal_ticket_attempts_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "keyportal_ticket_duration_seconds"); n != 1 {
		t.Errorf("duration histogram: %d series, want 1", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "keyportal_ticket_duration_seconds" {
			if c := mf.GetMetric()[0].GetHistogram().GetSampleCount(); c != 6 {
				t.Errorf("duration sample count = %d, want 6", c)
			}
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
}

func TestTicketRouteMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newRouteEnv(t, Config{Metrics: reg})
	b := newRouteEnv(t, Config{Metrics: reg, Path: "/other"})
	a.do(req{})
	b.do(req{})
	if got := testutil.ToFloat64(a.route.metrics.attempts.WithLabelValues("issued", "allowed")); got != 2 {
		t.Errorf("shared counter = %v, want 2", got)
	}
}

func TestTicketRouteMetricsConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "keyportal_ticket_attempts_total", Help: "something else"}))
	_, err := NewTicketRoute(Config{Identify: identifyByHeader, Decider: allowAll, Issuer: &fakeIssuer{}, Metrics: reg})
	if err == nil || !strings.HasPrefix(err.Error(), "middleware: registering metrics") {
		t.Errorf("err = %v, want a registration error", err)
	}
}
