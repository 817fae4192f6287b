package portal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/ginroute"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/internal/msgtable"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// Defaults for the zero values of Config.
const (
	// DefaultSessionTTL is how long a page session lasts.
	DefaultSessionTTL = 15 * time.Minute
	// DefaultChangeRate is how many key changes a minute a user may make
	// in one app (Config.ChangeRate).
	DefaultChangeRate = 30
	// DefaultChangeBurst is how many key changes a user may make at once
	// (Config.ChangeBurst).
	DefaultChangeBurst = 10
)

// NoChangeLimit, as Config.ChangeRate, lifts the limit on key changes (for
// load tests; any negative value does).
const NoChangeLimit = -1

// PagePath is where the portal page is served (Wacht's path, so the URL of
// either mode looks alike). The page's script, stylesheet, ticket exchange and
// JSON API live under it.
const PagePath = "/vanity/api-auth"

// Config configures a Portal. The zero value of every optional field means its
// default.
type Config struct {
	// Store keeps apps, keys, the audit trail, used tickets and the sealing
	// keys. Required. When it also has a method
	// AppRateLimits(ctx context.Context, appSlug string) ([]ratelimit.Rule, error),
	// the Overview tab lists the rules it answers for the session's app.
	Store keystore.Store
	// Access reads the recorded API-key verifications shown by the page's
	// Overview and Access Logs tabs. Nil means the Store, when it implements
	// audit.AccessReader; when neither does, both tabs say that usage is not
	// recorded. A cursor it cannot read should be an error wrapping
	// keystore.ErrInvalid (the page's API answers 400).
	Access audit.AccessReader
	// BaseURL is the portal's public origin, plus the path of the group it is
	// mounted on if any, e.g. "http://localhost:8081". Ticket URLs are
	// BaseURL + "/vanity/api-auth?ticket=…". Required: an absolute http(s) URL
	// without query or fragment.
	BaseURL string
	// SessionTTL is how long a page session lasts after an exchange; at its
	// end the page posts keyportal:session_expired (reason "ttl").
	// Default DefaultSessionTTL.
	SessionTTL time.Duration
	// MaxTicketTTL clamps the TTL a ticket request asks for (a request
	// that asks for none gets ticket.DefaultTTL). Zero means ticket.MaxTTL.
	MaxTicketTTL time.Duration
	// ChangeRate is how many key changes (create, rotate, revoke) a minute
	// each user may make through the page in one app, refilled
	// continuously; beyond it the JSON API answers 429 with Retry-After
	// and a message the page shows. A change counts when it reaches the
	// store, whatever the store answers; one refused for its input does
	// not. All of a user's page sessions of the
	// app (renewals, other tabs) share one count, so a new session does
	// not refill it; other users and apps are not affected. Counted in
	// process: N portal instances admit up to N times the rate. Zero means
	// DefaultChangeRate; NoChangeLimit (any negative value) lifts the
	// limit.
	ChangeRate float64
	// ChangeBurst is how many key changes a user may make at once before
	// ChangeRate applies. Zero means DefaultChangeBurst.
	ChangeBurst int
	// Messages are the page's texts for every app (EnglishMessages where
	// empty); an app's own, keystore.App.Messages, come first. New refuses
	// a table ParseMessages would refuse.
	Messages Messages
	// Logger receives one line per exchange, rejection and expired session,
	// with ticket fingerprints only, and (at most one a second) a line
	// when a user is over ChangeRate. The zero Logger means JSON lines at
	// info level on os.Stderr; zerolog.Nop() silences it.
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now. Tests inject one to move time.
	Now func() time.Time
	// Metrics, when set, receives keyportal_exchange_refusals_total: the
	// exchanges refused before the requester is known (cross-site, foreign
	// Origin, forged or expired ticket), which are counted instead of
	// audited. Nil counts nothing (such refusals are then only logged,
	// rate-limited per IP).
	Metrics prometheus.Registerer
	// Decider, when set, is asked again on every exchange (renewals
	// included) and every API call whether the session's user may still act:
	// the same policy.Request the ticket route decided (user, tenant, and
	// the object and action the route sealed into the ticket). A ticket
	// from the backend API carries no object or action; for it only the
	// tenant's status is checked, when Decider is also a
	// policy.TenantStatuser (a *policy.Engine is). A refusal ends the
	// session at once: the exchange answers 403 and the API 401, both with
	// code "revoked", and the page posts keyportal:session_expired with
	// reason "revoked". A decider error answers 503 and ends nothing. Pass
	// the route's own Decider. nil means no re-check: a session lasts its
	// SessionTTL whatever the policy says meanwhile.
	Decider policy.Decider
	// NoProvision turns off provisioning: a ticket for an app slug that has
	// no app is then refused (ticket.ErrRejected; the ticket route answers
	// 403, reason issuer_rejected), and apps are created by hand (keyportal
	// apps create, the backend API). By default (false) the local issuer
	// creates the app on the first ticket the ticket route has authorized
	// for it (see Portal.Issuer), so that the policy is the one source of
	// truth for which tenant owns a resource.
	NoProvision bool
	// NewApp names an app the issuer provisions: it gets the ticket request
	// the route authorized and returns the app's Name and KeyPrefix, and may
	// set Description, Permissions, Resources and RateLimitSchemeSlug. Slug,
	// DeploymentID, Tenant and AllowedOrigins always come from the request,
	// whatever NewApp returns. Nil, or an empty Name or KeyPrefix, means the
	// defaults: "API keys for <object>" and the tenant in the characters a
	// key prefix allows (see DefaultKeyPrefix).
	NewApp func(req ticket.Request) keystore.App
}

// Portal is the self-hosted key portal. It is safe for concurrent use.
type Portal struct {
	store      keystore.Store
	baseURL    string
	origin     string // of baseURL: the only Origin the exchange accepts
	sessionTTL time.Duration
	maxTTL     time.Duration
	log        zerolog.Logger
	now        func() time.Time
	decider    policy.Decider        // nil: no re-check
	access     audit.AccessReader    // nil: usage is not recorded
	rateLimits appRateLimits         // nil: the store lists no rules
	tenants    policy.TenantStatuser // the decider's, for tickets without an object
	provision  bool                  // create an app on an authorized first ticket
	newApp     func(ticket.Request) keystore.App

	tickets  *sealer
	sessions *sealer
	issuer   *localIssuer
	apps     *appCache // for the issuer and the page only
	changes  changeLimit
	refusals refusals
	messages Messages // Config.Messages filled with English
}

// New checks cfg and returns a Portal. Misconfiguration fails here with a
// "portal: ..." error.
func New(cfg Config) (*Portal, error) {
	if cfg.Store == nil {
		return nil, errors.New("portal: Config.Store is required")
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.SessionTTL < 0 || cfg.MaxTicketTTL < 0 {
		return nil, errors.New("portal: SessionTTL and MaxTicketTTL must not be negative")
	}
	if err := msgtable.Check(cfg.Messages); err != nil {
		return nil, fmt.Errorf("portal: Config.Messages: %w", err)
	}
	cfg.Logger = logx.Or(cfg.Logger, "portal")
	changes, err := newChangeLimit(cfg.ChangeRate, cfg.ChangeBurst, cfg.Logger)
	if err != nil {
		return nil, err
	}
	p := &Portal{
		store:      cfg.Store,
		baseURL:    base,
		origin:     baseOrigin(base),
		sessionTTL: cmp.Or(cfg.SessionTTL, DefaultSessionTTL),
		maxTTL:     cmp.Or(cfg.MaxTicketTTL, ticket.MaxTTL),
		log:        cfg.Logger,
		now:        cfg.Now,
		tickets:    newSealer(cfg.Store, ticketKeyName, ticketPrefix),
		sessions:   newSealer(cfg.Store, sessionKeyName, sessionPrefix),
		changes:    changes,
		messages:   msgtable.Fill(cfg.Messages, EnglishMessages()),
		provision:  !cfg.NoProvision,
		newApp:     cfg.NewApp,
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.refusals, err = newRefusals(cfg.Metrics); err != nil {
		return nil, err
	}
	if cfg.Decider != nil {
		p.decider = cfg.Decider
		p.tenants, _ = cfg.Decider.(policy.TenantStatuser)
	}
	p.access = cfg.Access
	if p.access == nil {
		p.access, _ = cfg.Store.(audit.AccessReader)
	}
	p.rateLimits, _ = cfg.Store.(appRateLimits)
	p.issuer = &localIssuer{p: p}
	p.apps = newAppCache(cfg.Store, p.now)
	return p, nil
}

func parseBaseURL(s string) (string, error) {
	if s == "" {
		return "", errors.New("portal: Config.BaseURL is required (the portal's public origin, e.g. http://localhost:8081)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("portal: Config.BaseURL: " + err.Error())
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", errors.New("portal: Config.BaseURL must be an absolute http or https URL, got " + s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("portal: Config.BaseURL must not have user info, a query or a fragment, got " + s)
	}
	return strings.TrimRight(u.Scheme+"://"+strings.ToLower(u.Host)+u.EscapedPath(), "/"), nil
}

// Issuer returns the local ticket issuer, for the ticket route
// (middleware.NewTicketRoute) and the Wacht-compatible backend API.
//
// Unless Config.NoProvision is set, the issuer creates the app on the first
// ticket the route has authorized for an app slug that has none: slug
// req.AppSlug, deployment req.Resource, tenant req.Tenant (the tenant the
// policy said owns the resource), AllowedOrigins the embedder origin the
// route verified, name and key prefix from Config.NewApp. Only a request
// that carries the policy object and action the route decided (every
// ticket the route asks for, never one from the backend API) provisions.
// An existing app is never changed: one of another tenant, disabled or
// deleted refuses the ticket, and so does one whose AllowedOrigins lack the
// embedder origin (add it with keyportal apps update). Instances sharing a
// store race safely: the store inserts an app only if its slug is free, and
// the loser reads the winner's app and checks it like any other.
//
// The origin a provisioned app gets is the one the route verified: name
// your app's origins in middleware.Config.AllowedOrigins in production.
// Without that list the route accepts the request's own origin, which it
// reads from the Host header, and a client that is not a browser chooses
// that header.
func (p *Portal) Issuer() ticket.Issuer { return p.issuer }

// Mount registers the page, its assets, the ticket exchange and the JSON API
// on r (an engine or a group; the paths start with PagePath).
//
// The page's URL carries the ticket in its query string until the page
// strips it: an access log in front of the portal must not log the query of
// PagePath (log c.FullPath() or the path only).
//
// A route r already has comes back as an error wrapping ticket.ErrMount.
func (p *Portal) Mount(r gin.IRoutes) error {
	route := func(method, path string, h gin.HandlerFunc) ginroute.Route {
		return ginroute.Route{Method: method, Path: path, Handlers: []gin.HandlerFunc{h}}
	}
	api := PagePath + "/api"
	return ginroute.Register(r, "portal",
		route("GET", PagePath, p.servePage),
		route("GET", PagePath+"/portal.js", serveAsset(jsAsset)),
		route("GET", PagePath+"/portal.css", serveAsset(cssAsset)),
		route("POST", PagePath+"/exchange", p.exchange),
		route("GET", api+"/session", p.withSession(p.apiSession)),
		route("GET", api+"/keys", p.withSession(p.apiListKeys)),
		route("POST", api+"/keys", p.withSession(p.apiCreateKey)),
		route("POST", api+"/keys/:id/rotate", p.withSession(p.apiRotateKey)),
		route("POST", api+"/keys/:id/revoke", p.withSession(p.apiRevokeKey)),
		route("GET", api+"/activity", p.withSession(p.apiActivity)),
		route("GET", api+"/overview", p.withSession(p.apiOverview)),
		route("GET", api+"/access", p.withSession(p.apiAccess)),
	)
}

// record writes an audit event to the store and a log line. It returns the
// store's error so that success paths can fail closed.
func (p *Portal) record(ctx context.Context, e audit.Event) error {
	if e.Time.IsZero() {
		e.Time = p.now()
	}
	err := p.store.Record(ctx, e)
	lvl := zerolog.InfoLevel
	if e.Outcome != audit.OutcomeSuccess {
		lvl = zerolog.WarnLevel
	}
	ev := p.log.WithLevel(lvl).
		Str("action", e.Action).
		Str("outcome", e.Outcome).
		Str("actor", e.Actor).
		Str("tenant", e.Tenant).
		Str("app", e.AppSlug)
	if e.Reason != "" {
		ev = ev.Str("reason", e.Reason)
	}
	if e.TicketFingerprint != "" {
		ev = ev.Str("ticket_fp", e.TicketFingerprint)
	}
	if e.RequestID != "" {
		ev = ev.Str("request_id", e.RequestID)
	}
	if e.ClientIP != "" {
		ev = ev.Str("client_ip", e.ClientIP)
	}
	if err != nil {
		ev = ev.AnErr("audit_error", err)
	}
	ev.Msg("portal " + e.Action)
	return err
}
