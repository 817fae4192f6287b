package accesslog_test

import (
	"context"
	"testing"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/audit/accesslog"
)

// discardWriter drops every batch: what RecordAccess and the writer cost
// without a database.
type discardWriter struct{}

func (discardWriter) WriteAccess(context.Context, []audit.Access, []audit.Shed) error { return nil }

// BenchmarkRecordAccess measures RecordAccess with a writer that drops the
// batches, the request path's share of recording: from one goroutine, and
// from every core at once (the queue's mutex contended).
func BenchmarkRecordAccess(b *testing.B) {
	e := audit.Access{
		RequestID: "req-0123456789abcdef", Time: event("aa_1").Time, AppSlug: "aa_1", Tenant: "acme",
		KeyID: "key_0123456789", KeyName: "ci", Outcome: audit.AccessAllowed,
		Method: "GET", Path: "/v1/whoami", ClientIP: "203.0.113.7", UserAgent: "probe/1",
	}
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			r, err := accesslog.New(discardWriter{}, accesslog.Config{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						r.RecordAccess(e)
					}
				})
			} else {
				for b.Loop() {
					r.RecordAccess(e)
				}
			}
			b.StopTimer()
			if err := r.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			if r.Shed() > 0 {
				b.ReportMetric(float64(r.Shed())/float64(b.N), "shed/op")
			}
		})
	}
}
