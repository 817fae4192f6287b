package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/clientip"
	demodata "github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/internal/httpserver"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/middleware/wacht"
	"github.com/keyportal/keyportal/middleware/wacht/gateway"
	"github.com/keyportal/keyportal/policy"
)

// options configure the Acme demo; main fills them from flags and the
// environment, tests directly.
type options struct {
	AppAddr    string  // the app's listen address (its origin is http://AppAddr)
	PortalAddr string  // the portal's listen address (origin http://localhost:port)
	DataDir    string  // SQLite database, session key
	TicketRate float64 // tickets a minute per user; 0 lifts the limit
	// AuditMaxAge is how long audit events are kept (keystore.Options):
	// zero means keystore.DefaultAuditMaxAge (400 days), negative forever.
	AuditMaxAge time.Duration
	// WachtAPIKey switches to remote mode: tickets from Wacht's hosted portal.
	WachtAPIKey  string
	WachtBaseURL string
	// BackendAPIKey guards the portal's Wacht-compatible backend API.
	BackendAPIKey string
	// ShellWasm, when set, is a prebuilt shell wasm; otherwise it is built
	// from source into DataDir on first start.
	ShellWasm string
	// SkipShell leaves the settings page out (tests that drive HTTP only).
	SkipShell bool
	// PolicyPath, when set, is a policy file used instead of the built-in
	// demo policy and watched: an edit (a role removed, a tenant suspended)
	// takes effect at once, in the ticket route and in open portal sessions.
	PolicyPath string
	// ServerLimits are the app's and the portal's timeouts and header bound;
	// zero fields mean those of every keyportal server (internal/httpserver),
	// tests shorten them.
	ServerLimits httpserver.Limits
	// TrustedProxies are the proxies (IP addresses or CIDR ranges) whose
	// X-Forwarded-For both servers believe; none when empty, so that the
	// audited client IP is the connection's (internal/clientip).
	TrustedProxies []string
	Logger         zerolog.Logger
	Now            func() time.Time
}

// acme is the demo app: its own web app and, in local mode, the portal on a
// second origin.
type acme struct {
	App       http.Handler
	Portal    http.Handler // nil in Wacht mode
	AppURL    string
	PortalURL string // empty in Wacht mode
	Remote    bool

	store    keystore.Store
	policy   *policy.Engine
	apiKeys  *middleware.APIKeyAuth
	closeFns []func() error
}

// Close releases the store, flushes pending last-used times and stops the
// shell's background work.
func (a *acme) Close() error {
	var errs []error
	for i := len(a.closeFns) - 1; i >= 0; i-- {
		errs = append(errs, a.closeFns[i]())
	}
	return errors.Join(errs...)
}

func newAcme(ctx context.Context, o options) (_ *acme, err error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: data directory: %w", err)
	}
	a := &acme{AppURL: "http://" + o.AppAddr, Remote: o.WachtAPIKey != ""}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	unlock, err := lockDataDir(o.DataDir)
	if err != nil {
		return nil, err
	}
	a.closeFns = append(a.closeFns, unlock)

	pcfg := policy.Config{PolicyText: demodata.Policy, Logger: o.Logger}
	if o.PolicyPath != "" {
		pcfg = policy.Config{PolicyPath: o.PolicyPath, Watch: true, Logger: o.Logger}
	}
	a.policy, err = policy.New(pcfg)
	if err != nil {
		return nil, err
	}
	a.closeFns = append(a.closeFns, a.policy.Close)

	key, err := loadOrCreateKey(filepath.Join(o.DataDir, "session.key"))
	if err != nil {
		return nil, err
	}
	sess := sessions{key: key, now: o.Now}

	metrics := prometheus.NewRegistry()
	var issuer ticket.Issuer
	var remote *wacht.Client
	if a.Remote {
		remote, err = wacht.New(wacht.Config{APIKey: o.WachtAPIKey, BaseURL: o.WachtBaseURL})
		if err != nil {
			return nil, err
		}
		issuer = remote
		// Keys made in Wacht's hosted page, checked by Wacht's gateway: an
		// allowed verdict is reused for at most gateway.DefaultCacheTTL.
		gv, err := gateway.New(gateway.Config{Client: remote, Now: o.Now, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		a.apiKeys, err = middleware.RequireAPIKey(middleware.APIKeyConfig{Verifier: gv, Config: apikey.Config{Logger: o.Logger}})
		if err != nil {
			return nil, err
		}
		a.closeFns = append(a.closeFns, a.apiKeys.Close)
	} else {
		a.store, err = sqlite.Open(ctx, filepath.Join(o.DataDir, "keyportal.db"), keystore.Options{Now: o.Now, AuditMaxAge: o.AuditMaxAge,
			OnPruneError: func(err error) { o.Logger.Error().Err(err).Str("event", "audit.prune").Send() }})
		if err != nil {
			return nil, err
		}
		a.closeFns = append(a.closeFns, a.store.Close)
		// One verifier for the app's public API and the portal's gateway
		// check: one cache of verified keys, one last_used_at writer.
		a.apiKeys, err = middleware.RequireAPIKey(middleware.APIKeyConfig{Config: apikey.Config{Keys: a.store, Tenants: a.policy, Logger: o.Logger, Now: o.Now}})
		if err != nil {
			return nil, err
		}
		a.closeFns = append(a.closeFns, a.apiKeys.Close)
		a.PortalURL = "http://" + portalHost(o.PortalAddr)
		if err := provisionDemoApps(ctx, a.store, appOrigins(o.AppAddr)); err != nil {
			return nil, err
		}
		// The portal asks the route's policy again on every exchange and
		// key change, so a session ends when its user loses the role.
		p, err := portal.New(portal.Config{Store: a.store, BaseURL: a.PortalURL, Logger: o.Logger, Now: o.Now, Metrics: metrics, Decider: a.policy})
		if err != nil {
			return nil, err
		}
		issuer = p.Issuer()
		pe, err := newEngine(o)
		if err != nil {
			return nil, err
		}
		if err := p.Mount(pe); err != nil {
			return nil, err
		}
		if o.BackendAPIKey != "" {
			closeAPI, err := mountBackendAPI(pe, a.store, issuer, a.apiKeys.Verifier(), o)
			if err != nil {
				return nil, err
			}
			a.closeFns = append(a.closeFns, closeAPI)
		}
		a.Portal = pe
	}

	rate := o.TicketRate
	if rate == 0 {
		rate = middleware.NoRateLimit
	}
	cfg := middleware.Config{
		Identify:       sess.identify,
		Decider:        a.policy,
		Issuer:         issuer,
		Logger:         o.Logger,
		RateLimit:      rate,
		AllowedOrigins: appOrigins(o.AppAddr),
		Metrics:        metrics,
		Now:            o.Now,
	}
	if a.store != nil {
		cfg.Auditor = a.store
	}
	route, err := middleware.NewTicketRoute(cfg)
	if err != nil {
		return nil, err
	}

	e, err := newEngine(o)
	if err != nil {
		return nil, err
	}
	e.Use(middleware.SecurityHeaders())
	if err := route.Mount(e); err != nil {
		return nil, err
	}
	pages := &pages{sessions: sess, decider: a.policy, appURL: a.AppURL, portalURL: a.PortalURL, remote: a.Remote}
	pages.mount(e)

	a.mountPublicAPI(e)
	if a.store != nil {
		if err := mountAuditPage(e, sess, a.policy, a.store, o.Logger); err != nil {
			return nil, err
		}
	}
	if !o.SkipShell {
		s, err := mountShell(ctx, e, o, route, pages)
		if err != nil {
			return nil, err
		}
		a.closeFns = append(a.closeFns, s.Close)
	}
	a.App = e
	return a, nil
}

// newEngine returns an engine for one of the demo's servers: recovering
// from panics, and believing X-Forwarded-For from o.TrustedProxies only.
func newEngine(o options) (*gin.Engine, error) {
	e := gin.New()
	if err := clientip.Trust(e, o.TrustedProxies); err != nil {
		return nil, fmt.Errorf("acme: -trusted-proxies: %w", err)
	}
	e.Use(gin.Recovery())
	return e, nil
}

// servers returns the app's server and, in local mode, the portal's, with
// the timeouts and header bound of `keyportal serve` (internal/httpserver):
// a client that trickles its request or idles is cut off.
func (a *acme) servers(o options) []*http.Server {
	servers := []*http.Server{o.ServerLimits.New(o.AppAddr, a.App)}
	if a.Portal != nil {
		servers = append(servers, o.ServerLimits.New(o.PortalAddr, a.Portal))
	}
	return servers
}

// mountPublicAPI guards GET /v1/whoami with RequireAPIKey: against the
// local store, or through Wacht's gateway check in remote mode.
func (a *acme) mountPublicAPI(e *gin.Engine) {
	e.GET("/v1/whoami", a.apiKeys.Handler(), func(c *gin.Context) {
		id, _ := middleware.APIKeyFrom(c)
		c.JSON(http.StatusOK, id)
	})
}

// provisionDemoApps is the guide's one-time provisioning: an API auth app
// aa_<deploymentId> per deployment, owned by its tenant, embeddable by the
// app's origins. It is idempotent, and refreshes the origins when the app's
// address changed.
func provisionDemoApps(ctx context.Context, store keystore.Store, origins []string) error {
	by := keystore.Actor{Name: "acme-provisioning"}
	for _, t := range demoTenants {
		for _, d := range t.Deployments {
			slug := "aa_" + d
			_, err := store.GetApp(ctx, slug)
			switch {
			case errors.Is(err, keystore.ErrNotFound):
				_, err = store.CreateApp(ctx, keystore.App{
					DeploymentID:   d,
					Slug:           slug,
					Name:           fmt.Sprintf("%s public API (deployment %s)", t.Name, d),
					KeyPrefix:      t.KeyPrefix,
					Description:    "API keys for deployment " + d,
					IsActive:       true,
					Tenant:         t.Name,
					AllowedOrigins: origins,
				}, by)
			case err == nil:
				o := origins
				_, err = store.UpdateApp(ctx, slug, keystore.AppPatch{AllowedOrigins: &o}, by)
			}
			if err != nil {
				return fmt.Errorf("acme: provisioning %s: %w", slug, err)
			}
		}
	}
	return nil
}

// appOrigins are the origins the app is reached at: the listen address, and
// its localhost/127.0.0.1 twin.
func appOrigins(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{"http://" + addr}
	}
	origins := []string{"http://" + addr}
	switch host {
	case "127.0.0.1":
		origins = append(origins, "http://localhost:"+port)
	case "localhost":
		origins = append(origins, "http://127.0.0.1:"+port)
	}
	return origins
}

// portalHost names the portal by "localhost" when it listens on loopback, so
// that the iframe is another site than the app at 127.0.0.1, as it is in
// production.
func portalHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "127.0.0.1" || host == "" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// loadOrCreateKey reads a 32-byte key from path, creating it on first start.
func loadOrCreateKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		if k, err := hex.DecodeString(strings.TrimSpace(string(b))); err == nil && len(k) == 32 {
			return k, nil
		}
		return nil, fmt.Errorf("acme: %s is not a 64-hex-digit key; delete it to make a new one", path)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	return k, nil
}
