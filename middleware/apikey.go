package middleware

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/internal/logthrottle"
	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/audit/accesslog"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// DefaultRealm is the realm RequireAPIKey names in WWW-Authenticate.
const DefaultRealm = "api"

// APIKeyHeader is the header that may carry a key instead of
// "Authorization: Bearer <secret>".
const APIKeyHeader = "X-API-Key"

// apiKeyHeaderKey is APIKeyHeader as http.Header keys it.
var apiKeyHeaderKey = http.CanonicalHeaderKey(APIKeyHeader)

// APIKeyIdentity is who a verified API key speaks for: key id and name, app,
// tenant, deployment, permissions and metadata. Treat its slices and maps as
// read-only; they are shared between requests.
type APIKeyIdentity = apikey.Identity

// KeyVerifier verifies the key a request presents, for RequireAPIKey. Two
// implement it: *apikey.Verifier, against the local key store (what
// RequireAPIKey builds from APIKeyConfig.Config), and *gateway.Verifier of
// package middleware/wacht/gateway, through Wacht's POST /v1/authz/check (or
// keyportal serve's). Either way the guard puts the same identity in the
// context and answers 401, 403 and 429 alike.
//
// VerifyRequest returns the key's identity when it is valid and holds every
// permission in req.Required; refusals are the *apikey.Rejection values
// (apikey.ErrPermissionDenied with the identity), and any other error means
// no verdict (503, fail closed). A verdict with RetryAfter set is answered
// 429. A KeyVerifier that is an io.Closer is closed by APIKeyAuth.Close.
type KeyVerifier interface {
	VerifyRequest(ctx context.Context, req apikey.Request) (apikey.Verdict, error)
}

// APIKeyConfig configures RequireAPIKey: how keys are verified (the embedded
// apikey.Config, or Verifier) and what the Gin guard adds. The zero value of
// every optional field means its default.
type APIKeyConfig struct {
	// Verifier verifies keys instead of a verifier built from Config. Set it
	// to a *gateway.Verifier (package middleware/wacht/gateway) in Wacht
	// mode, where keys are made in Wacht's hosted page and checked by
	// Wacht's /v1/authz/check; it caches an allowed verdict for at most
	// gateway.Config.CacheTTL (default 5 s), so a revoked key is refused
	// within that bound. Config's verification fields (Keys, Changes,
	// Tenants, TouchInterval, CacheSize) are then ignored, Logger still gets
	// the guard's refusals, and RateLimits must be empty: the gateway counts
	// its own limits and its answer gives the RateLimit headers and 429s.
	// Nil means: verify against Config.Keys.
	Verifier KeyVerifier
	// Config is the verification when Verifier is nil: Keys (a
	// keystore.Store; required),
	// Changes, Tenants (a *policy.Engine; keys of a suspended, deleted or
	// unknown tenant get 401), Now, TouchInterval, CacheSize, CacheMaxAge
	// and Logger, each documented with its default in package apikey. The
	// guard also logs its refusals to Logger, at debug level, with the
	// reason and never the secret.
	apikey.Config
	// Permissions must all be held by the key for Handler to let a request
	// through (403 otherwise). Require takes other lists for other routes.
	// Empty means any valid key.
	Permissions []string
	// Realm is named in the WWW-Authenticate challenge. Default
	// DefaultRealm.
	Realm string
	// RateLimits are counted for every request whose key verified, each in
	// its scope (the key's id, its app, the client IP, which follows the
	// engine's trusted proxies: see ratelimit.ScopeIP). Over any of them the
	// request gets 429 with Retry-After. Every answer of a guarded route
	// carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset of
	// the rule closest to refusing. Empty means no limits besides the
	// app's: a key's app's rate-limit scheme (rate_limit_scheme_slug) and
	// its own rate_limits are counted too, after these (see
	// ratelimit.SchemeRule), and a change to them applies from the next
	// request.
	RateLimits []ratelimit.Rule
	// Limiter counts RateLimits and the apps' rules. Nil means an
	// in-process ratelimit.NewMemory(Now); use a ratelimit/redis Limiter to
	// share counts between instances. When the limiter fails (Redis down) the
	// request is let through without RateLimit headers and the error is
	// logged: rate limits guard capacity, not access, which the key already
	// decided.
	Limiter ratelimit.Limiter
	// AccessLog records every decision of the guard, allowed or blocked,
	// in the verification log (audit.Access: the portal's Overview and
	// Access Logs, the backend API's /audit/logs, /audit/analytics and
	// /audit/timeseries), off the request path: a request never waits
	// for it. Nil means: when Config.Keys is an audit.AccessWriter (both
	// keystore drivers are), an accesslog.Recorder writing to it, started
	// here and flushed by Close; otherwise (with Verifier, for one: Wacht
	// records its own) none. audit.DiscardAccess turns recording off.
	AccessLog audit.AccessRecorder
	// Metrics, when set, receives the counters of the recorder built for
	// a nil AccessLog (keyportal_access_events_written_total and
	// keyportal_access_events_shed_total). Nil exports none.
	Metrics prometheus.Registerer
}

// APIKeyAuth guards routes of the app's public API with API keys. Build it
// with RequireAPIKey, put Handler (or Require) in front of routes, and Close
// it at shutdown to write the last batch of last_used_at.
type APIKeyAuth struct {
	v           *apikey.Verifier // the local verifier; nil with a KeyVerifier
	kv          KeyVerifier      // APIKeyConfig.Verifier, or nil
	log         zerolog.Logger
	required    []string
	challenge   []string // WWW-Authenticate without error: no key presented
	invalid     []string // WWW-Authenticate with error="invalid_token"
	realmQuoted string
	limits      *ratelimit.Limits // APIKeyConfig.RateLimits
	limiter     ratelimit.Limiter
	// limiterLogged lets a limiter failure log once a second during an
	// outage, not once per request.
	limiterLogged logthrottle.Second
	// access records decisions (nil: none); ownAccess is the recorder
	// RequireAPIKey built, which Close closes.
	access    audit.AccessRecorder
	ownAccess *accesslog.Recorder
	// clock is apikey.Config.Now, the time of recorded decisions; nil
	// means the guard's own reading of time.Now.
	clock func() time.Time
}

// apiKeyContextKey is the key of the identity in a gin.Context.
type apiKeyContextKey struct{}

// Response pieces, built once: a refusal allocates nothing.
var (
	apiKeyJSONType    = []string{"application/json; charset=utf-8"}
	apiKeyRetryAfter  = []string{"1"}
	apiKeyUnavailable = apiKeyErrorBody("API key verification is unavailable, try again", "unavailable")
	// apiKeyRefusals holds the answer to each refusal, found by pointer
	// (a few comparisons beat hashing on this path).
	apiKeyRefusals = func() []apiKeyRefusal {
		var out []apiKeyRefusal
		for _, r := range []*apikey.Rejection{
			apikey.ErrMalformed, apikey.ErrUnknown, apikey.ErrMissing, apikey.ErrRevoked,
			apikey.ErrExpired, apikey.ErrAppInactive, apikey.ErrTenantInactive, apikey.ErrPermissionDenied,
		} {
			out = append(out, apiKeyRefusal{r, apiKeyErrorBody(r.Error(), string(r.Reason))})
		}
		return out
	}()
)

type apiKeyRefusal struct {
	rej  *apikey.Rejection
	body []byte
}

func apiKeyErrorBody(msg, reason string) []byte {
	b, _ := json.Marshal(struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}{msg, reason})
	return b
}

// RequireAPIKey checks cfg and returns the guard. Misconfiguration fails here
// with a "middleware: ..." error.
//
// A request passes when it carries a valid key, as "Authorization: Bearer
// <secret>" or "X-API-Key: <secret>", holding every required permission;
// the handler then finds the key's identity with APIKeyFrom. Otherwise it is
// answered with a JSON error {"error", "reason"} and:
//
//   - 401 and a WWW-Authenticate challenge (error="invalid_token" unless no
//     key was presented) for a missing, malformed, unknown, revoked,
//     rotated-past-grace or expired key, a key of a disabled or deleted app,
//     or of a suspended, deleted or unknown tenant;
//   - 403 (error="insufficient_scope") for a valid key without a required
//     permission;
//   - 429 with Retry-After when a valid key is over one of RateLimits;
//   - 503 when the key store cannot answer (fail closed), or, with
//     APIKeyConfig.Verifier, when the gateway gives no verdict (unreachable,
//     or it refused the backend API key).
//
// Revocation, rotation past grace and app changes made through this
// process's store take effect on the very next request; those made by
// another process (the CLI, another instance) once the store's change feed
// delivers them (Postgres: milliseconds; SQLite: within its PollInterval,
// 100 ms), and never later than CacheMaxAge (30 s) even if the feed missed
// them. Tenant status is checked on every request. See package apikey.
// Through Wacht's gateway (APIKeyConfig.Verifier) every change takes effect
// within gateway.Config.CacheTTL, 5 s by default.
func RequireAPIKey(cfg APIKeyConfig) (*APIKeyAuth, error) {
	cfg.Logger = logx.Or(cfg.Logger, "apikey") // the guard's and the verifier's
	realm := cfg.Realm
	if realm == "" {
		realm = DefaultRealm
	}
	if !isChallengeToken(realm) {
		return nil, fmt.Errorf("middleware: APIKeyConfig.Realm %q must be printable ASCII without quotes or backslashes", realm)
	}
	if err := checkPermissions(cfg.Permissions); err != nil {
		return nil, err
	}
	for i, r := range cfg.RateLimits {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("middleware: APIKeyConfig.RateLimits[%d]: %w", i, err)
		}
	}
	var v *apikey.Verifier
	if cfg.Verifier != nil {
		if len(cfg.RateLimits) > 0 || cfg.Limiter != nil {
			return nil, fmt.Errorf("middleware: APIKeyConfig.RateLimits and Limiter must be empty with a Verifier: its gateway counts the limits")
		}
	} else {
		var err error
		if v, err = apikey.New(cfg.Config); err != nil {
			return nil, fmt.Errorf("middleware: %w", err)
		}
	}
	limiter := cfg.Limiter
	if limiter == nil && v != nil { // apps' schemes may need it at any time
		limiter = ratelimit.NewMemory(cfg.Now)
	}
	access, ownAccess := cfg.AccessLog, (*accesslog.Recorder)(nil)
	if access == audit.DiscardAccess {
		access = nil
	} else if w, ok := cfg.Keys.(audit.AccessWriter); ok && access == nil && cfg.Verifier == nil {
		rec, err := accesslog.New(w, accesslog.Config{Metrics: cfg.Metrics, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("middleware: %w", err)
		}
		access, ownAccess = rec, rec
	}
	q := `realm="` + realm + `"`
	return &APIKeyAuth{
		access:      access,
		ownAccess:   ownAccess,
		clock:       cfg.Now,
		v:           v,
		kv:          cfg.Verifier,
		log:         cfg.Logger,
		required:    append([]string(nil), cfg.Permissions...),
		challenge:   []string{"Bearer " + q},
		invalid:     []string{"Bearer " + q + `, error="invalid_token"`},
		realmQuoted: q,
		limits:      ratelimit.Static(cfg.RateLimits),
		limiter:     limiter,
	}, nil
}

func checkPermissions(perms []string) error {
	for _, p := range perms {
		if p == "" || strings.ContainsAny(p, " \"\\") || !isChallengeToken(p) {
			return fmt.Errorf("middleware: permission %q must be non-empty printable ASCII without spaces, quotes or backslashes", p)
		}
	}
	return nil
}

// isChallengeToken reports whether s can sit inside a quoted-string of a
// WWW-Authenticate header as is.
func isChallengeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Handler returns the middleware requiring APIKeyConfig.Permissions.
func (a *APIKeyAuth) Handler() gin.HandlerFunc { return a.handler(a.required) }

// Require returns the middleware requiring a valid key holding every one of
// perms (none: any valid key), sharing this guard's cache and last_used_at
// batches. Invalid permission names make every request fail with 403 and
// are logged; check them with RequireAPIKey's Permissions where possible.
func (a *APIKeyAuth) Require(perms ...string) gin.HandlerFunc {
	if err := checkPermissions(perms); err != nil {
		a.log.Error().Err(err).Msg("middleware: Require: bad permission name; every request will be refused")
		insufficient := []string{"Bearer " + a.realmQuoted + `, error="insufficient_scope"`}
		return func(c *gin.Context) { a.refuse(c, apikey.ErrPermissionDenied, insufficient) }
	}
	return a.handler(append([]string(nil), perms...))
}

// Verifier returns the local verifier behind the guard, to share it with
// another user of the same store (such as the backend API's
// /v1/authz/check); nil when APIKeyConfig.Verifier was set.
func (a *APIKeyAuth) Verifier() *apikey.Verifier { return a.v }

// Flush writes the pending last_used_at updates now (none with
// APIKeyConfig.Verifier: the gateway records uses), and the buffered
// verification events of the recorder RequireAPIKey built.
func (a *APIKeyAuth) Flush(ctx context.Context) error {
	if a.ownAccess != nil {
		if err := a.ownAccess.Flush(ctx); err != nil {
			return err
		}
	}
	if a.v == nil {
		return nil
	}
	return a.v.Flush(ctx)
}

// Close stops the background writer after writing the last batch of
// last_used_at updates, or closes APIKeyConfig.Verifier if it is an
// io.Closer; and stops the verification recorder RequireAPIKey built after
// writing what it buffered (waiting at most accessCloseTimeout). Requests
// must not reach the guard after Close.
func (a *APIKeyAuth) Close() error {
	if a.ownAccess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), accessCloseTimeout)
		err := a.ownAccess.Close(ctx)
		cancel()
		if err != nil {
			a.log.Error().Err(err).Msg("middleware: the verification log was not written to its end")
		}
	}
	if a.v != nil {
		return a.v.Close()
	}
	if c, ok := a.kv.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// guarded is one request through the guard: its context, when it began
// (zero without an access log) and its client address, resolved at most
// once for whichever of the rate limit, the remote verifier and the access
// event needs it.
type guarded struct {
	c     *gin.Context
	start time.Time
	ip    string
}

// clientIP is the request's client address (clientip.Of), resolved on first
// use.
func (g *guarded) clientIP(log *zerolog.Logger) string {
	if g.ip == "" {
		g.ip = clientip.Of(g.c, log)
	}
	return g.ip
}

// begin starts a guarded request and returns the key it presents. Without a
// well-formed key it has answered 401, recorded the refusal and returns
// false.
func (a *APIKeyAuth) begin(c *gin.Context) (g guarded, secret string, ok bool) {
	g.c = c
	if a.access != nil {
		g.start = time.Now()
	}
	if secret, ok = credential(c.Request.Header); !ok {
		a.refuse(c, apikey.ErrMalformed, nil)
		a.recordAccess(&g, nil, apikey.ErrMalformed, "")
	}
	return g, secret, ok
}

// verifyTime is the clock reading the verifier may use instead of reading
// its own: start, when both are time.Now (no apikey.Config.Now); the zero
// time (read your clock) otherwise, or when begin read none.
func (a *APIKeyAuth) verifyTime(start time.Time) time.Time {
	if a.clock != nil {
		return time.Time{}
	}
	return start
}

func (a *APIKeyAuth) handler(required []string) gin.HandlerFunc {
	insufficient := []string{"Bearer " + a.realmQuoted + `, error="insufficient_scope"`}
	if len(required) > 0 {
		insufficient[0] += `, scope="` + strings.Join(required, " ") + `"`
	}
	if a.kv != nil {
		return a.remoteHandler(required, insufficient)
	}
	return func(c *gin.Context) {
		g, secret, ok := a.begin(c)
		if !ok {
			return
		}
		id, err := a.v.VerifyAt(c.Request.Context(), secret, required, a.verifyTime(g.start))
		if err != nil {
			a.refuse(c, err, insufficient)
			a.recordAccess(&g, id, err, "")
			return
		}
		if a.limits.Len() > 0 || id.RateLimits().Len() > 0 {
			if ok, rule := a.rateLimit(&g, id); !ok {
				a.recordAccess(&g, id, nil, rule)
				return
			}
		}
		a.recordAccess(&g, id, nil, "")
		c.Set(apiKeyContextKey{}, id)
		c.Next()
	}
}

var apiKeyRateLimited = apiKeyErrorBody("rate limit exceeded, retry later", "rate_limited")

// rateLimit counts the request against every rule that applies to its
// path (APIKeyConfig.RateLimits, then the key's app's), sets the RateLimit
// headers (ratelimit.Decision.Shown), and answers 429 when one refuses.
// It reports whether the request may go on, and else the name of the rule
// that refused (ratelimit.Decision.Rule).
func (a *APIKeyAuth) rateLimit(g *guarded, id *apikey.Identity) (bool, string) {
	c, app := g.c, id.RateLimits()
	s := ratelimit.Subject{KeyID: id.KeyID, DeploymentID: id.DeploymentID, AppSlug: id.AppSlug, Path: c.Request.URL.Path}
	if a.limits.NeedsIP() || app.NeedsIP() {
		s.ClientIP = g.clientIP(&a.log)
	}
	d, err := ratelimit.Decide(c.Request.Context(), a.limiter, s, a.limits, app)
	if err != nil {
		// Fail open: see APIKeyConfig.Limiter.
		if a.limiterLogged.Allow() {
			a.log.Warn().Err(err).Msg("rate limiter unavailable; requests let through without limits")
		}
		return true, ""
	}
	if len(d.Counted) == 0 {
		return true, "" // no rule applies to this path
	}
	h := c.Writer.Header()
	h["Ratelimit-Limit"] = []string{strconv.Itoa(d.Shown.Limit)}
	h["Ratelimit-Remaining"] = []string{strconv.Itoa(d.Shown.Remaining)}
	h["Ratelimit-Reset"] = []string{strconv.FormatInt(ratelimit.CeilSeconds(d.Shown.Reset), 10)}
	if d.Allowed {
		return true, ""
	}
	a.tooMany(c, id, d)
	return false, d.Rule
}

// tooMany answers 429 with Retry-After for a key over a rate limit; d.Rule
// names the rule that blocked it.
func (a *APIKeyAuth) tooMany(c *gin.Context, id *apikey.Identity, d ratelimit.Decision) {
	h := c.Writer.Header()
	h["Retry-After"] = []string{strconv.FormatInt(ratelimit.CeilSeconds(d.Shown.RetryAfter), 10)}
	h["Content-Type"] = apiKeyJSONType
	if e := a.log.Debug(); e.Enabled() {
		e.Str("reason", "rate_limited").Str("rule", d.Rule).Int("status", http.StatusTooManyRequests).
			Str("key_id", id.KeyID).Str("app", id.AppSlug).
			Str("method", c.Request.Method).Str("path", c.Request.URL.Path).
			Str("client_ip", clientip.Of(c, &a.log)).Msg("api key rate limited")
	}
	c.Writer.WriteHeader(http.StatusTooManyRequests)
	_, _ = c.Writer.Write(apiKeyRateLimited)
	c.Abort()
}

// refuse answers a refused request without allocating.
func (a *APIKeyAuth) refuse(c *gin.Context, err error, insufficient []string) {
	// No Cache-Control: 401, 403 and 503 are not cacheable by default.
	h := c.Writer.Header()
	h["Content-Type"] = apiKeyJSONType
	status, body, reason := http.StatusServiceUnavailable, apiKeyUnavailable, apikey.Reason("unavailable")
	if rej, ok := err.(*apikey.Rejection); ok {
		for i := range apiKeyRefusals {
			if apiKeyRefusals[i].rej == rej {
				body, reason = apiKeyRefusals[i].body, rej.Reason
				break
			}
		}
		switch {
		case rej == apikey.ErrMissing:
			status = http.StatusUnauthorized
			h["Www-Authenticate"] = a.challenge
		case rej == apikey.ErrPermissionDenied:
			status = http.StatusForbidden
			h["Www-Authenticate"] = insufficient
		default:
			status = http.StatusUnauthorized
			h["Www-Authenticate"] = a.invalid
		}
	} else {
		h["Retry-After"] = apiKeyRetryAfter
	}
	if e := a.log.Debug(); e.Enabled() {
		e.Str("reason", string(reason)).Int("status", status).
			Str("method", c.Request.Method).Str("path", c.Request.URL.Path).
			Str("client_ip", clientip.Of(c, &a.log)).Msg("api key refused")
	}
	c.Writer.WriteHeader(status)
	_, _ = c.Writer.Write(body)
	c.Abort()
}

// credential returns the key a request presents: the Bearer token of
// Authorization, or X-API-Key. ok is false when the request is ambiguous
// (repeated headers, or two different keys); an empty secret means none.
func credential(h http.Header) (secret string, ok bool) {
	var bearer string
	switch auth := h["Authorization"]; len(auth) {
	case 0:
	case 1:
		const scheme = "Bearer "
		v := auth[0]
		if len(v) >= len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) {
			bearer = strings.TrimLeft(v[len(scheme):], " ")
			if bearer == "" {
				return "", false
			}
		}
		// Another scheme (Basic for a proxy, say) is not ours to judge.
	default:
		return "", false
	}
	switch x := h[apiKeyHeaderKey]; len(x) {
	case 0:
		return bearer, true
	case 1:
		if bearer != "" && bearer != x[0] {
			return "", false
		}
		if x[0] == "" {
			return "", false
		}
		return x[0], true
	default:
		return "", false
	}
}

// APIKeyFrom returns the identity of the API key that RequireAPIKey verified
// for this request, and false when no such guard ran before the handler.
func APIKeyFrom(c *gin.Context) (APIKeyIdentity, bool) {
	v, ok := c.Get(apiKeyContextKey{})
	if !ok {
		return APIKeyIdentity{}, false
	}
	id, ok := v.(*apikey.Identity)
	if !ok || id == nil {
		return APIKeyIdentity{}, false
	}
	return *id, true
}
