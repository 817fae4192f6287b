package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/storetest"
)

// SQLite busy: another connection (the CLI beside a server, a backup tool)
// holds the write lock. Writes wait a bounded time, then fail with a clear
// error; reads, key verification included, go on meanwhile (WAL); and once
// the lock is released the same store writes again, no restart.

// lockHolder is a second connection to the database file, outside the
// store, holding a write transaction until released.
type lockHolder struct {
	db *sql.DB
	tx *sql.Tx
}

func holdWriteLock(t *testing.T, path string) *lockHolder {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tx, err := db.Begin() // BEGIN IMMEDIATE: takes the write lock now
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	h := &lockHolder{db: db, tx: tx}
	t.Cleanup(h.release)
	return h
}

func (h *lockHolder) release() {
	if h.tx != nil {
		h.tx.Rollback()
		h.tx = nil
	}
	h.db.Close()
}

func TestSQLiteWriteLockedElsewhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	s := openAt(t, path, keystore.Options{})
	ctx := context.Background()
	storetest.MustApp(t, s, "aa_42", "acme")
	_, secret := storetest.MustKey(t, s, "aa_42", "before", nil)

	h := holdWriteLock(t, path)

	// A write with a deadline gives up at the deadline, with an error that
	// says what happened.
	const deadline = 300 * time.Millisecond
	wctx, cancel := context.WithTimeout(ctx, deadline)
	start := time.Now()
	_, _, err := s.CreateKey(wctx, keystore.NewKey{AppSlug: "aa_42", Name: "during"}, keystore.Actor{Name: "test"})
	took := time.Since(start)
	cancel()
	if err == nil {
		t.Fatal("a write succeeded while another connection held the write lock")
	}
	if took > deadline+5*time.Second {
		t.Fatalf("the write gave up after %v, deadline %v", took, deadline)
	}
	if msg := err.Error(); !strings.Contains(msg, "keystore") || !(errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(msg, "locked") || strings.Contains(msg, "busy") || strings.Contains(msg, "interrupt")) {
		t.Fatalf("unclear error for a locked database: %v", err)
	}
	t.Logf("write under a foreign lock: %v after %v", err, took)

	// Several group-committed writers at once (audit events, used
	// tickets) each come back by their own deadline, the one leading the
	// batch included, although the batch itself waits out the lock.
	var wg sync.WaitGroup
	type result struct {
		err  error
		took time.Duration
	}
	results := make(chan result, 4)
	for i := range 4 {
		wg.Go(func() {
			c, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			start := time.Now()
			err := s.Record(c, audit.Event{Action: audit.ActionAppUpdated, Outcome: audit.OutcomeSuccess, Actor: "w" + string(rune('0'+i))})
			results <- result{err, time.Since(start)}
		})
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.err == nil || r.took > deadline+5*time.Second {
			t.Fatalf("an audit write under a foreign write lock: %v after %v (deadline %v)", r.err, r.took, deadline)
		}
	}

	// Reads go on: key verification does not wait for the writer.
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if _, _, err := s.LookupKey(rctx, keystore.HashSecret(secret)); err != nil {
		t.Fatalf("a read under a foreign write lock: %v", err)
	}
	cancel()

	// The lock goes away: the same store writes again.
	h.release()
	start = time.Now()
	if _, _, err := s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "after"}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatalf("the store did not recover after the lock was released: %v", err)
	}
	t.Logf("first write after the release: %v", time.Since(start))
	keys, err := s.ListKeys(ctx, keystore.KeyFilter{AppSlug: "aa_42", Status: keystore.KeyAll})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, k := range keys.Keys {
		names[k.Name] = true
	}
	if !names["before"] || !names["after"] || names["during"] {
		t.Fatalf("keys after the lock: %v", names)
	}
}

// TestSQLiteBusyTimeoutBoundsAWriteWithoutDeadline: with no deadline of its
// own, a write waits the busy timeout (10 s), not forever, and fails with
// SQLite's "database is locked". It takes that long, so -short skips it.
func TestSQLiteBusyTimeoutBoundsAWriteWithoutDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("waits the 10 s busy timeout")
	}
	path := filepath.Join(t.TempDir(), "busy.db")
	s := openAt(t, path, keystore.Options{})
	storetest.MustApp(t, s, "aa_42", "acme")
	h := holdWriteLock(t, path)

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, _, err := s.CreateKey(context.Background(), keystore.NewKey{AppSlug: "aa_42", Name: "waits"}, keystore.Actor{Name: "test"})
		done <- err
	}()
	bound := time.Duration(busyTimeoutMS)*time.Millisecond + 20*time.Second
	select {
	case err := <-done:
		took := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "locked") {
			t.Fatalf("after %v: %v, want a \"database is locked\" error", took, err)
		}
		t.Logf("no deadline: %v after %v", err, took)
	case <-time.After(bound):
		h.release()
		t.Fatalf("a write under a foreign lock still waits after %v: the store is wedged", bound)
	}
}
