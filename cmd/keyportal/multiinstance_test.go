package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/internal/testenv/pgtest"
	"github.com/keyportal/keyportal/internal/testenv/redistest"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// This file runs several `keyportal serve` processes on one Postgres schema,
// the way they run behind a load balancer, and checks what a user of any of
// them would notice: tickets are single-use everywhere, keys created on one
// are verified on another, revocations and policy edits reach every
// instance within a second, and a killed instance loses no acknowledged
// write. Run with:
//
//	go test -count=1 -v -run MultiInstance ./cmd/keyportal/

const miBackendKey = "kpb_multi_instance_test_key_0123456789"

// instance is one running `keyportal serve` process.
type instance struct {
	*server
	cl *wacht.Client
}

// miSchema returns a fresh random Postgres schema, dropped at cleanup.
func miSchema(t *testing.T, dsn string) string {
	t.Helper()
	return pgtest.Schema(t, dsn, "kp_multi_")
}

// startInstance runs `keyportal serve` with env and args, logging at info,
// with a Wacht client of its backend API.
func startInstance(t *testing.T, name string, env []string, args ...string) *instance {
	t.Helper()
	s := startServer(t, name, env, append([]string{"--log-level", "info"}, args...)...)
	return &instance{server: s, cl: wachtClient(t, miBackendKey, s.base)}
}

// exchange posts a ticket to the instance's portal exchange and returns the
// status and body.
func (in *instance) exchange(t *testing.T, tk string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"ticket": tk})
	req, _ := http.NewRequest(http.MethodPost, in.base+"/vanity/api-auth/exchange", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, b := testenv.Do(t, req)
	return res.StatusCode, string(b)
}

// allowed asks the instance's /v1/authz/check whether secret verifies. A
// rate-limit refusal counts as allowed: limits are applied only to keys
// that verify, so polling for a revocation must not stop at one.
func (in *instance) allowed(t *testing.T, secret string) (bool, string) {
	t.Helper()
	ok, reason := in.check(t, secret)
	if reason == wacht.ReasonRateLimited {
		return true, ""
	}
	return ok, reason
}

// check is the instance's /v1/authz/check verdict on secret and its reason.
func (in *instance) check(t *testing.T, secret string) (bool, string) {
	t.Helper()
	r, err := in.cl.Check(context.Background(), wacht.CheckRequest{
		Principal: wacht.Principal{Type: "api_key", Value: secret}, Resource: "/v1/things", Method: "GET",
	})
	if err != nil {
		t.Fatalf("check on %s: %v", in.name, err)
	}
	if r.Detail != "" {
		return r.Allowed, r.Detail
	}
	return r.Allowed, r.Reason
}

// reportPropagation logs p50, p99 and the maximum of sent (each from
// sending a change to its enforcement; at least 100) and of acked (from the
// change's acknowledgement), and fails t if the p99 of sent is over 1 s.
func reportPropagation(t *testing.T, sentWhat string, sent []time.Duration, ackedWhat string, acked []time.Duration) {
	t.Helper()
	quantiles := func(lat []time.Duration) (p50, p99, top time.Duration) {
		slices.Sort(lat)
		n := len(lat)
		return lat[n/2], lat[n*99/100-1], lat[n-1]
	}
	p50, p99, top := quantiles(sent)
	t.Logf("%s, %d changes: p50 %v, p99 %v, max %v", sentWhat, len(sent), p50, p99, top)
	a50, a99, atop := quantiles(acked)
	t.Logf("%s: p50 %v, p99 %v, max %v", ackedWhat, a50, a99, atop)
	if p99 > time.Second {
		t.Errorf("p99 %v over 1s", p99)
	}
}

// within polls cond every 2 ms until it holds or d passes, and returns how
// long it took.
func within(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > d {
			return time.Since(start), false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type miCluster struct {
	dsn, schema string
	a, b, c     *instance
	app         string
}

func startCluster(t *testing.T, extra ...string) *miCluster {
	t.Helper()
	keyportalBinary(t) // under -short: skip before asking for Postgres
	dsn := testenv.PostgresDSN(t)
	cl := &miCluster{dsn: dsn, schema: miSchema(t, dsn)}
	env := []string{
		"KEYPORTAL_POSTGRES_DSN=" + dsn,
		"KEYPORTAL_POSTGRES_SCHEMA=" + cl.schema,
		"KEYPORTAL_BACKEND_API_KEY=" + miBackendKey,
		"KEYPORTAL_ALLOWED_ORIGINS=https://app.acme.test",
		"KEYPORTAL_DB=",
		// These tests create keys by the hundred on one app.
		"KEYPORTAL_MAX_ACTIVE_KEYS=-1",
	}
	cl.a = startInstance(t, "A", env, extra...)
	cl.b = startInstance(t, "B", env, extra...)
	cl.c = startInstance(t, "C", env, extra...)
	cl.app = "aa_42"
	if _, err := cl.a.cl.CreateApp(context.Background(), wacht.CreateAppRequest{
		AppSlug: cl.app, Name: "Acme Public API", KeyPrefix: "acme_live", OrganizationID: "acme",
	}); err != nil {
		t.Fatalf("create app on A: %v", err)
	}
	return cl
}

// checkInTurn checks secret n times on A, B and C in turn and returns how
// many were allowed; any refusal but a rate limit fails t.
func (cl *miCluster) checkInTurn(t *testing.T, secret string, n int) (allowed int) {
	t.Helper()
	for i := range n {
		in := []*instance{cl.a, cl.b, cl.c}[i%3]
		ok, reason := in.check(t, secret)
		switch {
		case ok:
			allowed++
		case reason != wacht.ReasonRateLimited:
			t.Fatalf("check %d on %s refused for %q, want allowed or rate_limited", i+1, in.name, reason)
		}
	}
	return allowed
}

func TestMultiInstance(t *testing.T) {
	redisAddr := testenv.RedisAddr(t)
	cl := startCluster(t, "--policy-postgres",
		"--redis", redisAddr, "--redis-prefix", redistest.Prefix(t), "--rate-limit", "10/1m:key")
	ctx := context.Background()
	a, b, c := cl.a, cl.b, cl.c

	t.Run("rate limit 10/1m per key shared by A, B and C through Redis", func(t *testing.T) {
		_, secret, err := a.cl.CreateKey(ctx, cl.app, wacht.CreateKeyRequest{Name: "limited"})
		if err != nil {
			t.Fatal(err)
		}
		if allowed := cl.checkInTurn(t, secret, 30); allowed != 10 {
			t.Errorf("%d of 30 checks over A, B, C allowed, want exactly 10 (one limit shared through Redis)", allowed)
		}
	})

	t.Run("ticket issued on A, exchanged on B, used on C; session from B works on A and C", func(t *testing.T) {
		tk, err := a.cl.CreateTicket(ctx, wacht.TicketRequest{AppSlug: cl.app, UserID: "alice"})
		if err != nil {
			t.Fatalf("ticket on A: %v", err)
		}
		code, body := b.exchange(t, tk.Ticket)
		if code != http.StatusOK {
			t.Fatalf("exchange on B: %d %s", code, body)
		}
		var sess struct{ Session string }
		if err := json.Unmarshal([]byte(body), &sess); err != nil || sess.Session == "" {
			t.Fatalf("exchange on B: no session in %s", body)
		}
		// The page session opened on B works on A and C: no sticky sessions.
		for _, in := range []*instance{a, c} {
			req, _ := http.NewRequest(http.MethodGet, in.base+"/vanity/api-auth/api/session", nil)
			req.Header.Set("Authorization", "Bearer "+sess.Session)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			res, raw := testenv.Do(t, req)
			if res.StatusCode != http.StatusOK || !strings.Contains(string(raw), cl.app) {
				t.Fatalf("session from B on %s: %d %s", in.name, res.StatusCode, raw)
			}
		}
		if code, body := c.exchange(t, tk.Ticket); code != http.StatusConflict || !strings.Contains(body, "used") {
			t.Fatalf("second exchange on C: %d %s, want 409 used", code, body)
		}
	})

	t.Run("key created on B verified on C, revoked on A refused on C within 1s", func(t *testing.T) {
		k, secret, err := b.cl.CreateKey(ctx, cl.app, wacht.CreateKeyRequest{Name: "ci"})
		if err != nil {
			t.Fatalf("create key on B: %v", err)
		}
		if ok, reason := c.allowed(t, secret); !ok {
			t.Fatalf("key from B refused on C: %s", reason)
		}
		if err := a.cl.RevokeKey(ctx, cl.app, k.ID, "leaked"); err != nil {
			t.Fatalf("revoke on A: %v", err)
		}
		took, ok := within(time.Second, func() bool { allowed, _ := c.allowed(t, secret); return !allowed })
		if !ok {
			t.Fatalf("key revoked on A still allowed on C after %v", took)
		}
		t.Logf("revocation on A refused on C after %v", took)
	})

	t.Run("policy edit (row + NOTIFY) enforced on A and C within 1s", func(t *testing.T) {
		_, secret, err := b.cl.CreateKey(ctx, cl.app, wacht.CreateKeyRequest{Name: "policy"})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []*instance{a, c} {
			if ok, reason := in.allowed(t, secret); !ok {
				t.Fatalf("before the edit %s refused: %s", in.name, reason)
			}
		}
		conn, err := pgx.Connect(ctx, cl.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		table := pgx.Identifier{cl.schema, "casbin_rule"}.Sanitize()
		channel := "keyportal_policy:" + cl.schema
		// The edit an operator makes: a row and a notification, one
		// transaction.
		edit := func(q string) {
			t.Helper()
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, channel); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		edit(`INSERT INTO ` + table + ` (ptype, v0, v1) VALUES ('g3', 'acme', 'suspended')`)
		for _, in := range []*instance{a, c} {
			took, ok := within(time.Second, func() bool { allowed, _ := in.allowed(t, secret); return !allowed })
			if !ok {
				t.Fatalf("tenant suspended by a policy edit still allowed on %s after %v", in.name, took)
			}
			t.Logf("policy edit enforced on %s after %v", in.name, took)
		}
		// A broken edit keeps the suspension in force.
		edit(`INSERT INTO ` + table + ` (ptype, v0, v1) VALUES ('g3', 'globex', 'paused')`)
		// Once A has refused the bad edit (and logged the row's id), the
		// suspension must still be in force there.
		if _, ok := within(time.Second, func() bool { return strings.Contains(a.logs.String(), `"row_id"`) }); !ok {
			t.Fatalf("A did not log the bad row's id:\n%s", a.logs.String())
		}
		if allowed, _ := a.allowed(t, secret); allowed {
			t.Fatal("a broken policy edit dropped the last good policy on A")
		}
		edit(`DELETE FROM ` + table)
		for _, in := range []*instance{a, c} {
			if _, ok := within(time.Second, func() bool { allowed, _ := in.allowed(t, secret); return allowed }); !ok {
				t.Fatalf("reinstated tenant still refused on %s", in.name)
			}
		}
	})

	t.Run("propagation over 100 revocations", func(t *testing.T) {
		const n = 100
		lat := make([]time.Duration, 0, n)      // from sending the revoke
		afterAck := make([]time.Duration, 0, n) // from its 2xx answer
		for i := 0; i < n; i++ {
			k, secret, err := b.cl.CreateKey(ctx, cl.app, wacht.CreateKeyRequest{Name: fmt.Sprintf("prop-%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			// C verifies it first, so it is cached there.
			if ok, reason := c.allowed(t, secret); !ok {
				t.Fatalf("key %d refused on C before revocation: %s", i, reason)
			}
			start := time.Now()
			if err := a.cl.RevokeKey(ctx, cl.app, k.ID, "rotation drill"); err != nil {
				t.Fatal(err)
			}
			acked := time.Now()
			for {
				if allowed, _ := c.allowed(t, secret); !allowed {
					break
				}
				if time.Since(start) > 5*time.Second {
					t.Fatalf("revocation %d not seen on C after 5s", i)
				}
				time.Sleep(time.Millisecond)
			}
			lat = append(lat, time.Since(start))
			afterAck = append(afterAck, time.Since(acked))
		}
		reportPropagation(t, "revoke sent to A → refused on C", lat, "revoke answered by A → refused on C", afterAck)
	})

	t.Run("instance killed mid-run loses no acknowledged write", func(t *testing.T) {
		var (
			mu    sync.Mutex
			acked []string
		)
		stop := make(chan struct{})
		var killed atomic.Bool
		var wg sync.WaitGroup
		for w, in := range []*instance{a, b, c} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					k, _, err := in.cl.CreateKey(cctx, cl.app, wacht.CreateKeyRequest{Name: fmt.Sprintf("kill-%d-%d", w, i)})
					cancel()
					if err != nil {
						if in == c && killed.Load() {
							return // C was killed: its unanswered writes were never acknowledged
						}
						t.Errorf("create on %s: %v", in.name, err)
						return
					}
					mu.Lock()
					acked = append(acked, k.ID)
					mu.Unlock()
				}
			}()
		}
		// Let writes flow on all three, then kill C in the middle of them.
		if _, ok := within(10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 30 }); !ok {
			t.Fatal("fewer than 30 creates in 10s")
		}
		killed.Store(true)
		c.kill(t)
		if _, ok := within(10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 60 }); !ok {
			t.Error("survivors stopped acknowledging creates after the kill")
		}
		close(stop)
		wg.Wait()
		for _, in := range []*instance{a, b} {
			keys, err := in.cl.ListKeys(ctx, cl.app, true)
			if err != nil {
				t.Fatalf("list on %s: %v", in.name, err)
			}
			have := make(map[string]bool, len(keys))
			for _, k := range keys {
				have[k.ID] = true
			}
			for _, id := range acked {
				if !have[id] {
					t.Errorf("key %s acknowledged before the kill is missing on %s", id, in.name)
				}
			}
		}
		t.Logf("%d creates acknowledged across A, B, C (C killed mid-run); all listed on A and B", len(acked))
	})
}

// TestMultiInstanceAppRulesShareRedis: with --redis and no --rate-limit of
// its own, an app's rate-limit rules are still counted once for every
// instance, in Redis, not once per instance in memory.
func TestMultiInstanceAppRulesShareRedis(t *testing.T) {
	redisAddr := testenv.RedisAddr(t)
	cl := startCluster(t, "--redis", redisAddr, "--redis-prefix", redistest.Prefix(t))
	ctx := context.Background()
	rules := []wacht.RateLimit{{Unit: "minute", Duration: 1, MaxRequests: 5, Mode: "per_key"}}
	if _, err := cl.a.cl.UpdateApp(ctx, cl.app, wacht.UpdateAppRequest{RateLimits: &rules}); err != nil {
		t.Fatal(err)
	}
	_, secret, err := cl.b.cl.CreateKey(ctx, cl.app, wacht.CreateKeyRequest{Name: "limited by its app"})
	if err != nil {
		t.Fatal(err)
	}
	if allowed := cl.checkInTurn(t, secret, 15); allowed != 5 {
		t.Errorf("%d of 15 checks over A, B, C allowed, want exactly 5 (the app's rule, counted once in Redis)", allowed)
	}
}
