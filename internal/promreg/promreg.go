// Package promreg registers Prometheus collectors so that two users of one
// registry (two routes, two guards) share one collector instead of failing.
package promreg

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg, or returns the equal collector already
// registered there. what prefixes the error ("middleware", "accesslog").
func Register[C prometheus.Collector](reg prometheus.Registerer, what string, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("%s: registering metrics: %w", what, err)
}
