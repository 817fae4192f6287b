package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

const loadLong = `load runs mixed load against the whole ticket flow and reports what it saw.

Each of --workers loops (closed loop: a worker sends its next request when the
previous one is answered) over the three hot operations, in order:

  issue     POST the ticket route (/api/settings/api-keys/embed-ticket), as a
            signed-in user of the app, from the app's origin
  exchange  POST the ticket to the portal's /vanity/api-auth/exchange
  verify    GET /v1/whoami with an API key, through RequireAPIKey

Without --url it starts the self-hosted stack in this process (a SQLite store
in a temporary directory, the demo policy, the portal, the ticket route
auditing into the store, RequireAPIKey) on two loopback listeners, and talks
to it over real HTTP. With --url it drives a running Acme example instead
(go run ./example -ticket-rate 0): it signs in as --user, creates one API key
through the portal, then loads it. Only loopback targets are accepted.

It stops after --duration or --max-ops operations, whichever comes first,
then prints per operation the count, errors, rate and p50/p99/max latency,
and the resident memory (/proc/self/status, sampled every second; with --url,
of --pid when given) at the end of --warmup and at the end. Growth is judged
on private memory, VmRSS less RssFile: the file-backed part is the store's
memory-mapped SQLite file, which grows with the audit trail by design (both
are printed). Exit status 1 when any operation failed or private memory grew
more than --max-growth percent after warm-up.`

// loadConfig is what load reads from its flags.
type loadConfig struct {
	duration   time.Duration
	warmup     time.Duration
	workers    int
	maxOps     int64
	url        string
	user       string
	deployment string
	pid        int
	maxGrowth  float64
}

func (c *cli) loadCommand() *cobra.Command {
	var cfg loadConfig
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Run mixed load (ticket issue, exchange, key verify) and report latency, errors and memory",
		Long:  loadLong,
		Example: `  keyportal load
  keyportal load --duration 2m --workers 16
  keyportal load --url http://127.0.0.1:8080 --pid $(pgrep -n example)`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.check(); err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			return c.load(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.duration, "duration", 60*time.Second, "how long to run (at most 1h)")
	f.DurationVar(&cfg.warmup, "warmup", 10*time.Second, "time before the memory baseline is taken; must be shorter than --duration")
	f.IntVar(&cfg.workers, "workers", 8, "concurrent workers, each a closed loop (1-1024)")
	f.Int64Var(&cfg.maxOps, "max-ops", 10_000_000, "stop after this many operations in all")
	f.StringVar(&cfg.url, "url", "", "a running Acme example's app URL (loopback only); empty runs the stack in-process")
	f.StringVar(&cfg.user, "user", "alice", "with --url: the demo user to sign in as (must be allowed api_keys:manage)")
	f.StringVar(&cfg.deployment, "deployment", "42", "the deployment whose portal is loaded")
	f.IntVar(&cfg.pid, "pid", 0, "with --url: the server's process id, to sample its memory instead of this process's")
	f.Float64Var(&cfg.maxGrowth, "max-growth", 10, "largest acceptable memory growth after warm-up, in percent")
	return cmd
}

func (cfg loadConfig) check() error {
	switch {
	case cfg.duration <= 0 || cfg.duration > time.Hour:
		return fmt.Errorf("--duration must be more than 0 and at most 1h, got %v", cfg.duration)
	case cfg.warmup < 0 || cfg.warmup >= cfg.duration:
		return fmt.Errorf("--warmup must be at least 0 and shorter than --duration (%v), got %v", cfg.duration, cfg.warmup)
	case cfg.workers < 1 || cfg.workers > 1024:
		return fmt.Errorf("--workers must be 1 to 1024, got %d", cfg.workers)
	case cfg.maxOps < 1:
		return fmt.Errorf("--max-ops must be at least 1, got %d", cfg.maxOps)
	case cfg.pid != 0 && cfg.url == "":
		return errors.New("--pid is for --url: without it the stack runs in this process, whose memory is sampled")
	case cfg.maxGrowth <= 0:
		return fmt.Errorf("--max-growth must be more than 0, got %v", cfg.maxGrowth)
	}
	if cfg.url != "" {
		if _, err := loopbackOrigin(cfg.url); err != nil {
			return fmt.Errorf("--url: %v", err)
		}
	}
	return nil
}

// loopbackOrigin returns scheme://host:port of raw, refusing anything but an
// http(s) URL on a loopback host: load is for this machine only.
func loopbackOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); !(host == "localhost" || ip != nil && ip.IsLoopback()) {
		return "", fmt.Errorf("%s is not a loopback host (localhost, 127.0.0.0/8 or ::1); load only runs against this machine", host)
	}
	return u.Scheme + "://" + u.Host, nil
}

// Operations, in the order a worker runs them.
const (
	opIssue = iota
	opExchange
	opVerify
	numOps
)

var opNames = [numOps]string{"issue", "exchange", "verify"}

func (c *cli) load(ctx context.Context, cfg loadConfig) error {
	target := cfg.url
	where := "against " + cfg.url
	var dbSize func() int64
	if target == "" {
		stack, err := startLoadStack(cfg.deployment)
		if err != nil {
			return failf("Check that the temporary directory is writable.", "load: start the in-process stack: %v", err)
		}
		defer stack.close()
		dbSize = stack.dbSize
		target = stack.appURL
		where = "in-process stack (SQLite, demo policy), app " + stack.appURL + ", portal " + stack.portalURL
	}
	lc, err := newLoadClient(ctx, target, cfg, cfg.url == "")
	if err != nil {
		return failf("Is the target running with the ticket rate limit lifted (go run ./example -ticket-rate 0)?", "load: setup: %v", err)
	}
	defer lc.http.CloseIdleConnections()

	fmt.Fprintf(c.out, "keyportal load: %s\n", where)
	fmt.Fprintf(c.out, "%d workers, %v (warm-up %v), GOMAXPROCS %d, at most %d operations\n",
		cfg.workers, cfg.duration, cfg.warmup, runtime.GOMAXPROCS(0), cfg.maxOps)

	runCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	mem := startMemSampler(runCtx, cfg.pid, dbSize)
	start := time.Now()
	var (
		ops     atomic.Int64
		wg      sync.WaitGroup
		results = make([]workerStats, cfg.workers)
	)
	for w := range cfg.workers {
		wg.Go(func() {
			st := &results[w]
			for runCtx.Err() == nil {
				for op := range numOps {
					if ops.Add(1) > cfg.maxOps {
						cancel()
						return
					}
					t0 := time.Now()
					err := lc.run(runCtx, op, st)
					d := time.Since(t0)
					if err != nil && runCtx.Err() != nil {
						// Cut by the end of the run: neither a sample nor an error.
						return
					}
					st.ops[op].add(d, err)
					if err != nil {
						break // the rest of this cycle depends on this step
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	samples := mem.wait()

	var total opStats
	var all [numOps]opStats
	for i := range results {
		for op := range numOps {
			all[op].merge(&results[i].ops[op])
		}
	}
	tw := newTable(c.out)
	row(tw, "operation", "count", "errors", "rate/s", "p50", "p99", "max")
	statRow := func(name string, s *opStats) {
		row(tw, name, strconv.FormatUint(s.n, 10), strconv.FormatUint(s.errs, 10),
			fmt.Sprintf("%.0f", float64(s.n)/elapsed.Seconds()), fmtDur(s.quantile(0.50)), fmtDur(s.quantile(0.99)), fmtDur(s.max))
	}
	for op := range numOps {
		total.merge(&all[op])
		statRow(opNames[op], &all[op])
	}
	statRow("all", &total)
	tw.Flush()
	for op := range numOps {
		for _, e := range all[op].samples {
			fmt.Fprintf(c.out, "error (%s): %s\n", opNames[op], e)
		}
	}

	whose := "this process"
	if cfg.pid != 0 {
		whose = "pid " + strconv.Itoa(cfg.pid)
	}
	growth, growthOK := memGrowth(samples, start, cfg.warmup)
	fmt.Fprintf(c.out, "memory (%s, %d samples, 1/s):", whose, len(samples))
	if growthOK {
		base, end := growth.base, growth.end
		fmt.Fprintf(c.out, " private (VmRSS - RssFile) %s after warm-up, %s at the end (%+.1f%%)\n",
			fmtKiB(base.private()), fmtKiB(end.private()), growth.pct)
		fmt.Fprintf(c.out, "  VmRSS %s -> %s (%+.1f%%, peak %s), of which file-backed %s -> %s",
			fmtKiB(base.rss), fmtKiB(end.rss), pct(base.rss, end.rss), fmtKiB(growth.peak), fmtKiB(base.file), fmtKiB(end.file))
		if end.dbSize > 0 {
			fmt.Fprintf(c.out, " (the SQLite files grew %s -> %s)", fmtKiB(base.dbSize/1024), fmtKiB(end.dbSize/1024))
		}
		fmt.Fprintln(c.out)
	} else {
		fmt.Fprintln(c.out, " too few samples after warm-up to measure growth")
	}

	var problems []string
	if total.errs > 0 {
		problems = append(problems, fmt.Sprintf("%d operations failed", total.errs))
	}
	if growthOK && growth.pct > cfg.maxGrowth {
		problems = append(problems, fmt.Sprintf("private memory grew %.1f%% after warm-up (limit %.0f%%)", growth.pct, cfg.maxGrowth))
	}
	st := c.style(c.out)
	if len(problems) > 0 {
		fmt.Fprintf(c.out, "%s %s\n", st.red("FAIL:"), strings.Join(problems, "; "))
		return errFindings
	}
	fmt.Fprintf(c.out, "%s 0 errors in %d operations over %v\n", st.green("ok:"), total.n, elapsed.Round(time.Millisecond))
	return nil
}

// loadStack is the self-hosted stack in this process.
type loadStack struct {
	appURL, portalURL string
	dir               string
	servers           []*http.Server
	closers           []func() error
}

// loadUserCookie names the signed-in user of the in-process app.
const loadUserCookie = "kp_load_user"

func startLoadStack(deployment string) (_ *loadStack, err error) {
	gin.SetMode(gin.ReleaseMode)
	s := &loadStack{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.dir, err = os.MkdirTemp("", "keyportal-load-"); err != nil {
		return nil, err
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(s.dir, "keyportal.db"), keystore.Options{})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, store.Close)
	pol, err := policy.New(policy.Config{PolicyText: demo.Policy, Logger: zerolog.Nop()})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, pol.Close)

	// The listeners are closed with the stack (Shutdown has closed them
	// already once the servers run).
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, appLn.Close)
	portalLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, portalLn.Close)
	s.appURL = "http://" + appLn.Addr().String()
	// The portal as another site than the app, as in production.
	s.portalURL = "http://localhost:" + strconv.Itoa(portalLn.Addr().(*net.TCPAddr).Port)

	ctx := context.Background()
	if _, err := store.CreateApp(ctx, keystore.App{
		Slug: "aa_" + deployment, DeploymentID: deployment, Name: "Acme public API", KeyPrefix: "acme_live",
		Tenant: "acme", AllowedOrigins: []string{s.appURL},
	}, keystore.Actor{Name: "keyportal-load"}); err != nil {
		return nil, err
	}
	p, err := portal.New(portal.Config{Store: store, BaseURL: s.portalURL, Logger: zerolog.Nop()})
	if err != nil {
		return nil, err
	}
	route, err := middleware.NewTicketRoute(middleware.Config{
		Identify: func(g *gin.Context) (middleware.Principal, error) {
			ck, err := g.Cookie(loadUserCookie)
			if err != nil || ck == "" {
				return middleware.Principal{}, errors.New("not signed in")
			}
			return middleware.Principal{Subject: ck, Tenant: "acme"}, nil
		},
		Decider:        pol,
		Issuer:         p.Issuer(),
		Auditor:        store,
		Logger:         zerolog.Nop(),
		RateLimit:      middleware.NoRateLimit,
		AllowedOrigins: []string{s.appURL},
	})
	if err != nil {
		return nil, err
	}
	auth, err := middleware.RequireAPIKey(middleware.APIKeyConfig{Config: apikey.Config{Keys: store, Tenants: pol}})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, auth.Close)

	app := gin.New()
	app.Use(gin.Recovery(), middleware.SecurityHeaders())
	if err := route.Mount(app); err != nil {
		return nil, err
	}
	app.GET("/v1/whoami", auth.Handler(), func(g *gin.Context) {
		id, _ := middleware.APIKeyFrom(g)
		g.JSON(http.StatusOK, id)
	})
	pe := gin.New()
	pe.Use(gin.Recovery())
	if err := p.Mount(pe); err != nil {
		return nil, err
	}
	for _, srv := range []struct {
		ln net.Listener
		h  http.Handler
	}{{appLn, app}, {portalLn, pe}} {
		hs := &http.Server{Handler: srv.h, ReadHeaderTimeout: 10 * time.Second}
		s.servers = append(s.servers, hs)
		go hs.Serve(srv.ln)
	}
	return s, nil
}

// dbSize returns the bytes of the store's database, WAL and shared-memory files.
func (s *loadStack) dbSize() int64 {
	var n int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(filepath.Join(s.dir, "keyportal.db"+suffix)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func (s *loadStack) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		srv.Shutdown(ctx)
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// loadClient speaks to the app and the portal as the page and the app's
// API client would.
type loadClient struct {
	http       *http.Client
	appURL     string
	origin     string
	ticketPath string
	ticketBody []byte
	secret     string // the API key verified by opVerify
}

// workerStats is one worker's histograms, and the ticket its issue step
// hands to its exchange step.
type workerStats struct {
	ops    [numOps]opStats
	ticket string
	portal string // the portal origin the ticket's URL names
	_      [64]byte
}

func newLoadClient(ctx context.Context, target string, cfg loadConfig, inProcess bool) (*loadClient, error) {
	origin, err := loopbackOrigin(target)
	if err != nil {
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{
		Proxy:               nil, // loopback only, never through a proxy
		MaxIdleConns:        4 * cfg.workers,
		MaxIdleConnsPerHost: 2 * cfg.workers,
		IdleConnTimeout:     90 * time.Second,
	}
	lc := &loadClient{
		http: &http.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		appURL:     strings.TrimRight(target, "/"),
		origin:     origin,
		ticketPath: ticket.DefaultPath,
		ticketBody: []byte(`{"` + ticket.DefaultField + `":"` + cfg.deployment + `"}`),
	}
	u, _ := url.Parse(lc.appURL)
	if inProcess {
		jar.SetCookies(u, []*http.Cookie{{Name: loadUserCookie, Value: cfg.user, Path: "/"}})
	} else if err := lc.signIn(ctx, cfg.user); err != nil {
		return nil, err
	}
	// One ticket, one session, one key for the verify step.
	var st workerStats
	if err := lc.issue(ctx, &st); err != nil {
		return nil, fmt.Errorf("first ticket: %w", err)
	}
	session, err := lc.exchange(ctx, &st)
	if err != nil {
		return nil, fmt.Errorf("first exchange: %w", err)
	}
	var created struct {
		Secret string `json:"secret"`
	}
	code, body, err := lc.do(ctx, http.MethodPost, st.portal+portal.PagePath+"/api/keys",
		[]byte(`{"name":"keyportal load"}`), "Authorization", "Bearer "+session)
	if err != nil || code != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.Secret == "" {
		return nil, fmt.Errorf("create an API key through the portal: %d %v %s", code, err, clip(body))
	}
	lc.secret = created.Secret
	return lc, nil
}

// signIn uses the Acme example's demo sign-in: POST /login user=<name>.
func (lc *loadClient) signIn(ctx context.Context, user string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, lc.appURL+"/login", strings.NewReader(url.Values{"user": {user}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", lc.origin)
	res, err := lc.http.Do(req)
	if err != nil {
		return fmt.Errorf("sign in as %s: %w", user, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode >= 400 {
		return fmt.Errorf("sign in as %s: %s", user, res.Status)
	}
	return nil
}

func (lc *loadClient) run(ctx context.Context, op int, st *workerStats) error {
	switch op {
	case opIssue:
		return lc.issue(ctx, st)
	case opExchange:
		_, err := lc.exchange(ctx, st)
		return err
	default:
		code, body, err := lc.do(ctx, http.MethodGet, lc.appURL+"/v1/whoami", nil, "Authorization", "Bearer "+lc.secret)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("GET /v1/whoami: %d %s", code, clip(body))
		}
		return err
	}
}

func (lc *loadClient) issue(ctx context.Context, st *workerStats) error {
	code, body, err := lc.do(ctx, http.MethodPost, lc.appURL+lc.ticketPath, lc.ticketBody, "Origin", lc.origin)
	if err != nil {
		return err
	}
	var res struct {
		Ticket string `json:"ticket"`
		URL    string `json:"url"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &res) != nil || res.Ticket == "" {
		return fmt.Errorf("POST %s: %d %s", lc.ticketPath, code, clip(body))
	}
	po, err := loopbackOrigin(res.URL)
	if err != nil {
		return fmt.Errorf("ticket URL: %v", err)
	}
	st.ticket, st.portal = res.Ticket, po
	return nil
}

func (lc *loadClient) exchange(ctx context.Context, st *workerStats) (string, error) {
	if st.ticket == "" {
		return "", errors.New("no ticket to exchange")
	}
	body, _ := json.Marshal(map[string]string{"ticket": st.ticket})
	st.ticket = ""
	code, out, err := lc.do(ctx, http.MethodPost, st.portal+portal.PagePath+"/exchange", body)
	if err != nil {
		return "", err
	}
	var res struct {
		Session string `json:"session"`
	}
	if code != http.StatusOK || json.Unmarshal(out, &res) != nil || res.Session == "" {
		return "", fmt.Errorf("POST exchange: %d %s", code, clip(out))
	}
	return res.Session, nil
}

// do sends one request (JSON body when body is not nil) with extra header
// pairs and returns the status and body.
func (lc *loadClient) do(ctx context.Context, method, u string, body []byte, header ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := lc.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, out, err
}

// clip shortens a body for an error message.
func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// opStats is a latency histogram with bounded memory: log-linear buckets
// of 32 steps per power of two of microseconds (about 3 % resolution).
type opStats struct {
	n, errs uint64
	max     time.Duration
	buckets [64 * 32]uint64
	samples []string // the first few error messages
}

const maxErrorSamples = 3

func bucketOf(d time.Duration) int {
	v := uint64(d / time.Microsecond)
	if v < 64 {
		return int(v)
	}
	shift := bits.Len64(v) - 6 // v>>shift is in [32, 63]
	return min(64+(shift-1)*32+int(v>>shift)-32, 64*32-1)
}

// bucketTop is the largest duration that falls in bucket i.
func bucketTop(i int) time.Duration {
	if i < 64 {
		return time.Duration(i+1) * time.Microsecond
	}
	shift := (i-64)/32 + 1
	base := uint64((i-64)%32 + 32)
	return time.Duration(((base+1)<<shift)-1) * time.Microsecond
}

func (s *opStats) add(d time.Duration, err error) {
	s.n++
	if err != nil {
		s.errs++
		if len(s.samples) < maxErrorSamples {
			s.samples = append(s.samples, err.Error())
		}
	}
	s.buckets[bucketOf(d)]++
	s.max = max(s.max, d)
}

func (s *opStats) merge(o *opStats) {
	s.n += o.n
	s.errs += o.errs
	s.max = max(s.max, o.max)
	for i := range s.buckets {
		s.buckets[i] += o.buckets[i]
	}
	for _, e := range o.samples {
		if len(s.samples) < maxErrorSamples {
			s.samples = append(s.samples, e)
		}
	}
}

// quantile returns the upper bound of the bucket holding quantile q.
func (s *opStats) quantile(q float64) time.Duration {
	if s.n == 0 {
		return 0
	}
	rank := uint64(q*float64(s.n-1)) + 1
	var seen uint64
	for i, c := range s.buckets {
		seen += c
		if seen >= rank {
			return min(bucketTop(i), s.max)
		}
	}
	return s.max
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

// memSample is one reading of /proc/<pid>/status, in KiB.
type memSample struct {
	at        time.Time
	rss, file int64 // VmRSS, and its file-backed part (RssFile)
	dbSize    int64 // bytes of the in-process store's files, when known
}

// private is the resident memory that is not file-backed: the heap, stacks
// and other anonymous or shared memory the process made itself.
func (s memSample) private() int64 { return s.rss - s.file }

type memSampler struct {
	done    chan struct{}
	samples []memSample
}

// startMemSampler reads the memory of pid (0: this process) every second,
// and once more at the end, until ctx ends.
func startMemSampler(ctx context.Context, pid int, dbSize func() int64) *memSampler {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	m := &memSampler{done: make(chan struct{})}
	read := func() {
		if s, ok := readMem(path); ok {
			if dbSize != nil {
				s.dbSize = dbSize()
			}
			m.samples = append(m.samples, s)
		}
	}
	go func() {
		defer close(m.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		read()
		for {
			select {
			case <-t.C:
				read()
			case <-ctx.Done():
				read()
				return
			}
		}
	}()
	return m
}

func (m *memSampler) wait() []memSample {
	<-m.done
	return m.samples
}

func readMem(path string) (memSample, bool) {
	f, err := os.Open(path)
	if err != nil {
		return memSample{}, false
	}
	defer f.Close()
	s := memSample{at: time.Now()}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			s.rss = n
		case "RssFile":
			s.file = n
		}
	}
	return s, s.rss > 0
}

// memGrowthResult compares the first sample after warm-up with the last. The
// growth judged is that of private memory (VmRSS less RssFile): file-backed
// pages are the store's memory-mapped database file, which grows with the
// audit trail by design and which the kernel reclaims at will.
type memGrowthResult struct {
	base, end memSample
	peak      int64
	pct       float64
}

func memGrowth(samples []memSample, start time.Time, warmup time.Duration) (memGrowthResult, bool) {
	var r memGrowthResult
	i := 0
	for i < len(samples) && samples[i].at.Sub(start) < warmup {
		i++
	}
	if len(samples)-i < 2 {
		return r, false
	}
	r.base, r.end = samples[i], samples[len(samples)-1]
	for _, s := range samples[i:] {
		r.peak = max(r.peak, s.rss)
	}
	r.pct = pct(r.base.private(), r.end.private())
	return r, true
}

func pct(from, to int64) float64 {
	if from == 0 {
		return 0
	}
	return 100 * float64(to-from) / float64(from)
}

func fmtKiB(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }
