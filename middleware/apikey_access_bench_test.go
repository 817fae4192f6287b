package middleware_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/audit/accesslog"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
)

// BenchmarkRequireAPIKeyRecording measures what the verification log costs a
// request, side by side: the Valid1M case (1M keys, 10,000 in use, served
// from the cache, last_used_at batches out of the window) with recording
// off; on, writing to a SQLite store of its own as a server's default does
// (the fixture stays as built; the background writer's CPU counts in
// cpu-ns/op); on with a writer that drops the batches (the request
// path's cost alone: building the event and handing it to the buffer); the
// floor: the same event built by the guard and dropped by a recorder that
// does nothing (what building the event costs, which any recorder pays);
// and, for reference, the event handed to a bare buffered channel that a
// goroutine drains, with nothing of the recorder's (no batching, no shed
// counting), which wakes the goroutine for every event.
// Run with:
//
//	go test ./middleware -run '^$' -bench 'RequireAPIKeyRecording' -benchmem -count 5
func BenchmarkRequireAPIKeyRecording(b *testing.B) {
	st := openFixture(b)
	for _, bc := range []string{"record=off", "record=on", "record=on,writer=discard", "floor=build", "channel"} {
		b.Run(bc, func(b *testing.B) {
			cfg := middleware.APIKeyConfig{Config: apikey.Config{Keys: st, Tenants: apikeytest.NewTenants(), TouchInterval: 24 * time.Hour}}
			switch bc {
			case "record=on,writer=discard":
				rec, err := accesslog.New(dropWriter{}, accesslog.Config{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { rec.Close(b.Context()) })
				cfg.AccessLog = rec
			case "record=on":
				logStore, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "access.db"), keystore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				rec, err := accesslog.New(logStore, accesslog.Config{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() {
					rec.Close(b.Context())
					if rec.Shed() > 0 {
						b.ReportMetric(float64(rec.Shed())/float64(b.N), "shed/op")
					}
					logStore.Close()
				})
				cfg.AccessLog = rec
			case "floor=build":
				cfg.AccessLog = dropRecorder{}
			case "channel":
				cfg.AccessLog = newChannelRecorder(b)
			default:
				cfg.AccessLog = audit.DiscardAccess
			}
			engine := benchEngine(b, cfg)
			reqs := benchRequests(workingSet(10_000))
			for _, r := range reqs {
				r.RemoteAddr = "203.0.113.7:40123" // as a server's requests have it
			}
			w := &testenv.DiscardWriter{}
			for _, r := range reqs { // warm the cache
				w.Reset()
				engine.ServeHTTP(w, r)
			}
			serveAll(b, engine, reqs, http.StatusNoContent)
		})
	}
}

// dropWriter is an AccessWriter that drops every batch.
type dropWriter struct{}

func (dropWriter) WriteAccess(context.Context, []audit.Access, []audit.Shed) error { return nil }

// dropRecorder is the floor of BenchmarkRequireAPIKeyRecording: it drops
// every event the guard built (unlike audit.DiscardAccess, which the guard
// takes for "no recorder" and builds no event for).
type dropRecorder struct{}

func (dropRecorder) RecordAccess(audit.Access) {}

// channelRecorder is the reference of BenchmarkRequireAPIKeyRecording: a
// buffered channel, drained by one goroutine, that drops events when full.
type channelRecorder chan audit.Access

func newChannelRecorder(b *testing.B) channelRecorder {
	ch := make(channelRecorder, 65536)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ch {
		}
	}()
	b.Cleanup(func() { close(ch); <-done })
	return ch
}

func (ch channelRecorder) RecordAccess(e audit.Access) {
	select {
	case ch <- e:
	default:
	}
}
