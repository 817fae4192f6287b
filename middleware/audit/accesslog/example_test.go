package accesslog_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/audit/accesslog"
)

// printWriter stands for a key store (sqlite.Open, postgres.Open): it
// prints each batch.
type printWriter struct{}

func (printWriter) WriteAccess(_ context.Context, events []audit.Access, shed []audit.Shed) error {
	for _, e := range events {
		fmt.Println(e.Outcome, e.BlockedRule, e.Method, e.Path)
	}
	return nil
}

// A recorder buffers verifications and writes them in batches; Close
// writes what is left. RequireAPIKey builds one on its key store by
// default (APIKeyConfig.AccessLog).
func ExampleNew() {
	rec, err := accesslog.New(printWriter{}, accesslog.Config{FlushEvery: time.Hour})
	if err != nil {
		panic(err)
	}
	rec.RecordAccess(audit.Access{AppSlug: "aa_42", KeyID: "key_1", Outcome: audit.AccessAllowed, Method: "GET", Path: "/v1/things"})
	rec.RecordAccess(audit.Access{AppSlug: "aa_42", Outcome: audit.AccessBlocked, BlockedRule: "revoked", Method: "GET", Path: "/v1/things"})
	if err := rec.Close(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// allowed  GET /v1/things
	// blocked revoked GET /v1/things
}
