package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/audit/accesslog"
	"github.com/keyportal/keyportal/middleware/keystore"
)

// verificationLog returns the store's verification log: its reader, and a
// recorder writing to it (with its counters on reg) that stop flushes and
// ends. Taken from the store itself, before serve wraps it, which hides
// the driver's methods. All nil for a store that keeps none, with
// audit.DiscardAccess as the recorder.
func verificationLog(store keystore.Store, reg prometheus.Registerer, log zerolog.Logger) (audit.AccessReader, audit.AccessRecorder, func() error, error) {
	reader, _ := store.(audit.AccessReader)
	w, ok := store.(audit.AccessWriter)
	if !ok {
		return reader, audit.DiscardAccess, nil, nil
	}
	rec, err := accesslog.New(w, accesslog.Config{Metrics: reg, Logger: log})
	if err != nil {
		return nil, nil, nil, err
	}
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return rec.Close(ctx)
	}
	return reader, rec, stop, nil
}
