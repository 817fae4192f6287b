package middleware_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
)

// Run with:
//
//	go test -run '^$' -bench 'RequireAPIKey|GinBaseline' -benchmem ./middleware/
//
// The first run builds a SQLite store with benchKeys keys (a bulk insert,
// about a minute) under os.TempDir(), reused by later runs. -short skips the
// benchmarks that need it.

const benchKeys = 1_000_000

// benchSecret is the secret of fixture key i: deterministic, so the fixture
// needs no side file, and in the real format.
func benchSecret(i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("keyportal-bench-key-%d", i)))
	return apikeytest.KeyPrefix + "_" + base64.RawURLEncoding.EncodeToString(sum[:])
}

var (
	fixtureOnce sync.Once
	fixturePath string
	fixtureErr  error
)

// benchFixture returns the path of the 1M-key store, building it once.
func benchFixture(b *testing.B) string {
	b.Helper()
	if testing.Short() {
		b.Skip("the 1M-key fixture is skipped under -short")
	}
	fixtureOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("keyportal-apikey-bench-v%d", keystore.SchemaVersion))
		fixturePath = filepath.Join(dir, fmt.Sprintf("keys-%d.db", benchKeys))
		if _, err := os.Stat(fixturePath); err == nil {
			if fixtureErr = checkFixture(fixturePath); fixtureErr == nil {
				return
			}
			b.Logf("rebuilding the fixture: %v", fixtureErr)
		}
		fixtureErr = buildFixture(b, dir, fixturePath)
	})
	if fixtureErr != nil {
		b.Fatalf("fixture: %v", fixtureErr)
	}
	return fixturePath
}

func checkFixture(path string) error {
	st, err := sqlite.Open(context.Background(), path, keystore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	for _, i := range []int{0, benchKeys - 1} {
		if _, _, err := st.LookupKey(context.Background(), keystore.HashSecret(benchSecret(i))); err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
	}
	return nil
}

// buildFixture creates the app through the store, then bulk-inserts the keys
// in one transaction straight into the store's schema (CreateKey, one
// transaction and one audit event per key, would take far longer).
func buildFixture(b *testing.B, dir, path string) error {
	start := time.Now()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := path + ".building"
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
		os.Remove(p)
	}
	st, err := sqlite.Open(b.Context(), tmp, keystore.Options{})
	if err != nil {
		return err
	}
	if _, err := st.CreateApp(context.Background(), keystore.App{
		Slug: apikeytest.AppSlug, Name: "Bench", KeyPrefix: apikeytest.KeyPrefix, Tenant: apikeytest.Tenant,
		DeploymentID: "42", IsActive: true,
	}, apikeytest.Actor); err != nil {
		st.Close()
		return err
	}
	st.Close()

	db, err := sql.Open("sqlite", tmp+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	stmt, err := tx.Prepare(`INSERT INTO api_keys (id, app_slug, deployment_id, tenant, name, key_prefix,
		key_suffix, hash, permissions, metadata, is_active, created_at, updated_at, created_by)
		VALUES (?, ?, '42', ?, ?, ?, ?, ?, '["deploy:read"]', '{"team":"ops"}', 1, ?, ?, 'bench')`)
	if err != nil {
		tx.Rollback()
		return err
	}
	now := time.Now().UnixNano()
	for i := range benchKeys {
		s := benchSecret(i)
		if _, err := stmt.Exec(fmt.Sprintf("key_bench%07d", i), apikeytest.AppSlug, apikeytest.Tenant,
			fmt.Sprintf("bench %d", i), apikeytest.KeyPrefix, s[len(s)-keystore.SuffixLen:],
			keystore.HashSecret(s), now, now); err != nil {
			tx.Rollback()
			return fmt.Errorf("insert key %d: %w", i, err)
		}
	}
	stmt.Close()
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	db.Close()
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	b.Logf("built %d-key fixture %s in %s", benchKeys, path, time.Since(start).Round(time.Second))
	return checkFixture(path)
}

// benchRequests builds one GET per secret, carrying it as a Bearer token.
func benchRequests(secrets []string) []*http.Request {
	reqs := make([]*http.Request, len(secrets))
	for i, s := range secrets {
		r, _ := http.NewRequest(http.MethodGet, "/v1/whoami", nil)
		if s != "" {
			r.Header.Set("Authorization", "Bearer "+s)
		}
		reqs[i] = r
	}
	return reqs
}

func serveAll(b *testing.B, engine *gin.Engine, reqs []*http.Request, want int) {
	w := &testenv.DiscardWriter{}
	b.ReportAllocs()
	cpu := startCPU()
	n := 0
	for i := 0; b.Loop(); i++ {
		w.Reset()
		engine.ServeHTTP(w, reqs[i%len(reqs)])
		if w.Status != want {
			b.Fatalf("status %d, want %d", w.Status, want)
		}
		n++
	}
	cpu.report(b, n)
}

// cpuClock measures the CPU time of the whole process (background writer
// and GC included). On a shared machine ns/op is wall time and counts the
// time other processes hold the cores; cpu-ns/op does not.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{processCPU()} }

func (c cpuClock) report(b *testing.B, ops int) {
	if ops > 0 {
		b.ReportMetric(float64(processCPU()-c.start)/float64(ops), "cpu-ns/op")
	}
}

func benchEngine(b *testing.B, cfg middleware.APIKeyConfig) *gin.Engine {
	if cfg.AccessLog == nil {
		// The verification log is measured by BenchmarkRequireAPIKeyRecording;
		// here it would also grow the shared fixture.
		cfg.AccessLog = audit.DiscardAccess
	}
	auth, err := middleware.RequireAPIKey(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { auth.Close() })
	r := gin.New()
	r.GET("/v1/whoami", auth.Require("deploy:read"), func(c *gin.Context) {
		if _, ok := middleware.APIKeyFrom(c); !ok {
			c.Status(http.StatusInternalServerError)
			return
		}
		c.Status(http.StatusNoContent)
	})
	return r
}

func openFixture(b *testing.B) keystore.Store {
	st, err := sqlite.Open(b.Context(), benchFixture(b), keystore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// workingSet picks n distinct fixture keys at random.
func workingSet(n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[int]bool{}
	out := make([]string, 0, n)
	for len(out) < n {
		i := rng.IntN(benchKeys)
		if !seen[i] {
			seen[i] = true
			out = append(out, benchSecret(i))
		}
	}
	return out
}

// BenchmarkRequireAPIKeyValid1M: a valid key, through a gin engine, with 1M
// keys in the store and 10,000 distinct keys in use (steady state: verified
// keys are served from the exact cache). flush=1s counts the background
// last_used_at batches too (10,000 keys written each second); flush=off
// leaves them out of the measured window, to show the request path alone.
func BenchmarkRequireAPIKeyValid1M(b *testing.B) {
	st := openFixture(b)
	for _, bc := range []struct {
		name     string
		interval time.Duration
	}{{"flush=1s", 0}, {"flush=off", 24 * time.Hour}} {
		b.Run(bc.name, func(b *testing.B) {
			engine := benchEngine(b, middleware.APIKeyConfig{Config: apikey.Config{Keys: st, Tenants: apikeytest.NewTenants(), TouchInterval: bc.interval}})
			reqs := benchRequests(workingSet(10_000))
			w := &testenv.DiscardWriter{}
			for _, r := range reqs { // warm the cache
				w.Reset()
				engine.ServeHTTP(w, r)
			}
			serveAll(b, engine, reqs, http.StatusNoContent)
		})
	}
}

// BenchmarkRequireAPIKeyValid1MParallel is the same on every core.
func BenchmarkRequireAPIKeyValid1MParallel(b *testing.B) {
	st := openFixture(b)
	engine := benchEngine(b, middleware.APIKeyConfig{Config: apikey.Config{Keys: st, Tenants: apikeytest.NewTenants()}})
	reqs := benchRequests(workingSet(10_000))
	w := &testenv.DiscardWriter{}
	for _, r := range reqs {
		w.Reset()
		engine.ServeHTTP(w, r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	defer func() { cpu.report(b, b.N) }()
	var next sync.Mutex
	seed := 0
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		i := seed * 997
		seed++
		next.Unlock()
		w := &testenv.DiscardWriter{}
		for pb.Next() {
			w.Reset()
			engine.ServeHTTP(w, reqs[i%len(reqs)])
			if w.Status != http.StatusNoContent {
				b.Errorf("status %d", w.Status)
				return
			}
			i++
		}
	})
}

// BenchmarkRequireAPIKeyUncached1M: every request reads the 1M-key store
// (no change feed, so no cache): the cost of a cache miss.
func BenchmarkRequireAPIKeyUncached1M(b *testing.B) {
	st := openFixture(b)
	engine := benchEngine(b, middleware.APIKeyConfig{Config: apikey.Config{Keys: keysOnly{st}, Tenants: apikeytest.NewTenants()}})
	serveAll(b, engine, benchRequests(workingSet(10_000)), http.StatusNoContent)
}

// BenchmarkRequireAPIKeyGarbage: malformed keys, refused before any hashing
// or lookup.
func BenchmarkRequireAPIKeyGarbage(b *testing.B) {
	e := apikeytest.NewEnv(b)
	engine := benchEngine(b, middleware.APIKeyConfig{Config: apikey.Config{Keys: e.Store, Tenants: e.Tenants}})
	body := strings.Repeat("A", apikey.BodyLen)
	garbage := []string{
		"hello",
		"' OR 1=1 --",
		apikeytest.KeyPrefix + "_" + body[:42] + "!",
		apikeytest.KeyPrefix + "_" + body + "AAAA",
		strings.Repeat("x", 200),
		apikeytest.KeyPrefix + "-" + body,
		apikeytest.KeyPrefix + "_" + body[:42] + "B",
	}
	serveAll(b, engine, benchRequests(garbage), http.StatusUnauthorized)
}

// BenchmarkRequireAPIKeyMissing: no key at all.
func BenchmarkRequireAPIKeyMissing(b *testing.B) {
	e := apikeytest.NewEnv(b)
	engine := benchEngine(b, middleware.APIKeyConfig{Config: apikey.Config{Keys: e.Store}})
	serveAll(b, engine, benchRequests([]string{""}), http.StatusUnauthorized)
}

// BenchmarkGinBaseline is the same route with no guard, for the ratio.
func BenchmarkGinBaseline(b *testing.B) {
	r := gin.New()
	r.GET("/v1/whoami", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	serveAll(b, r, benchRequests([]string{benchSecret(0)}), http.StatusNoContent)
}

// BenchmarkWellFormed is the format check alone.
func BenchmarkWellFormed(b *testing.B) {
	s := benchSecret(1)
	b.ReportAllocs()
	cpu := startCPU()
	n := 0
	for b.Loop() {
		n++
		if !apikey.WellFormed(s) {
			b.Fatal("not well-formed")
		}
	}
	cpu.report(b, n)
}
