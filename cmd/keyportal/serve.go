package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/internal/httpserver"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/postgres"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/portal/wachtapi"
	"github.com/keyportal/keyportal/middleware/ratelimit"
	rlredis "github.com/keyportal/keyportal/middleware/ratelimit/redis"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
	pgpolicy "github.com/keyportal/keyportal/policy/postgres"
)

// serveConfig is everything serve reads from flags and the environment.
type serveConfig struct {
	addr            string
	store           storeFlags
	backendKeys     string
	baseURL         string
	allowedOrigins  string
	defaultTenant   string
	model, policy   string
	policyPostgres  bool
	rateLimits      []string
	redisAddr       string
	redisPrefix     string
	limits          []ratelimit.Rule // parsed from rateLimits
	redis           *redis.Options   // parsed from redisAddr; nil without --redis
	logLevel        string
	logFormat       string
	sessionTTL      time.Duration
	keyChangeRate   float64
	auditMaxAge     ageValue
	shutdownTimeout time.Duration
	trustedProxies  string
	proxies         []string // parsed from trustedProxies; nil trusts none
	metricsAddr     string

	// accessMaxAge and rollupMaxAge: the verification log's retention.
	accessMaxAge, rollupMaxAge ageValue
}

// serveEnv maps serve's flags to the environment variables that set them
// when the flag is not given. The store's (KEYPORTAL_DB,
// KEYPORTAL_POSTGRES_DSN, KEYPORTAL_POSTGRES_SCHEMA) are not here:
// storeFlags reads them as every command does, after the flags, so that
// --db wins over KEYPORTAL_POSTGRES_DSN and --postgres over KEYPORTAL_DB.
var serveEnv = []struct{ flag, env string }{
	{"addr", "KEYPORTAL_ADDR"},
	{"backend-api-key", "KEYPORTAL_BACKEND_API_KEY"},
	{"base-url", "KEYPORTAL_BASE_URL"},
	{"allowed-origins", "KEYPORTAL_ALLOWED_ORIGINS"},
	{"default-tenant", "KEYPORTAL_DEFAULT_TENANT"},
	{"model", "KEYPORTAL_MODEL"},
	{"policy", "KEYPORTAL_POLICY"},
	{"policy-postgres", "KEYPORTAL_POLICY_POSTGRES"},
	{"rate-limit", "KEYPORTAL_RATE_LIMITS"},
	{"redis", "KEYPORTAL_REDIS_ADDR"},
	{"redis-prefix", "KEYPORTAL_REDIS_PREFIX"},
	{"log-level", "KEYPORTAL_LOG_LEVEL"},
	{"log-format", "KEYPORTAL_LOG_FORMAT"},
	{"session-ttl", "KEYPORTAL_SESSION_TTL"},
	{"trusted-proxies", "KEYPORTAL_TRUSTED_PROXIES"},
	{"metrics-addr", "KEYPORTAL_METRICS_ADDR"},
	{"max-active-keys", "KEYPORTAL_MAX_ACTIVE_KEYS"},
	{"key-change-rate", "KEYPORTAL_KEY_CHANGE_RATE"},
	{"audit-max-age", "KEYPORTAL_AUDIT_MAX_AGE"},
	{"access-max-age", "KEYPORTAL_ACCESS_MAX_AGE"},
	{"access-rollup-max-age", "KEYPORTAL_ACCESS_ROLLUP_MAX_AGE"},
	{"shutdown-timeout", "KEYPORTAL_SHUTDOWN_TIMEOUT"},
}

const serveLong = `serve runs the self-hosted key portal as its own server: the key-management
page that product pages embed (/vanity/api-auth), its ticket exchange and JSON
API, and the Wacht-compatible backend API (/session/tickets, /api-auth/apps...)
that an app's backend calls with a backend API key, exactly as it would call
Wacht (point WACHT_BASE_URL, or middleware/wacht's BaseURL, here).

Every flag can also be set by an environment variable; a flag given on the
command line wins:

  --addr             KEYPORTAL_ADDR             listen address (default 127.0.0.1:8081)
  --db               KEYPORTAL_DB               SQLite file (default keyportal-data/keyportal.db)
  --postgres         KEYPORTAL_POSTGRES_DSN     Postgres DSN, instead of SQLite; instances
                                                sharing it see each other's changes at once
  --postgres-schema  KEYPORTAL_POSTGRES_SCHEMA  Postgres schema, created if missing
  --backend-api-key  KEYPORTAL_BACKEND_API_KEY  backend API key(s), comma-separated; when
                                                absent one is generated and printed at start
  --base-url         KEYPORTAL_BASE_URL         public URL of this server (default from --addr)
  --allowed-origins  KEYPORTAL_ALLOWED_ORIGINS  embedder origins given to apps created
                                                without any, comma-separated
  --default-tenant   KEYPORTAL_DEFAULT_TENANT   tenant of apps created through the backend
                                                API without organization_id (default: required)
  --model, --policy  KEYPORTAL_MODEL, _POLICY   Casbin files whose tenant status (g3 rows)
                                                /v1/authz/check enforces: keys of a suspended
                                                or deleted tenant fail, /session/tickets
                                                issues no ticket for it and its open portal
                                                sessions end. Reloaded on change; a broken
                                                edit keeps the last good policy
  --policy-postgres  KEYPORTAL_POLICY_POSTGRES  with --postgres: read the policy from the table
                                                casbin_rule in the store's schema instead of
                                                --policy; an edit on any instance (INSERT, then
                                                SELECT pg_notify('keyportal_policy:<schema>', ''))
                                                is enforced by all within a second; a bad row
                                                is logged with its id and the last good policy
                                                stays
  --rate-limit       KEYPORTAL_RATE_LIMITS      rate limit of /v1/authz/check, MAX/DURATION:SCOPE
                                                with scope key, app or ip (e.g. 100/1m:key);
                                                repeat the flag or separate with commas; ip
                                                counts the client_ip the check names, else the
                                                caller's address (see --trusted-proxies)
  --redis            KEYPORTAL_REDIS_ADDR       Redis host:port (or redis:// URL) counting the
                                                rate limits (--rate-limit and the apps' rules)
                                                for all instances sharing it
                                                (default: counted in this process)
  --redis-prefix     KEYPORTAL_REDIS_PREFIX     Redis key prefix (default keyportal:rl:<schema>:)
  --log-level        KEYPORTAL_LOG_LEVEL        debug, info, warn or error (default info)
  --log-format       KEYPORTAL_LOG_FORMAT       json or console (default json)
  --session-ttl      KEYPORTAL_SESSION_TTL      portal page session length (default 15m)
  --trusted-proxies  KEYPORTAL_TRUSTED_PROXIES  proxies whose X-Forwarded-For names the client:
                                                IP addresses or CIDR ranges, comma-separated
                                                (default none: the client is the connection's
                                                address). The audit trail's client_ip and the
                                                ip rate-limit scope follow it
  --metrics-addr     KEYPORTAL_METRICS_ADDR     serve /metrics on this address only, e.g.
                                                127.0.0.1:9090 (default: on --addr, to anyone)
  --max-active-keys  KEYPORTAL_MAX_ACTIVE_KEYS  most active keys an app may have; creating
                                                one more is refused (409) until one is
                                                revoked; rotation is never refused by it
                                                (default 100; -1 for no cap)
  --key-change-rate  KEYPORTAL_KEY_CHANGE_RATE  key changes (create, rotate, revoke) a minute
                                                each user may make in the portal page, 10 at
                                                once; beyond it 429 (default 30; -1 for no
                                                limit)
  --audit-max-age    KEYPORTAL_AUDIT_MAX_AGE    how long audit events are kept, in days (400d)
                                                or as a Go duration (9600h), or "forever";
                                                older ones are deleted hourly (default 400d)
  --access-max-age   KEYPORTAL_ACCESS_MAX_AGE   how long the verification log's raw events
                                                (every API-key check) are kept, as
                                                --audit-max-age (default 30d)
  --access-rollup-max-age  KEYPORTAL_ACCESS_ROLLUP_MAX_AGE
                                                how long its per-minute rollups (the usage
                                                totals and charts) are kept (default 400d)

Operations: GET /healthz answers 200 while the process runs; GET /readyz answers
200 when the store answers, else 503; GET /metrics serves Prometheus metrics
(HTTP requests by route and status, latency, Go runtime), on --metrics-addr
when set and then not on --addr. SIGINT or SIGTERM stops accepting
connections, lets requests in flight finish (up to --shutdown-timeout) and
exits 0.`

// serveLimits says how serve's listeners treat slow clients, from the
// values internal/httpserver holds.
var serveLimits = fmt.Sprintf(`

Every listener cuts off a client that takes more than %.0f s to send its
headers or %.0f s its whole request, idles %.0f s between requests, or sends
more than %d KiB of headers (431).`, httpserver.DefaultReadHeaderTimeout.Seconds(), httpserver.DefaultReadTimeout.Seconds(),
	httpserver.DefaultIdleTimeout.Seconds(), httpserver.DefaultMaxHeaderBytes>>10)

func (c *cli) serveCommand() *cobra.Command {
	var cfg serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the self-hosted key portal and its Wacht-compatible backend API",
		Long:  serveLong + serveLimits,
		Example: `  keyportal serve
  KEYPORTAL_BACKEND_API_KEY=$(cat /run/secrets/kp) keyportal serve --addr :8081 \
      --base-url https://keys.example.com --db /var/lib/keyportal/keyportal.db
  keyportal serve --postgres postgres://keyportal@db/keyportal --log-format console`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.applyServeEnv(cmd); err != nil {
				return err
			}
			return c.serve(cmd, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.addr, "addr", "127.0.0.1:8081", "listen address, host:port")
	cfg.store.add(cmd)
	f.StringVar(&cfg.backendKeys, "backend-api-key", "", "backend API key(s) the app's backend must present, comma-separated (default: generate one)")
	f.StringVar(&cfg.baseURL, "base-url", "", "public URL of this server, as browsers reach it (default http://<addr>)")
	f.StringVar(&cfg.allowedOrigins, "allowed-origins", "", "embedder origins for apps created without any, comma-separated")
	f.StringVar(&cfg.defaultTenant, "default-tenant", "", "tenant of apps created through the backend API without organization_id")
	f.StringVar(&cfg.model, "model", "", "Casbin model file (default: the shipped model)")
	f.StringVar(&cfg.policy, "policy", "", "Casbin policy CSV whose tenant status key checks enforce")
	f.BoolVar(&cfg.policyPostgres, "policy-postgres", false, "read the policy from the Postgres store's casbin_rule table, shared by all instances (needs --postgres)")
	f.StringArrayVar(&cfg.rateLimits, "rate-limit", nil, "rate limit of /v1/authz/check, MAX/DURATION:SCOPE (scope key, app or ip), e.g. 100/1m:key; repeatable")
	f.StringVar(&cfg.redisAddr, "redis", "", "Redis host:port or redis:// URL sharing the rate-limit counts between instances")
	f.StringVar(&cfg.redisPrefix, "redis-prefix", "", "Redis key prefix of the rate-limit counts (default keyportal:rl:<postgres schema>:)")
	f.StringVar(&cfg.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&cfg.logFormat, "log-format", "json", "json or console")
	f.DurationVar(&cfg.sessionTTL, "session-ttl", portal.DefaultSessionTTL, "portal page session length")
	f.IntVar(&cfg.store.maxActiveKeys, "max-active-keys", keystore.DefaultMaxActiveKeys, "most active keys an app may have (-1: no cap)")
	f.Float64Var(&cfg.keyChangeRate, "key-change-rate", portal.DefaultChangeRate, "key changes a minute each user may make in the portal page (-1: no limit)")
	cfg.auditMaxAge = ageValue(keystore.DefaultAuditMaxAge)
	f.Var(&cfg.auditMaxAge, "audit-max-age", `how long audit events are kept: days (400d), a Go duration (9600h) or "forever"`)
	cfg.accessMaxAge, cfg.rollupMaxAge = ageValue(keystore.DefaultAccessMaxAge), ageValue(keystore.DefaultAccessRollupMaxAge)
	f.Var(&cfg.accessMaxAge, "access-max-age", `how long the verification log's raw events are kept: days (30d), a Go duration or "forever"`)
	f.Var(&cfg.rollupMaxAge, "access-rollup-max-age", `how long the verification log's per-minute rollups are kept: days (400d), a Go duration or "forever"`)
	f.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long requests in flight may take to finish at shutdown")
	f.StringVar(&cfg.trustedProxies, "trusted-proxies", "", "proxies whose X-Forwarded-For names the client, IP addresses or CIDR ranges, comma-separated (default none)")
	f.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve /metrics on this host:port only, not on --addr")
	_ = cmd.RegisterFlagCompletionFunc("log-level", fixedCompletion("debug", "info", "warn", "error"))
	_ = cmd.RegisterFlagCompletionFunc("log-format", fixedCompletion("json", "console"))
	return cmd
}

// applyServeEnv sets each flag not given on the command line from its
// environment variable.
func (c *cli) applyServeEnv(cmd *cobra.Command) error {
	for _, m := range serveEnv {
		v := c.getenv(m.env)
		if v == "" || cmd.Flags().Changed(m.flag) {
			continue
		}
		if err := cmd.Flags().Set(m.flag, v); err != nil {
			return failf(fmt.Sprintf("Fix %s, or override it with --%s.", m.env, m.flag), "%s=%q: %v", m.env, v, err)
		}
	}
	return nil
}

func (c *cli) serve(cmd *cobra.Command, cfg serveConfig) error {
	ctx := cmd.Context()
	log, err := c.serveLogger(cfg)
	if err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if err := cfg.store.oneStore(); err != nil {
		return err // before anything listens or a backend key is printed
	}
	if cfg.store.maxActiveKeys == 0 || cfg.store.maxActiveKeys < keystore.NoKeyLimit {
		return usageErrorf(cmd, "--max-active-keys (KEYPORTAL_MAX_ACTIVE_KEYS) must be at least 1, or -1 for no cap")
	}
	if cfg.keyChangeRate == 0 || (cfg.keyChangeRate < 0 && cfg.keyChangeRate != portal.NoChangeLimit) ||
		math.IsNaN(cfg.keyChangeRate) || math.IsInf(cfg.keyChangeRate, 0) {
		return usageErrorf(cmd, "--key-change-rate (KEYPORTAL_KEY_CHANGE_RATE) must be a positive number, or -1 for no limit")
	}
	origins := splitList(cfg.allowedOrigins)
	for i, o := range origins {
		if origins[i], err = ticket.ParseOrigin(o); err != nil {
			return usageErrorf(cmd, "--allowed-origins: %v", err)
		}
	}
	cfg.limits, err = parseRateLimits(cfg.rateLimits)
	if err != nil {
		return usageErrorf(cmd, "--rate-limit (KEYPORTAL_RATE_LIMITS): %v", err)
	}
	if cfg.redisAddr != "" {
		if cfg.redis, err = redisOptions(cfg.redisAddr); err != nil {
			return usageErrorf(cmd, "--redis (KEYPORTAL_REDIS_ADDR): %v", err)
		}
	} else if cfg.redisPrefix != "" {
		return usageErrorf(cmd, "--redis-prefix (KEYPORTAL_REDIS_PREFIX) names keys in Redis: give --redis (KEYPORTAL_REDIS_ADDR) too")
	}
	if cfg.proxies, err = clientip.ParseProxies(cfg.trustedProxies); err != nil {
		return usageErrorf(cmd, "--trusted-proxies (KEYPORTAL_TRUSTED_PROXIES): %v", err)
	}
	keys := splitList(cfg.backendKeys)
	if len(keys) == 0 {
		keys = []string{generateAPIKey()}
		// Printed once, on purpose and outside the structured log, so that
		// the operator can configure the app's backend; set the variable to
		// keep it across restarts.
		fmt.Fprintf(c.errOut, "keyportal: generated backend API key (set KEYPORTAL_BACKEND_API_KEY to keep one): %s\n", keys[0])
	}
	for _, k := range keys {
		if len(k) < wachtapi.MinAPIKeyLen || strings.ContainsAny(k, " \t\r\n") {
			return usageErrorf(cmd, "--backend-api-key: each key must be at least %d characters without spaces", wachtapi.MinAPIKeyLen)
		}
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return failf("Pick a free address with --addr (or KEYPORTAL_ADDR).", "cannot listen on %s: %v", cfg.addr, err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	var metricsLn net.Listener
	if cfg.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.metricsAddr); err != nil {
			return failf("Pick a free address with --metrics-addr (or KEYPORTAL_METRICS_ADDR).", "cannot listen on %s for metrics: %v", cfg.metricsAddr, err)
		}
		defer metricsLn.Close()
	}
	if cfg.baseURL == "" {
		cfg.baseURL = "http://" + publicHost(addr)
	}

	cfg.store.retention = &keystore.Options{AuditMaxAge: time.Duration(cfg.auditMaxAge),
		AccessMaxAge: time.Duration(cfg.accessMaxAge), AccessRollupMaxAge: time.Duration(cfg.rollupMaxAge),
		OnPruneError: func(err error) {
			log.Error().Err(err).Str("event", "audit.prune").Msg("deleting old audit events failed; retrying in an hour")
		}}
	store, err := cfg.store.open(ctx, c, true)
	if err != nil {
		return err
	}
	defer closeStore(store)

	engine, metrics, closeHandler, err := c.serveHandler(cfg, store, keys, origins, log)
	if err != nil {
		return err
	}
	defer closeHandler()
	servers := []*http.Server{c.serverLimits.New(addr, engine)}
	listeners := []net.Listener{ln}
	start := log.Info().Str("event", "serve.start").Str("addr", addr)
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics)
		servers = append(servers, c.serverLimits.New(metricsLn.Addr().String(), mux))
		listeners = append(listeners, metricsLn)
		start = start.Str("metrics_addr", metricsLn.Addr().String())
	}
	kind, _ := cfg.store.resolve(c)
	start.Str("base_url", cfg.baseURL).Str("store", kind).Int("backend_api_keys", len(keys)).Msg("listening")
	if c.onListen != nil {
		c.onListen(addr)
	}
	served := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { served <- srv.Serve(listeners[i]) }()
	}
	select {
	case err := <-served:
		for _, srv := range servers {
			_ = srv.Close()
		}
		return failf("Check the log above; restart when the cause is fixed.", "server stopped: %v", err)
	case <-ctx.Done():
	}
	log.Info().Str("event", "serve.stop").Msg("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			log.Error().Err(err).Str("event", "serve.stop").Msg("requests still running at the shutdown deadline were cut")
			return failf("Raise --shutdown-timeout if requests need longer.", "shutdown: %v", err)
		}
	}
	for range servers {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return failf("Check the log above.", "server: %v", err)
		}
	}
	log.Info().Str("event", "serve.stop").Msg("stopped")
	return nil
}

// serveHandler builds the gin engine: the portal, the backend API and the
// operational endpoints, with request metrics and logs; /metrics is on the
// engine unless cfg.metricsAddr gives it a listener of its own, and is
// returned for that listener. closeAll flushes and stops what the handlers
// started, once the server has stopped.
func (c *cli) serveHandler(cfg serveConfig, store keystore.Store, keys, origins []string, log zerolog.Logger) (engine *gin.Engine, metrics http.Handler, closeAll func(), err error) {
	gin.SetMode(gin.ReleaseMode)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	httpMetrics := newHTTPMetrics(reg)

	pg, _ := store.(*postgres.Postgres)
	accessReader, accessLog, stopAccess, err := verificationLog(store, reg, log)
	if err != nil {
		return nil, nil, nil, failf("Report this: the verification log's metrics could not be registered.", "%v", err)
	}
	if len(origins) > 0 {
		store = defaultOrigins{Store: store, origins: origins}
	}
	var tenants policy.TenantStatuser
	var decider policy.Decider // the portal re-checks sessions with it
	var closers []func() error
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i](); err != nil {
				log.Error().Err(err).Str("event", "serve.stop").Msg("close")
			}
		}
	}
	if stopAccess != nil {
		closers = append(closers, stopAccess)
	}
	if cfg.policyPostgres {
		if pg == nil || cfg.policy != "" {
			return nil, nil, nil, failf("Give --policy-postgres with --postgres (KEYPORTAL_POSTGRES_DSN), and without --policy.",
				"--policy-postgres reads the policy from the Postgres key store")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		e, err := pgpolicy.Open(ctx, pgpolicy.Config{Pool: pg.Pool(), Schema: pg.Schema(), ModelPath: cfg.model, Logger: log})
		cancel()
		if err != nil {
			return nil, nil, nil, failf("Fix or delete the row named (SELECT * FROM <schema>.casbin_rule WHERE id = ...), or check --model.", "%v", err)
		}
		closers = append(closers, e.Close)
		tenants, decider = e, e
	} else if cfg.policy != "" || cfg.model != "" {
		files := policyFiles{model: cfg.model, policy: cfg.policy}
		e, err := policy.New(policy.Config{ModelPath: cfg.model, PolicyPath: cfg.policy, Logger: log, Watch: true})
		if err != nil {
			return nil, nil, nil, files.loadError(err)
		}
		closers = append(closers, e.Close)
		tenants, decider = e, e
	}
	var limiter ratelimit.Limiter
	if cfg.redis != nil { // for --rate-limit and for the apps' own rules alike
		client := redis.NewClient(cfg.redis)
		closers = append(closers, client.Close)
		prefix := cfg.redisPrefix
		if prefix == "" {
			prefix = "keyportal:rl:"
			if pg != nil {
				prefix += pg.Schema() + ":"
			}
		}
		r, err := rlredis.New(client, prefix)
		if err != nil {
			closeAll()
			return nil, nil, nil, failf("Check --redis (KEYPORTAL_REDIS_ADDR).", "%v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := client.Ping(ctx).Err(); err != nil {
			// Not fatal: the limiter fails open until Redis answers.
			log.Warn().Err(err).Str("event", "serve.start").Str("redis", cfg.redis.Addr).Msg("redis does not answer; rate limits not enforced until it does")
		}
		cancel()
		limiter = r
	}
	p, err := portal.New(portal.Config{Store: store, BaseURL: cfg.baseURL, SessionTTL: cfg.sessionTTL,
		ChangeRate: cfg.keyChangeRate, Logger: log, Now: c.now, Metrics: reg, Decider: decider})
	if err != nil {
		closeAll()
		return nil, nil, nil, failf("Check --base-url (KEYPORTAL_BASE_URL) and --session-ttl.", "%v", err)
	}
	api, err := wachtapi.New(wachtapi.Config{Store: store, Issuer: p.Issuer(), APIKeys: keys, Tenants: tenants,
		DefaultTenant: cfg.defaultTenant, RateLimits: cfg.limits, Limiter: limiter, Logger: log, Now: c.now,
		Access: accessReader, AccessLog: accessLog})
	if err != nil {
		closeAll()
		return nil, nil, nil, failf("Check --backend-api-key (KEYPORTAL_BACKEND_API_KEY).", "%v", err)
	}
	closers = append(closers, api.Close)
	engine = gin.New()
	if err := clientip.Trust(engine, cfg.proxies); err != nil {
		closeAll()
		return nil, nil, nil, failf("Fix --trusted-proxies (KEYPORTAL_TRUSTED_PROXIES).", "%v", err)
	}
	engine.Use(recoverer(log), httpMetrics.middleware(), requestLog(log))
	engine.GET("/healthz", func(g *gin.Context) {
		g.Header("Cache-Control", "no-store")
		g.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	engine.GET("/readyz", func(g *gin.Context) {
		g.Header("Cache-Control", "no-store")
		ctx, cancel := context.WithTimeout(g.Request.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			log.Warn().Err(err).Str("event", "readyz").Msg("store does not answer")
			g.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "store": "unreachable"})
			return
		}
		g.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
	metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	if cfg.metricsAddr == "" {
		engine.GET("/metrics", gin.WrapH(metrics))
	}
	if err := errors.Join(p.Mount(engine), api.Mount(engine)); err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return engine, metrics, closeAll, nil
}

// parseRateLimits parses --rate-limit values, each MAX/DURATION[:SCOPE]
// (scope key, app or ip; default key), several per value separated by
// commas (as KEYPORTAL_RATE_LIMITS gives them).
func parseRateLimits(values []string) ([]ratelimit.Rule, error) {
	var rules []ratelimit.Rule
	for _, v := range values {
		for _, s := range splitList(v) {
			r, err := parseRateLimit(s)
			if err != nil {
				return nil, err
			}
			rules = append(rules, r)
		}
	}
	return rules, nil
}

func parseRateLimit(s string) (ratelimit.Rule, error) {
	bad := func(why string) (ratelimit.Rule, error) {
		return ratelimit.Rule{}, fmt.Errorf("%q: %s; want MAX/DURATION:SCOPE, e.g. 100/1m:key, 1000/1h:app or 50/1s:ip", s, why)
	}
	spec, scope, _ := strings.Cut(s, ":")
	maxText, perText, ok := strings.Cut(spec, "/")
	if !ok {
		return bad("no /")
	}
	n, err := strconv.Atoi(maxText)
	if err != nil || n <= 0 {
		return bad("MAX must be a positive whole number")
	}
	per, err := time.ParseDuration(perText)
	if err != nil || per < time.Millisecond {
		return bad("DURATION must be a Go duration of at least 1ms (1s, 1m, 1h)")
	}
	r := ratelimit.Rule{Max: n, Per: per, Scope: ratelimit.Scope(scope)}
	if r.Scope == "" {
		r.Scope = ratelimit.ScopeKey
	}
	if r.Validate() != nil {
		return bad("SCOPE must be key, app or ip")
	}
	return r, nil
}

// redisOptions reads --redis: host:port, or a redis:// or rediss:// URL.
// Timeouts are short because the limiter fails open: a slow Redis must not
// slow every check down.
func redisOptions(addr string) (*redis.Options, error) {
	var opts *redis.Options
	if strings.Contains(addr, "://") {
		o, err := redis.ParseURL(addr)
		if err != nil {
			return nil, err
		}
		opts = o
	} else {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%q: want host:port or redis://host:port/db", addr)
		}
		opts = &redis.Options{Addr: addr}
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 200*time.Millisecond, 200*time.Millisecond
	return opts, nil
}

// defaultOrigins gives apps created without embedder origins the server's
// default ones (--allowed-origins), whichever API creates them.
type defaultOrigins struct {
	keystore.Store
	origins []string
}

// CreateApp creates app, with the default origins when it names none.
func (d defaultOrigins) CreateApp(ctx context.Context, app keystore.App, by keystore.Actor) (keystore.App, error) {
	if len(app.AllowedOrigins) == 0 {
		app.AllowedOrigins = append([]string(nil), d.origins...)
	}
	return d.Store.CreateApp(ctx, app, by)
}

// serveLogger builds the logger from --log-level and --log-format.
func (c *cli) serveLogger(cfg serveConfig) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(cfg.logLevel))
	if err != nil || cfg.logLevel == "" {
		return zerolog.Logger{}, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", cfg.logLevel)
	}
	var log zerolog.Logger
	switch cfg.logFormat {
	case "json":
		log = zerolog.New(c.errOut)
	case "console":
		log = zerolog.New(zerolog.ConsoleWriter{Out: c.errOut, NoColor: !c.style(c.errOut).on, TimeFormat: time.RFC3339})
	default:
		return zerolog.Logger{}, fmt.Errorf("--log-format must be json or console, not %q", cfg.logFormat)
	}
	return log.Level(level).With().Timestamp().Str("service", "keyportal").Logger(), nil
}

// generateAPIKey returns a fresh backend API key: 32 random bytes.
func generateAPIKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "kpb_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// publicHost turns a listen address into one a browser can reach.
func publicHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0", "::", "127.0.0.1", "::1":
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// httpMetrics counts and times requests by route template and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) httpMetrics {
	m := httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyportal_http_requests_total", Help: "HTTP requests answered, by route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyportal_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m httpMetrics) middleware() gin.HandlerFunc {
	return func(g *gin.Context) {
		start := time.Now()
		g.Next()
		route := g.FullPath() // the template: never a ticket or an id
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(g.Request.Method, route, strconv.Itoa(g.Writer.Status())).Inc()
		m.duration.WithLabelValues(g.Request.Method, route).Observe(time.Since(start).Seconds())
	}
}

// requestLog logs one line per request at debug level (info for 5xx), with
// the route template and path only: the query can hold a ticket.
func requestLog(log zerolog.Logger) gin.HandlerFunc {
	return func(g *gin.Context) {
		start := time.Now()
		g.Next()
		ev := log.Debug()
		if g.Writer.Status() >= 500 {
			ev = log.Warn()
		}
		ev.Str("event", "http.request").Str("method", g.Request.Method).Str("route", g.FullPath()).
			Int("status", g.Writer.Status()).Dur("latency", time.Since(start)).Str("client_ip", clientip.Of(g, &log)).Send()
	}
}

// recoverer turns a panic into a 500 and a log line instead of a crash.
func recoverer(log zerolog.Logger) gin.HandlerFunc {
	return func(g *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.Error().Str("event", "http.panic").Str("route", g.FullPath()).Interface("panic", r).Msg("handler panicked")
				g.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "Internal error"})
			}
		}()
		g.Next()
	}
}

// ageValue is --audit-max-age: a number of days ("400d"), a Go duration
// ("9600h") or "forever" (kept as -1, keystore's "keep forever").
type ageValue time.Duration

func (a *ageValue) String() string {
	switch d := time.Duration(*a); {
	case d < 0:
		return "forever"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	default:
		return d.String()
	}
}

func (a *ageValue) Set(s string) error {
	if s == "forever" {
		*a = -1
		return nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*366 {
			return fmt.Errorf("want a number of days from 1 to 36600, such as 400d, got %q", s)
		}
		*a = ageValue(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("want days (400d), a positive Go duration (9600h) or forever, got %q", s)
	}
	*a = ageValue(d)
	return nil
}

func (a *ageValue) Type() string { return "age" }
