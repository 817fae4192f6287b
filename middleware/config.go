package middleware

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// Defaults of Config, used for zero fields. The route's path, body field
// and ticket lifetimes are the ticket package's (ticket.DefaultPath,
// DefaultField, DefaultTTL, MinTTL, MaxTTL), shared with the shell.
const (
	DefaultAction       = "api_keys:manage"
	DefaultRateLimit    = 10 // tickets a minute per user
	DefaultRateBurst    = 5
	DefaultIssueTimeout = 5 * time.Second
)

// NoRateLimit, as Config.RateLimit, lifts the per-user rate limit (for load
// tests, or when a gateway in front already limits). Any negative value does.
const NoRateLimit = -1

// MaxBodyBytes is the largest request body the ticket route reads; a larger
// one is answered 413.
const MaxBodyBytes = 4 << 10

// Config configures the ticket route. Identify, Decider and Issuer are
// required; every other zero field means its default.
type Config struct {
	// Identify returns the signed-in user and the tenant they act in, from
	// the app's own session. An error, or a Principal with an empty Subject,
	// is answered 401. Required.
	Identify func(c *gin.Context) (Principal, error)

	// Decider decides whether the user may act on the resource; it checks
	// tenant status, role and ownership and says why it refused (the reason
	// goes to the audit event, the client only sees 403). An error is
	// answered 503. Required.
	Decider policy.Decider

	// Issuer issues the ticket once every check passed: the self-hosted
	// portal's local issuer or Wacht's client. Required.
	Issuer ticket.Issuer

	// Logger receives one audit event per attempt that got past Identify
	// (event=ticket.issue) and the errors behind 5xx answers; a refusal
	// before it (content type, size, body, origin, Identify), which anyone
	// can send, is logged at most a few times a minute per client IP.
	// Audit events are written at info level and never sampled: the route
	// drops any sampler and, on its own copy, lowers a level above info to
	// info; only a disabled logger
	// (zerolog.Nop()) or zerolog's global level silences them. The zero
	// Logger means JSON lines with timestamps at info level on os.Stderr.
	//
	// zerolog writes each event with one Write to its writer, so a log file
	// costs one write(2) per attempt. A Logger on a BufferedLog batches them,
	// at a durability bound: a line reaches the file at most the log's
	// interval (DefaultFlushInterval, 100 ms) after the attempt, a graceful
	// shutdown that calls BufferedLog.Close loses none, a crash loses at
	// most the last interval's lines, and a failed write is reported (see
	// BufferedLog). The Auditor, when set, is not buffered.
	Logger zerolog.Logger

	// Auditor, when set, also receives every audit event, before the answer
	// is sent (a store support and security can query). Its error fails the
	// request closed: 503, logged with the decision it replaced. nil means
	// the log only.
	Auditor audit.Auditor

	// TTL is how long an issued ticket may wait before it is exchanged.
	// Zero means ticket.DefaultTTL (120 s); a value outside ticket.MinTTL
	// to ticket.MaxTTL (30 s–600 s) is clamped into that range
	// (ticket.ClampTTL); a negative value is an error.
	TTL time.Duration

	// AppSlug maps a resource id to the API auth app whose keys the portal
	// manages. nil means "aa_" + id, the guide's naming convention.
	AppSlug func(resourceID string) string

	// Path is the route's path, checked by ticket.CheckPath. Empty means
	// ticket.DefaultPath ("/api/settings/api-keys/embed-ticket").
	Path string

	// Field is the name of the request body's one field, the resource id,
	// checked by ticket.CheckField. Empty means ticket.DefaultField
	// ("deploymentId").
	Field string

	// Object maps a resource id to the policy object. nil means
	// "deployment:" + id.
	Object func(resourceID string) string

	// Action is the policy action checked. Empty means "api_keys:manage".
	Action string

	// AllowedOrigins lists the origins (scheme://host[:port], checked and
	// serialized by ticket.ParseOrigin) whose pages may request tickets; the request's Origin header must be one of them, and
	// it becomes the ticket's embedder origin. Empty means the request's own
	// origin only (its Host, with https when the connection is TLS or
	// X-Forwarded-Proto says https, else http). Requests without an Origin
	// header are refused: browsers send one with every POST, and the ticket
	// must be bound to it.
	AllowedOrigins []string

	// RateLimit is the number of tickets a minute each user (Subject) may
	// request, refilled continuously. Zero means 10; NoRateLimit (any
	// negative value) lifts the limit, so an app whose own setting uses 0
	// for "off" maps that 0 to NoRateLimit. Only requests that passed every
	// other check take a token; a refused request costs the user nothing.
	RateLimit float64

	// RateBurst is how many tickets a user may request at once before the
	// rate applies. Zero means 5; a negative value is an error.
	RateBurst int

	// IssueTimeout bounds the Issuer's call, and the Auditor's. Zero means
	// 5 s; a negative value is an error. The Issuer runs on the request's
	// goroutine with a context that ends at this deadline, and must return
	// then (see ticket.Issuer); a call that ends with the deadline is
	// answered 503.
	IssueTimeout time.Duration

	// Metrics, when set, receives keyportal_ticket_attempts_total{outcome,
	// reason} and keyportal_ticket_duration_seconds. Registering twice on
	// one registry reuses the collectors already there. nil means none.
	Metrics prometheus.Registerer

	// Now is the clock, for tests. nil means time.Now.
	Now func() time.Time

	// RequestID returns the id correlating the audit event with the
	// request. nil means ticket.RequestID of the X-Request-Id header: the
	// header when it is a plain token of at most 128 characters, else a
	// random id.
	RequestID func(c *gin.Context) string
}

// withDefaults checks cfg and returns it with defaults filled in and
// AllowedOrigins normalized.
func (cfg Config) withDefaults() (Config, []string, error) {
	if cfg.Identify == nil {
		return cfg, nil, errors.New("middleware: Config.Identify is required")
	}
	if isNil(cfg.Decider) {
		return cfg, nil, errors.New("middleware: Config.Decider is required")
	}
	if isNil(cfg.Issuer) {
		return cfg, nil, errors.New("middleware: Config.Issuer is required")
	}
	if isNil(cfg.Auditor) {
		cfg.Auditor = nil
	}
	cfg.Logger = logx.Or(cfg.Logger, "")
	if cfg.TTL < 0 {
		return cfg, nil, fmt.Errorf("middleware: Config.TTL must not be negative, got %v", cfg.TTL)
	}
	cfg.TTL = ticket.ClampTTL(cfg.TTL)
	if cfg.AppSlug == nil {
		cfg.AppSlug = func(id string) string { return "aa_" + id }
	}
	if cfg.Path == "" {
		cfg.Path = ticket.DefaultPath
	}
	if err := ticket.CheckPath(cfg.Path); err != nil {
		return cfg, nil, fmt.Errorf("middleware: Config.Path: %w", err)
	}
	if cfg.Field == "" {
		cfg.Field = ticket.DefaultField
	}
	if err := ticket.CheckField(cfg.Field); err != nil {
		return cfg, nil, fmt.Errorf("middleware: Config.Field: %w", err)
	}
	if cfg.Object == nil {
		cfg.Object = func(id string) string { return "deployment:" + id }
	}
	if cfg.Action == "" {
		cfg.Action = DefaultAction
	}
	origins := make([]string, 0, len(cfg.AllowedOrigins))
	for _, o := range cfg.AllowedOrigins {
		n, err := ticket.ParseOrigin(o)
		if err != nil {
			return cfg, nil, fmt.Errorf("middleware: Config.AllowedOrigins: %w", err)
		}
		origins = append(origins, n)
	}
	switch {
	case math.IsNaN(cfg.RateLimit) || math.IsInf(cfg.RateLimit, 0):
		return cfg, nil, fmt.Errorf("middleware: Config.RateLimit must be a number of tickets a minute (or NoRateLimit), got %v", cfg.RateLimit)
	case cfg.RateLimit == 0:
		cfg.RateLimit = DefaultRateLimit
	case cfg.RateLimit < 0:
		cfg.RateLimit = NoRateLimit
	}
	switch {
	case cfg.RateBurst < 0:
		return cfg, nil, fmt.Errorf("middleware: Config.RateBurst must not be negative, got %d", cfg.RateBurst)
	case cfg.RateBurst == 0:
		cfg.RateBurst = DefaultRateBurst
	}
	switch {
	case cfg.IssueTimeout < 0:
		return cfg, nil, fmt.Errorf("middleware: Config.IssueTimeout must not be negative, got %v", cfg.IssueTimeout)
	case cfg.IssueTimeout == 0:
		cfg.IssueTimeout = DefaultIssueTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RequestID == nil {
		cfg.RequestID = func(c *gin.Context) string { return ticket.RequestID(c.GetHeader(ticket.RequestIDHeader)) }
	}
	return cfg, origins, nil
}

// isNil reports whether v is nil or an interface holding a nil pointer,
// func or map (a typed nil would otherwise pass the check and panic later).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Interface, reflect.Slice:
		return rv.IsNil()
	}
	return false
}
