// Package gindev is the README's "For Gin developers" walkthrough, whole:
// keyportal added to an existing Gin app, step by step. The README shows
// this file from the first step on, block by block; TestWalkthrough checks
// that it shows exactly this code, then runs it against httptest servers
// until a key made in the portal works on the app's API.
package gindev

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/shell"
	"github.com/keyportal/keyportal/policy"
)

// Host is what your app already has.
type Host struct {
	// Engine is your app's Gin engine.
	Engine *gin.Engine
	// CurrentUser returns the signed-in user and the tenant (workspace)
	// they act in, from your session; ok is false when nobody is signed in.
	CurrentUser func(c *gin.Context) (user, tenant string, ok bool)
	// Deployments tells which tenant owns a deployment, from your own
	// table: keyportal keeps no copy of it.
	Deployments policy.OwnerSource
}

// Settings say where keyportal keeps its state and serves its portal.
type Settings struct {
	PolicyPath string // roles and permissions (step 2)
	DBPath     string // the SQLite key store, created on first start
	AppURL     string // your app's origin, e.g. https://app.example.com
	PortalURL  string // the portal's own origin, e.g. https://keys.example.com
	WasmPath   string // the prebuilt shell (cmd/shellbuild); "" builds it
}

// Step 1: who is asking. The ticket route asks your session, through
// Identify, for the user and the tenant they act in.
func identify(h Host) func(c *gin.Context) (middleware.Principal, error) {
	return func(c *gin.Context) (middleware.Principal, error) {
		user, tenant, ok := h.CurrentUser(c)
		if !ok {
			return middleware.Principal{}, errors.New("signed out") // 401
		}
		return middleware.Principal{Subject: user, Tenant: tenant}, nil
	}
}

// Step 2: who may manage keys. Roles and permissions live in a Casbin
// policy file, reloaded when it changes; which tenant owns a deployment
// comes from your table (Owners), so the policy has no g2 rows.
func newPolicy(h Host, s Settings) (*policy.Engine, error) {
	return policy.New(policy.Config{PolicyPath: s.PolicyPath, Watch: true, Owners: h.Deployments})
}

// Step 3: the ticket route and the settings page on your engine, the
// portal on an engine of its own (serve it on Settings.PortalURL: another
// origin). The portal creates a deployment's key app on the first ticket
// the route authorized, for the tenant that owns it: nothing to create by
// hand.
func mountPortal(ctx context.Context, h Host, s Settings, decider *policy.Engine, store keystore.Store) (*gin.Engine, *shell.Shell, error) {
	kp, err := portal.New(portal.Config{Store: store, BaseURL: s.PortalURL, Decider: decider})
	if err != nil {
		return nil, nil, err
	}
	portalEngine := gin.New()
	if err := kp.Mount(portalEngine); err != nil {
		return nil, nil, err
	}

	err = middleware.Mount(h.Engine, middleware.Config{
		Identify:       identify(h),
		Decider:        decider,
		Issuer:         kp.Issuer(),
		Auditor:        store,              // the audit trail support can query
		AllowedOrigins: []string{s.AppURL}, // the pages that may ask for tickets
	})
	if err != nil {
		return nil, nil, err
	}
	sh, err := shell.New(ctx, shell.Config{Title: "API keys", WasmPath: s.WasmPath, Pages: []string{"/settings/api-keys/:deploymentId"}})
	if err != nil {
		return nil, nil, err
	}
	if err := sh.Mount(h.Engine); err != nil {
		sh.Close()
		return nil, nil, err
	}
	return portalEngine, sh, nil
}

// Step 4: your public API takes the keys made in the portal.
func guardAPI(h Host, store keystore.Store, decider *policy.Engine) (*middleware.APIKeyAuth, error) {
	auth, err := middleware.RequireAPIKey(middleware.APIKeyConfig{Config: apikey.Config{Keys: store, Tenants: decider}})
	if err != nil {
		return nil, err
	}
	api := h.Engine.Group("/v1", auth.Handler())
	api.GET("/whoami", func(c *gin.Context) {
		id, _ := middleware.APIKeyFrom(c)
		c.JSON(http.StatusOK, id)
	})
	return auth, nil
}

// Add puts it together: it adds keyportal to h.Engine and returns the
// portal's engine and a function that closes what Add opened.
func Add(ctx context.Context, h Host, s Settings) (portalEngine *gin.Engine, closeAll func(), err error) {
	var closers []func() error
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	decider, err := newPolicy(h, s)
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, decider.Close)
	store, err := sqlite.Open(ctx, s.DBPath, keystore.Options{})
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, store.Close)
	portalEngine, sh, err := mountPortal(ctx, h, s, decider, store)
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, sh.Close)
	auth, err := guardAPI(h, store, decider)
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, auth.Close)
	return portalEngine, closeAll, nil
}
