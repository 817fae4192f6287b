package wachtapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/ginroute"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/internal/jsonx"
	"github.com/keyportal/keyportal/internal/logthrottle"
	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/audit/accesslog"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// MinAPIKeyLen is the shortest backend API key New accepts.
const MinAPIKeyLen = 16

// maxBodyBytes bounds request bodies (metadata is at most 16 KiB).
const maxBodyBytes = 64 << 10

// ActorName is the actor recorded in the audit trail for changes made
// through this API, and the ticket user when a request names none.
const ActorName = "backend-api"

// Config configures the API. The zero value of every optional field means its
// default.
type Config struct {
	// Store keeps apps, keys and the audit trail. Required.
	Store keystore.Store
	// Issuer issues the portal's tickets: the self-hosted portal's local
	// issuer (portal.Portal.Issuer). Required.
	Issuer ticket.Issuer
	// APIKeys are the accepted backend API keys (several, to rotate them),
	// each at least MinAPIKeyLen characters. Required.
	APIKeys []string
	// Tenants tells whether a tenant is active. POST /session/tickets
	// refuses (403) a ticket for an app whose tenant is not; POST
	// /v1/authz/check refuses its keys, as RequireAPIKey's Tenants does
	// (there it is ignored when Verifier is set). Nil skips both checks.
	Tenants policy.TenantStatuser
	// Verifier verifies keys for POST /v1/authz/check. Nil builds one on
	// Store (closed by Close); pass middleware.APIKeyAuth.Verifier() to
	// share one cache and one last_used_at writer with the app's guard.
	Verifier *apikey.Verifier
	// DefaultTenant is the tenant of apps created without organization_id.
	// Empty makes organization_id required.
	DefaultTenant string
	// PublicCheck serves POST /v1/authz/check without the backend API key,
	// as Wacht's gateway does (its SDKs call it without one). The key being
	// checked is then the only credential. Default: the backend key is
	// required like everywhere else.
	PublicCheck bool
	// RateLimits are applied by POST /v1/authz/check to every key that is
	// otherwise allowed, each in its scope, exactly as RequireAPIKey applies
	// its own: over any of them the answer is allowed:false with reason
	// "rate_limited". Empty means no limits besides the app's: the key's
	// app's rate-limit scheme and rate_limits are counted too, after these.
	RateLimits []ratelimit.Rule
	// Limiter counts RateLimits and the apps' rules. Nil means an in-process
	// ratelimit.NewMemory(Now); use a ratelimit/redis Limiter to share
	// counts between instances. When it fails the key is allowed (fail open).
	Limiter ratelimit.Limiter
	// Logger receives one line per refused backend key and per internal
	// error, never a secret. The zero Logger means JSON lines at info level
	// on os.Stderr; zerolog.Nop() silences it.
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AccessLog records every decision of POST /v1/authz/check in the
	// verification log, off the request path. Nil means an
	// accesslog.Recorder on Store when it is an audit.AccessWriter (both
	// keystore drivers are), closed by Close; audit.DiscardAccess turns
	// recording off.
	AccessLog audit.AccessRecorder
	// Access reads the verification log for /audit/logs, /audit/analytics
	// and /audit/timeseries. Nil means Store when it is an
	// audit.AccessReader (both keystore drivers are); set it when Store is
	// a wrapper that hides the driver's methods. Without either those
	// routes answer 501.
	Access audit.AccessReader
}

// API is the Wacht-compatible backend API. It is safe for concurrent use.
type API struct {
	store         keystore.Store
	issuer        ticket.Issuer
	tenants       policy.TenantStatuser
	keyHashes     [][sha256.Size]byte
	verifier      *apikey.Verifier
	ownVerifier   bool
	defaultTenant string
	publicCheck   bool
	limits        *ratelimit.Limits
	limiter       ratelimit.Limiter
	// limiterLogged lets a limiter failure log once a second during an
	// outage, not once per check.
	limiterLogged logthrottle.Second
	log           zerolog.Logger
	now           func() time.Time
	// access records check decisions (nil: none); ownAccess is the
	// recorder New built, which Close closes.
	access    audit.AccessRecorder
	ownAccess *accesslog.Recorder
	reader    audit.AccessReader // nil: no verification log
}

// New checks cfg and returns the API. Misconfiguration fails here with a
// "backend: ..." error.
func New(cfg Config) (*API, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("backend: Config.Store is required")
	case cfg.Issuer == nil:
		return nil, errors.New("backend: Config.Issuer is required (the portal's local issuer)")
	case len(cfg.APIKeys) == 0:
		return nil, errors.New("backend: Config.APIKeys needs at least one backend API key")
	}
	cfg.Logger = logx.Or(cfg.Logger, "backend")
	a := &API{
		store:         cfg.Store,
		issuer:        cfg.Issuer,
		tenants:       cfg.Tenants,
		verifier:      cfg.Verifier,
		defaultTenant: cfg.DefaultTenant,
		publicCheck:   cfg.PublicCheck,
		log:           cfg.Logger,
		now:           cfg.Now,
	}
	for i, k := range cfg.APIKeys {
		if len(k) < MinAPIKeyLen || strings.TrimSpace(k) != k || strings.ContainsAny(k, " \t\r\n") {
			return nil, fmt.Errorf("backend: Config.APIKeys[%d] must be at least %d characters without spaces", i, MinAPIKeyLen)
		}
		a.keyHashes = append(a.keyHashes, sha256.Sum256([]byte(k)))
	}
	if a.now == nil {
		a.now = time.Now
	}
	for i, r := range cfg.RateLimits {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("backend: Config.RateLimits[%d]: %w", i, err)
		}
	}
	a.limits, a.limiter = ratelimit.Static(cfg.RateLimits), cfg.Limiter
	if a.limiter == nil {
		a.limiter = ratelimit.NewMemory(cfg.Now)
	}
	if a.reader = cfg.Access; a.reader == nil {
		a.reader, _ = cfg.Store.(audit.AccessReader)
	}
	switch w, ok := cfg.Store.(audit.AccessWriter); {
	case cfg.AccessLog == audit.DiscardAccess:
	case cfg.AccessLog != nil:
		a.access = cfg.AccessLog
	case ok:
		rec, err := accesslog.New(w, accesslog.Config{Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("backend: %w", err)
		}
		a.access, a.ownAccess = rec, rec
	}
	if a.verifier == nil {
		v, err := apikey.New(apikey.Config{Keys: cfg.Store, Tenants: cfg.Tenants, Now: cfg.Now, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("backend: %w", err)
		}
		a.verifier, a.ownVerifier = v, true
	}
	return a, nil
}

// Mount registers the routes on r (an engine or a group). It adds no
// middleware to r: each route checks the backend API key itself. A route r
// already has comes back as an error wrapping ticket.ErrMount.
func (a *API) Mount(r gin.IRoutes) error {
	auth := a.requireBackendKey
	check := route("POST", "/v1/authz/check", auth, a.check)
	if a.publicCheck {
		check = route("POST", "/v1/authz/check", a.noStore, a.check)
	}
	routes := []ginroute.Route{
		route("POST", "/session/tickets", auth, a.createTicket),
		route("GET", "/api-auth/apps", auth, a.listApps),
		route("POST", "/api-auth/apps", auth, a.createApp),
		route("GET", "/api-auth/apps/:slug", auth, a.getApp),
		route("PATCH", "/api-auth/apps/:slug", auth, a.updateApp),
		route("DELETE", "/api-auth/apps/:slug", auth, a.deleteApp),
		route("GET", "/api-auth/apps/:slug/keys", auth, a.listKeys),
		route("POST", "/api-auth/apps/:slug/keys", auth, a.createKey),
		route("POST", "/api-auth/apps/:slug/keys/:id/rotate", auth, a.rotateKey),
		route("POST", "/api-auth/apps/:slug/keys/:id/revoke", auth, a.revokeKey),
		route("GET", "/api-auth/apps/:slug/audit/logs", auth, a.accessLogs),
		route("GET", "/api-auth/apps/:slug/audit/analytics", auth, a.accessAnalytics),
		route("GET", "/api-auth/apps/:slug/audit/timeseries", auth, a.accessTimeseries),
		route("GET", "/api-auth/apps/:slug/audit/events", auth, a.auditLogs),
	}
	routes = append(routes, a.schemeRoutes(auth)...)
	return ginroute.Register(r, "wachtapi", append(routes, check)...)
}

// route is one of Mount's routes.
func route(method, path string, h ...gin.HandlerFunc) ginroute.Route {
	return ginroute.Route{Method: method, Path: path, Handlers: h}
}

// Close stops the verifier New built (not one passed in Config.Verifier),
// writing its last batch of last_used_at, and the verification recorder New
// built, writing what it buffered (waiting at most 10 s).
func (a *API) Close() error {
	if a.ownAccess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := a.ownAccess.Close(ctx)
		cancel()
		if err != nil {
			a.log.Error().Err(err).Msg("backend: the verification log was not written to its end")
		}
	}
	if a.ownVerifier {
		return a.verifier.Close()
	}
	return nil
}

func (a *API) noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
}

// requireBackendKey lets a request through when it carries one of the
// configured backend API keys. Every configured key is compared, each in
// constant time over SHA-256 digests, so the time taken says nothing about
// which key, how much of it, or how long it is.
func (a *API) requireBackendKey(c *gin.Context) {
	a.noStore(c)
	const scheme = "Bearer "
	h := c.GetHeader("Authorization")
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		a.log.Info().Str("client_ip", clientip.Of(c, &a.log)).Str("path", c.FullPath()).Msg("backend: request without a backend API key")
		c.Header("WWW-Authenticate", `Bearer realm="keyportal-backend"`)
		writeError(c, http.StatusUnauthorized, "missing backend API key (Authorization: Bearer <key>)")
		return
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(h[len(scheme):])))
	match := 0
	for i := range a.keyHashes {
		match |= subtle.ConstantTimeCompare(sum[:], a.keyHashes[i][:])
	}
	if match != 1 {
		a.log.Warn().Str("client_ip", clientip.Of(c, &a.log)).Str("path", c.FullPath()).Msg("backend: wrong backend API key")
		c.Header("WWW-Authenticate", `Bearer realm="keyportal-backend", error="invalid_token"`)
		writeError(c, http.StatusUnauthorized, "invalid backend API key")
		return
	}
	c.Next()
}

// errorItem and errorBody are Wacht's error shape.
type errorItem struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

type errorBody struct {
	Errors []errorItem `json:"errors"`
}

func writeError(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, errorBody{Errors: []errorItem{{Message: msg, Code: status}}})
}

// errText is what storeError tells the client of the errors a call expects.
type errText struct {
	// notFound is the 404 message of keystore.ErrNotFound.
	notFound string
	// inactive, when set, is the 404 message of keystore.ErrInactive (an
	// app or key already deleted, revoked or rotated); unset, that error is
	// unexpected (500).
	inactive string
	// invalid, when set, is the 400 message of keystore.ErrInvalid in place
	// of the error's own (a bad cursor or filter the store names in its
	// own words).
	invalid string
}

// Messages of the calls on one app or one key.
var (
	appErrText = errText{notFound: "API auth app not found"}
	keyErrText = errText{notFound: "API key not found"}
)

// storeError answers a keystore error: its class gives the status, and only
// validation messages (which describe the caller's input) reach the client.
func (a *API) storeError(c *gin.Context, err error, m errText) {
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		writeError(c, http.StatusNotFound, m.notFound)
	case m.inactive != "" && errors.Is(err, keystore.ErrInactive):
		writeError(c, http.StatusNotFound, m.inactive)
	case errors.Is(err, keystore.ErrConflict):
		writeError(c, http.StatusConflict, "an API auth app with this app_slug already exists")
	case m.invalid != "" && errors.Is(err, keystore.ErrInvalid):
		writeError(c, http.StatusBadRequest, m.invalid)
	case errors.Is(err, keystore.ErrInvalid):
		writeError(c, http.StatusBadRequest, clientMessage(err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(c, http.StatusServiceUnavailable, "the request was cancelled or timed out")
	default:
		a.log.Error().Err(err).Str("path", c.FullPath()).Msg("backend: key store failed")
		writeError(c, http.StatusInternalServerError, "internal error")
	}
}

// reply answers a store call: 200 with v, or err as storeError answers it
// with m.
func (a *API) reply(c *gin.Context, v any, err error, m errText) {
	if err != nil {
		a.storeError(c, err, m)
		return
	}
	c.JSON(http.StatusOK, v)
}

// clientMessage strips the package prefixes of a validation error.
func clientMessage(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, keystore.ErrInvalid.Error()+": "); i >= 0 {
		msg = msg[i+len(keystore.ErrInvalid.Error())+2:]
	}
	return msg
}

func (a *API) actor(c *gin.Context) keystore.Actor {
	return keystore.Actor{Name: ActorName, RequestID: ticket.RequestID(c.GetHeader(ticket.RequestIDHeader)), ClientIP: clientip.Of(c, &a.log)}
}

// decodeBody reads one JSON object from the request into dst
// (jsonx.ReadObject). As Wacht's API does, it accepts members it does not
// model and a request without Content-Type (server-to-server clients); an
// empty body is allowed when optional is true (dst stays as it is). On
// failure it has answered 400 (or 413, 415) and returns false.
func decodeBody(c *gin.Context, dst any, optional bool) bool {
	p := jsonx.ReadObject(c.Writer, c.Request, dst, jsonx.Options{
		MaxBytes: maxBodyBytes, AllowUnknownFields: true, AllowNoContentType: true, AllowEmpty: optional,
	})
	if p != nil {
		writeError(c, p.Status, p.Message)
		return false
	}
	return true
}

// member is a request member that must not be empty.
type member struct{ name, value string }

// required answers 400 "<name> is required" for the first empty member and
// returns false; it returns true when none is.
func required(c *gin.Context, members ...member) bool {
	for _, m := range members {
		if m.value == "" {
			writeError(c, http.StatusBadRequest, m.name+" is required")
			return false
		}
	}
	return true
}

// limitQuery parses the optional page size of a list: def when absent, else
// 1..max. On failure it has answered 400.
func limitQuery(c *gin.Context, def, max int) (int, bool) {
	v := c.Query("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		writeError(c, http.StatusBadRequest, fmt.Sprintf("limit must be 1..%d", max))
		return 0, false
	}
	return n, true
}

// boolQuery parses an optional boolean query parameter; on failure it has
// answered 400.
func boolQuery(c *gin.Context, name string) (bool, bool) {
	v := c.Query(name)
	switch strings.ToLower(v) {
	case "", "false", "0":
		return false, true
	case "true", "1":
		return true, true
	}
	writeError(c, http.StatusBadRequest, name+" must be true or false")
	return false, false
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}
