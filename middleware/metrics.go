package middleware

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyportal/keyportal/internal/promreg"
)

// routeMetrics are the ticket route's Prometheus collectors; the zero value
// (no registry) records nothing.
type routeMetrics struct {
	attempts *prometheus.CounterVec
	duration prometheus.Histogram
}

func newRouteMetrics(reg prometheus.Registerer) (routeMetrics, error) {
	if isNil(reg) {
		return routeMetrics{}, nil
	}
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyportal_ticket_attempts_total",
		Help: "Ticket requests by outcome (issued, denied, error) and reason.",
	}, []string{"outcome", "reason"})
	duration := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "keyportal_ticket_duration_seconds",
		Help:    "Time to answer a ticket request, issuer call included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
	var err error
	if attempts, err = registerOrReuse(reg, attempts); err != nil {
		return routeMetrics{}, err
	}
	if duration, err = registerOrReuse(reg, duration); err != nil {
		return routeMetrics{}, err
	}
	return routeMetrics{attempts: attempts, duration: duration}, nil
}

// registerOrReuse registers c, or returns the equal collector already
// registered (two routes on one registry share their metrics).
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	return promreg.Register(reg, "middleware", c)
}

func (m routeMetrics) observe(outcome, reason string, latency time.Duration) {
	if m.attempts == nil {
		return
	}
	m.attempts.WithLabelValues(outcome, reason).Inc()
	m.duration.Observe(latency.Seconds())
}
