package middleware

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// The audit store failing: ticket issuance fails closed (503, no ticket in
// the answer), and no event is silently dropped: every attempt is either
// durably in the audit store, or its request failed and the log says so.

// auditFaultEnv is the route with the portal's real local issuer, on one
// SQLite store, auditing into another SQLite store through a switch that
// can make Record fail.
type auditFaultEnv struct {
	*routeEnv
	auditStore *sqlite.SQLite
	failEvery  atomic.Int64 // when n > 0, every n-th Record fails
	calls      atomic.Int64
}

var errAuditDown = errors.New("audit store: disk full (injected)")

func newAuditFaultEnv(t *testing.T, issueTimeout ...time.Duration) *auditFaultEnv {
	t.Helper()
	dir := t.TempDir()
	keys, err := sqlite.Open(t.Context(), filepath.Join(dir, "keys.db"), keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	if _, err := keys.CreateApp(context.Background(), keystore.App{
		Slug: "aa_42", Name: "Acme", KeyPrefix: "kp_aa_42", Tenant: "acme", AllowedOrigins: []string{testOrigin},
	}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	p, err := portal.New(portal.Config{Store: keys, BaseURL: "http://localhost:8081", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	auditStore, err := sqlite.Open(t.Context(), filepath.Join(dir, "audit.db"), keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auditStore.Close() })
	e := &auditFaultEnv{auditStore: auditStore}
	auditor := audit.AuditorFunc(func(ctx context.Context, ev audit.Event) error {
		n := e.calls.Add(1)
		if every := e.failEvery.Load(); every > 0 && n%every == 0 {
			return errAuditDown
		}
		return auditStore.Record(ctx, ev)
	})
	cfg := Config{Issuer: p.Issuer(), Auditor: auditor}
	if len(issueTimeout) > 0 {
		cfg.IssueTimeout = issueTimeout[0]
	}
	e.routeEnv = newRouteEnv(t, cfg)
	return e
}

// stored returns the ticket.issue events in the audit store.
func (e *auditFaultEnv) stored(t *testing.T) []audit.Event {
	t.Helper()
	page, err := e.auditStore.QueryAudit(context.Background(), audit.Query{Action: audit.ActionTicketIssue, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return page.Events
}

func TestAuditStoreFailingFailsClosed(t *testing.T) {
	e := newAuditFaultEnv(t)
	e.failEvery.Store(3)

	// 60 attempts, 8 at a time: a third of the Record calls fail.
	const n = 60
	type answer struct {
		code int
		body string
	}
	answers := make(chan answer, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		user := "alice@acme"
		if i%5 == 4 {
			user = "-" // unauthenticated: counted, never given to the auditor
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			w := e.do(req{user: user})
			answers <- answer{w.Code, w.Body.String()}
		})
	}
	wg.Wait()
	close(answers)

	issued := map[string]bool{} // fingerprints of the tickets handed out
	var failed, refused int
	for a := range answers {
		switch a.code {
		case http.StatusOK:
			var res ticket.Response
			if err := json.Unmarshal([]byte(a.body), &res); err != nil || res.Ticket == "" {
				t.Fatalf("200 without a ticket: %s", a.body)
			}
			issued[ticket.Fingerprint(res.Ticket)] = true
		case http.StatusServiceUnavailable:
			if json.Valid([]byte(a.body)) && len(a.body) > 0 && containsTicket(a.body) {
				t.Fatalf("503 carrying a ticket: %s", a.body)
			}
			failed++
		case http.StatusUnauthorized:
			refused++
		default:
			t.Fatalf("unexpected answer %d: %s", a.code, a.body)
		}
	}
	const anonymous = n / 5
	if refused != anonymous {
		t.Fatalf("%d answers were 401, want %d: an anonymous refusal must not depend on the audit store", refused, anonymous)
	}
	if int(e.calls.Load()) != n-anonymous {
		t.Fatalf("the auditor saw %d attempts, want the %d signed-in ones", e.calls.Load(), n-anonymous)
	}
	if want := (n - anonymous) / 3; failed != want {
		t.Fatalf("%d answers were 503, want %d (one per failed Record)", failed, want)
	}

	// Every ticket handed out is durably in the audit store: stored +
	// failed = signed-in attempts.
	events := e.stored(t)
	storedIssued := map[string]bool{}
	for _, ev := range events {
		if ev.Outcome == audit.OutcomeIssued {
			storedIssued[ev.TicketFingerprint] = true
		}
	}
	for fp := range issued {
		if !storedIssued[fp] {
			t.Fatalf("ticket %s was handed out with no audit event in the store", fp)
		}
	}
	if len(storedIssued) != len(issued) {
		t.Fatalf("%d issued events stored, %d tickets handed out", len(storedIssued), len(issued))
	}
	if len(events)+failed != n-anonymous {
		t.Fatalf("%d events stored + %d failed requests != %d signed-in attempts", len(events), failed, n-anonymous)
	}
	if len(issued) != len(events) {
		t.Fatalf("%d tickets answered, %d events stored", len(issued), len(events))
	}

	// The failed ones are not lost either: the log holds each, with the
	// audit error and the decision it replaced.
	var logged int
	for _, ev := range e.log.auditEvents(t) {
		if ev["reason"] == ReasonAuditFailed {
			if ev["audit_error"] == nil || ev["decided"] == nil || ev["status"] != float64(503) {
				t.Fatalf("a failed audit logged without its error or decision: %v", ev)
			}
			logged++
		}
	}
	if logged != failed {
		t.Fatalf("%d audit failures logged, %d requests failed", logged, failed)
	}
}

func TestAuditStoreClosedFailsEveryAttemptClosed(t *testing.T) {
	e := newAuditFaultEnv(t)
	if w := e.do(req{}); w.Code != http.StatusOK {
		t.Fatalf("before: %d", w.Code)
	}
	// The audit database goes away for real.
	if err := e.auditStore.Close(); err != nil {
		t.Fatal(err)
	}
	// A signed-in user's attempt fails closed; refusals of anonymous
	// requests need no store and keep their own answer.
	for _, c := range []struct {
		r    req
		code int
	}{{req{}, http.StatusServiceUnavailable}, {req{user: "-"}, http.StatusUnauthorized}, {req{origin: "https://evil.test"}, http.StatusForbidden}} {
		w := e.do(c.r)
		if w.Code != c.code || containsTicket(w.Body.String()) {
			t.Fatalf("with the audit store closed: %d %s, want %d", w.Code, w.Body, c.code)
		}
	}
	evs := e.log.auditEvents(t)
	if len(evs) != 4 {
		t.Fatalf("%d events logged for 4 attempts", len(evs))
	}
	if ev := evs[1]; ev["reason"] != ReasonAuditFailed || ev["audit_error"] == nil {
		t.Fatalf("attempt with the store closed logged as %v", ev)
	}
	for _, ev := range evs[2:] {
		if ev["audit_error"] != nil || ev["status"] == float64(503) {
			t.Fatalf("anonymous refusal with the store closed logged as %v", ev)
		}
	}
}

// TestAuditStoreLockedElsewhere: another connection (a backup, the CLI)
// holds the audit database's write lock. Each ticket request waits at most
// IssueTimeout for its audit event, then fails closed with 503; once the
// lock is released the same route issues again, no restart.
func TestAuditStoreLockedElsewhere(t *testing.T) {
	e := newAuditFaultEnv(t, 300*time.Millisecond)
	if w := e.do(req{}); w.Code != http.StatusOK {
		t.Fatalf("before: %d", w.Code)
	}
	db, err := sql.Open("sqlite", e.auditStore.Path()+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin() // BEGIN IMMEDIATE: the write lock, held
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		start := time.Now()
		w := e.do(req{})
		if took := time.Since(start); w.Code != http.StatusServiceUnavailable || containsTicket(w.Body.String()) || took > 5*time.Second {
			t.Fatalf("with the audit store locked: %d after %v: %s", w.Code, took, w.Body)
		}
	}
	tx.Rollback()
	var last int
	for range 50 { // the batch that waited out the lock may still be committing
		if last = e.do(req{}).Code; last == http.StatusOK {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if last != http.StatusOK {
		t.Fatalf("after the lock was released: %d", last)
	}
}

func containsTicket(body string) bool {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) != nil {
		return false
	}
	_, ok := m["ticket"]
	return ok
}
