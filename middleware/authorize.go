package middleware

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/policy"
)

// AuthorizeConfig configures an Authorize guard. Identify, Decider and
// Object are required, and one of Action or ActionFunc.
type AuthorizeConfig struct {
	// Identify returns the signed-in user and the tenant they act in. An
	// error, or an empty Subject, is answered 401 {"error":"Unauthorized"}.
	// Required.
	Identify func(c *gin.Context) (Principal, error)

	// Decider decides the request; a refusal is answered 403
	// {"error":"Forbidden"} whatever its reason, an error 503. Required.
	Decider policy.Decider

	// Object returns the policy object the request acts on, taken from the
	// request as the caller sees fit (typically a path parameter:
	// "deployment:" + c.Param("id")). An empty object is refused with 403,
	// reason "no_object". Required.
	Object func(c *gin.Context) string

	// Action is the policy action checked on every request, for a guard on
	// routes that do one thing (e.g. "audit:read").
	Action string

	// ActionFunc, when set, returns the action from the request instead of
	// Action (e.g. by method). An empty action is refused with 403, reason
	// "no_action".
	ActionFunc func(c *gin.Context) string

	// Logger receives one event per refusal or error (event=authorize) with
	// the reason the client is not told. The zero Logger means JSON lines at
	// info level on os.Stderr; zerolog.Nop() silences it.
	Logger zerolog.Logger
}

// Authorize returns a guard for any route: it identifies the user, asks the
// Decider whether they may do the action on the object in their tenant, and
// either aborts with 401/403/503 JSON or puts the Principal and the Decision
// in the context (PrincipalFrom, DecisionFrom) and calls the next handler.
func Authorize(cfg AuthorizeConfig) (gin.HandlerFunc, error) {
	switch {
	case cfg.Identify == nil:
		return nil, errors.New("middleware: AuthorizeConfig.Identify is required")
	case isNil(cfg.Decider):
		return nil, errors.New("middleware: AuthorizeConfig.Decider is required")
	case cfg.Object == nil:
		return nil, errors.New("middleware: AuthorizeConfig.Object is required")
	case cfg.Action == "" && cfg.ActionFunc == nil:
		return nil, errors.New("middleware: AuthorizeConfig needs Action or ActionFunc")
	case cfg.Action != "" && cfg.ActionFunc != nil:
		return nil, errors.New("middleware: AuthorizeConfig takes Action or ActionFunc, not both")
	}
	action := cfg.ActionFunc
	if action == nil {
		fixed := cfg.Action
		action = func(*gin.Context) string { return fixed }
	}
	log := logx.Or(cfg.Logger, "authorize")
	return func(c *gin.Context) {
		refuse := func(status int, body []byte, reason string, err error, p Principal, object, act string) {
			e := log.Info()
			if status >= 500 {
				e = log.Error()
			}
			e.Str("event", "authorize").Int("status", status).Str("reason", reason).
				Str("user", p.Subject).Str("tenant", p.Tenant).Str("object", object).Str("action", act).
				Str("path", c.FullPath()).Str("client_ip", clientip.Of(c, &log)).AnErr("error", err).Send()
			c.Data(status, jsonContentType, body)
			c.Abort()
		}
		p, err := cfg.Identify(c)
		if err != nil || p.Subject == "" {
			refuse(http.StatusUnauthorized, bodyUnauthorized, ReasonUnauthenticated, err, Principal{}, "", "")
			return
		}
		object, act := cfg.Object(c), action(c)
		switch {
		case p.Tenant == "":
			refuse(http.StatusForbidden, bodyForbidden, ReasonNoTenant, nil, p, object, act)
			return
		case object == "":
			refuse(http.StatusForbidden, bodyForbidden, "no_object", nil, p, object, act)
			return
		case act == "":
			refuse(http.StatusForbidden, bodyForbidden, "no_action", nil, p, object, act)
			return
		}
		d, err := cfg.Decider.Decide(c.Request.Context(), policy.Request{Subject: p.Subject, Tenant: p.Tenant, Object: object, Action: act})
		if err != nil {
			refuse(http.StatusServiceUnavailable, bodyServiceUnavailable, ReasonDeciderError, err, p, object, act)
			return
		}
		if !d.Allowed {
			refuse(http.StatusForbidden, bodyForbidden, string(d.Reason), nil, p, object, act)
			return
		}
		c.Set(principalKey, p)
		c.Set(decisionKey, d)
		c.Next()
	}, nil
}
