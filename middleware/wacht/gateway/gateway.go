// Package gateway verifies API keys through Wacht's gateway check (POST
// /v1/authz/check, asked with a *wacht.Client), for middleware.RequireAPIKey
// in Wacht mode: keys made in Wacht's hosted page then work on the app's API
// with the same identity in the context and the same 401, 403 and 429
// answers as keys verified against a local store. keyportal serve answers
// the same check, so the same Verifier works against it.
//
// # How long a revoked key keeps working
//
// An allowed verdict is reused for at most Config.CacheTTL (DefaultCacheTTL,
// 5 s; never more than MaxCacheTTL, 30 s), for the same secret, the same
// required permissions, and the same method and path (the gateway's rate
// limits may cover some paths only). So a key revoked, rotated past its
// grace, expired, or whose app or tenant was disabled, is refused within
// CacheTTL of the change (Wacht's own gateway keeps revoked keys alive for up
// to 60 s). Refusals are never cached: a key the gateway refused is asked
// about again on its next request. An allowed verdict that carries rate-limit
// state (rate_limits or RateLimit headers) is not cached either, since the
// gateway must count every request.
//
// Importing this package links the Wacht client and no database driver.
package gateway

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// Defaults and bounds of Config.
const (
	// DefaultCacheTTL is how long an allowed verdict is reused by default.
	DefaultCacheTTL = 5 * time.Second
	// MaxCacheTTL is the longest CacheTTL New accepts.
	MaxCacheTTL = 30 * time.Second
	// DefaultCacheSize is how many allowed verdicts are kept by default.
	DefaultCacheSize = 10_000
)

// Config configures a Verifier. The zero value of every optional field means
// its default.
type Config struct {
	// Client asks the gateway: a *wacht.Client for Wacht, or one whose
	// BaseURL is keyportal serve. Required.
	Client *wacht.Client
	// CacheTTL is how long an allowed verdict is reused before the gateway
	// is asked again, and so the longest a revoked key keeps working.
	// Default DefaultCacheTTL; negative caches nothing; more than
	// MaxCacheTTL is refused by New.
	CacheTTL time.Duration
	// CacheSize bounds the number of allowed verdicts kept; past it an
	// arbitrary one is dropped. Default DefaultCacheSize.
	CacheSize int
	// Now is the clock of the cache; nil means time.Now.
	Now func() time.Time
	// Logger receives the failures of the check (never a secret), such as a
	// refused backend API key. The zero Logger means JSON lines at info
	// level on os.Stderr; zerolog.Nop() silences it.
	Logger zerolog.Logger
}

// Verifier verifies keys through the gateway check. It implements
// middleware.KeyVerifier and is safe for concurrent use.
type Verifier struct {
	client *wacht.Client
	ttl    time.Duration
	max    int
	now    func() time.Time
	log    zerolog.Logger

	mu      sync.Mutex
	allowed map[[sha256.Size]byte]cached
}

// cached is an allowed verdict and the moment it stops being reused.
type cached struct {
	id    *apikey.Identity
	until time.Time
}

// New checks cfg and returns a Verifier. Misconfiguration fails here with a
// "gateway: ..." error.
func New(cfg Config) (*Verifier, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("gateway: Config.Client is required")
	case cfg.CacheTTL > MaxCacheTTL:
		return nil, fmt.Errorf("gateway: Config.CacheTTL %s is over the bound of %s", cfg.CacheTTL, MaxCacheTTL)
	case cfg.CacheSize < 0:
		return nil, fmt.Errorf("gateway: Config.CacheSize must not be negative, got %d", cfg.CacheSize)
	}
	v := &Verifier{client: cfg.Client, ttl: cmp.Or(cfg.CacheTTL, DefaultCacheTTL), max: cmp.Or(cfg.CacheSize, DefaultCacheSize), now: cfg.Now, log: logx.Or(cfg.Logger, "gateway"),
		allowed: map[[sha256.Size]byte]cached{}}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// VerifyRequest asks the gateway about req's key (or reuses an allowed
// verdict younger than CacheTTL). An allowed key gives its identity: key id
// and name, app, tenant (Wacht's organization_id), deployment, permissions
// and metadata. A key the gateway refused gives the *apikey.Rejection of the
// reason it names (keyportal's detail; apikey.ErrUnknown when it names none),
// a missing permission apikey.ErrPermissionDenied, a rate limit a verdict
// with RetryAfter and the gateway's RateLimit headers. A missing or
// malformed secret is refused without asking. No verdict (the gateway
// unreachable, the backend API key refused) wraps apikey.ErrUnavailable.
func (v *Verifier) VerifyRequest(ctx context.Context, req apikey.Request) (apikey.Verdict, error) {
	if req.Secret == "" {
		return apikey.Verdict{}, apikey.ErrMissing
	}
	if !apikey.WellFormed(req.Secret) {
		return apikey.Verdict{}, apikey.ErrMalformed
	}
	sum := cacheKey(req.Secret, req.Method, req.Path, req.Required)
	if id := v.get(&sum); id != nil {
		return apikey.Verdict{Identity: id}, nil
	}
	res, err := v.client.Check(ctx, wacht.CheckRequest{
		Principal: wacht.Principal{Value: req.Secret},
		Resource:  req.Path, Method: req.Method, ClientIP: req.ClientIP, UserAgent: req.UserAgent,
		RequiredPermissions: req.Required,
	})
	if err != nil {
		if errors.Is(err, wacht.ErrUnauthorized) {
			v.log.Error().Err(err).Msg("gateway: the backend API key was refused; every API key is refused with 503")
		} else {
			v.log.Warn().Err(err).Msg("gateway: key check failed")
		}
		return apikey.Verdict{}, fmt.Errorf("%w: %w", apikey.ErrUnavailable, err)
	}
	out := apikey.Verdict{Headers: res.Headers}
	if res.Identity != nil {
		out.Identity = identity(&res)
	}
	switch {
	case res.Allowed && out.Identity == nil:
		return apikey.Verdict{}, fmt.Errorf("%w: the gateway allowed a key without an identity", apikey.ErrUnavailable)
	case res.Allowed:
		if len(res.RateLimits) == 0 && !hasRateLimitHeader(res.Headers) {
			v.put(&sum, out.Identity)
		}
		return out, nil
	case res.Reason == wacht.ReasonPermissionDenied:
		return out, apikey.ErrPermissionDenied
	case res.Reason == wacht.ReasonRateLimited:
		out.RetryAfter = max(time.Duration(res.RetryAfter)*time.Second, time.Second)
		if out.Identity == nil {
			out.Identity = &apikey.Identity{}
		}
		return out, nil
	}
	return apikey.Verdict{Headers: res.Headers}, rejection(res.Detail)
}

// identity is the apikey.Identity of an allowed verdict.
func identity(res *wacht.CheckResponse) *apikey.Identity {
	perms := res.Permissions
	if perms == nil {
		perms = []string{}
	}
	return &apikey.Identity{
		KeyID: res.Identity.KeyID, KeyName: res.Identity.KeyName, AppSlug: res.Identity.AppSlug,
		Tenant: res.Identity.OrganizationID, DeploymentID: res.Identity.DeploymentID,
		Permissions: perms, Metadata: res.Metadata,
	}
}

// rejections are the refusals a gateway may name in its detail.
var rejections = []*apikey.Rejection{
	apikey.ErrMissing, apikey.ErrMalformed, apikey.ErrUnknown, apikey.ErrRevoked,
	apikey.ErrExpired, apikey.ErrAppInactive, apikey.ErrTenantInactive,
}

// rejection is the refusal a detail names, apikey.ErrUnknown for any other.
func rejection(detail string) *apikey.Rejection {
	for _, r := range rejections {
		if string(r.Reason) == detail {
			return r
		}
	}
	return apikey.ErrUnknown
}

func hasRateLimitHeader(h map[string]string) bool {
	for name := range h {
		if len(name) >= len("RateLimit") && strings.EqualFold(name[:len("RateLimit")], "RateLimit") {
			return true
		}
	}
	return false
}

// cacheKey is the SHA-256 of the secret, the method and path of the
// request, and the required permissions.
func cacheKey(secret, method, path string, required []string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(secret))
	for _, p := range [2]string{method, path} {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	for _, p := range required {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// get returns a cached allowed verdict younger than the TTL.
func (v *Verifier) get(sum *[sha256.Size]byte) *apikey.Identity {
	if v.ttl < 0 {
		return nil
	}
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.allowed[*sum]
	if !ok {
		return nil
	}
	if !now.Before(c.until) {
		delete(v.allowed, *sum)
		return nil
	}
	return c.id
}

// put caches an allowed verdict for the TTL.
func (v *Verifier) put(sum *[sha256.Size]byte, id *apikey.Identity) {
	if v.ttl < 0 {
		return
	}
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.allowed[*sum]; !ok && len(v.allowed) >= v.max {
		for k, c := range v.allowed { // drop the expired, else any one
			if !now.Before(c.until) {
				delete(v.allowed, k)
			}
		}
		for k := range v.allowed {
			if len(v.allowed) < v.max {
				break
			}
			delete(v.allowed, k)
		}
	}
	v.allowed[*sum] = cached{id: id, until: now.Add(v.ttl)}
}

// Close closes the idle connections of the client's own transport.
func (v *Verifier) Close() error {
	v.client.CloseIdleConnections()
	return nil
}
