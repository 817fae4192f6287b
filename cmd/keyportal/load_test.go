package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLoadRunsTheInProcessStack runs the load tool for two seconds: every
// operation runs, none fails, and the report has its latency and memory.
func TestLoadRunsTheInProcessStack(t *testing.T) {
	h := newHarness(t)
	r := h.run("load", "--duration", "2s", "--warmup", "500ms", "--workers", "2", "--max-growth", "1000")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, op := range []string{"issue", "exchange", "verify", "all"} {
		m := regexp.MustCompile(`(?m)^` + op + `\s+(\d+)\s+(\d+)\s+\d+\s+\S+\s+\S+\s+\S+\s*$`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no %s row in:\n%s", op, r.stdout)
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("%s ran 0 times", op)
		}
		if m[2] != "0" {
			t.Errorf("%s had %s errors", op, m[2])
		}
	}
	if !strings.Contains(r.stdout, "VmRSS") || !strings.Contains(r.stdout, "ok: 0 errors") {
		t.Fatalf("no memory line or verdict:\n%s", r.stdout)
	}
}

func TestLoadStopsAtMaxOps(t *testing.T) {
	h := newHarness(t)
	start := time.Now()
	r := h.run("load", "--duration", "1m", "--warmup", "0s", "--workers", "1", "--max-ops", "30")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`(?m)^all\s+30\s+0\s`).MatchString(r.stdout) {
		t.Fatalf("want exactly 30 operations:\n%s", r.stdout)
	}
	if time.Since(start) > 50*time.Second {
		t.Fatal("the run did not stop at --max-ops")
	}
}

func TestLoadRefusesBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"remote host", []string{"--url", "http://example.com:8080"}, "not a loopback host"},
		{"private address", []string{"--url", "http://10.0.0.1:8080"}, "not a loopback host"},
		{"not a URL", []string{"--url", "127.0.0.1:8080"}, "not an absolute http(s) URL"},
		{"warm-up as long as the run", []string{"--duration", "5s", "--warmup", "5s"}, "--warmup"},
		{"no workers", []string{"--workers", "0"}, "--workers"},
		{"too long", []string{"--duration", "2h"}, "--duration"},
		{"pid without url", []string{"--pid", "1"}, "--pid is for --url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.run(append([]string{"load"}, tc.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", r.code, r.stderr, exitUsage, tc.want)
			}
		})
	}
}

// TestLoadReportsATargetThatRefuses: a target whose ticket route refuses makes the run
// fail at setup (exit 2, the target is unusable), with the answer in the
// message.
func TestLoadReportsATargetThatRefuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":"Forbidden"}`))
	}))
	defer srv.Close()
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := h.runContext(ctx, "load", "--url", srv.URL, "--duration", "1s", "--warmup", "0s")
	if r.code != exitUsage || !strings.Contains(r.stderr, "403") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestLatencyHistogram(t *testing.T) {
	var s opStats
	for i := 1; i <= 1000; i++ {
		s.add(time.Duration(i)*time.Millisecond, nil)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := s.quantile(tc.q)
		if got < tc.want || float64(got) > float64(tc.want)*1.04 {
			t.Errorf("quantile %v = %v, want %v within 4%%", tc.q, got, tc.want)
		}
	}
	for _, d := range []time.Duration{0, time.Microsecond, 63 * time.Microsecond, 64 * time.Microsecond, time.Second, time.Hour} {
		if top := bucketTop(bucketOf(d)); top < d && d < time.Hour {
			t.Errorf("bucket of %v tops at %v", d, top)
		}
	}
}
