package ratelimit

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/keyportal/keyportal/internal/jsonx"
)

// Unit is the time unit of a SchemeRule's window, as Wacht names it.
type Unit string

// The units of Wacht's rules. A window of the plain units opens at a
// counter's first request; the calendar units align it on the UTC
// calendar (Rule.Calendar) and take a Duration of 1.
const (
	UnitMillisecond Unit = "millisecond"
	UnitSecond      Unit = "second"
	UnitMinute      Unit = "minute"
	UnitHour        Unit = "hour"
	UnitDay         Unit = "day"
	// UnitMonth is 30 days.
	UnitMonth Unit = "month"
	// UnitCalendarDay windows end at midnight UTC.
	UnitCalendarDay Unit = "calendar_day"
	// UnitCalendarMonth windows end at the first of the month, UTC.
	UnitCalendarMonth Unit = "calendar_month"
)

var unitLength = map[Unit]time.Duration{
	UnitMillisecond: time.Millisecond, UnitSecond: time.Second, UnitMinute: time.Minute,
	UnitHour: time.Hour, UnitDay: 24 * time.Hour, UnitMonth: 30 * 24 * time.Hour,
	UnitCalendarDay: 24 * time.Hour, UnitCalendarMonth: 31 * 24 * time.Hour,
}

var unitCalendar = map[Unit]Calendar{UnitCalendarDay: CalendarDay, UnitCalendarMonth: CalendarMonth}

// Mode says what a SchemeRule counts per, as Wacht names it.
type Mode string

// The modes of Wacht's rules, and the Scope each counts in.
const (
	ModePerKey      Mode = "per_key"        // ScopeKey; the default
	ModePerApp      Mode = "per_app"        // ScopeApp
	ModePerIP       Mode = "per_ip"         // ScopeIP
	ModePerKeyAndIP Mode = "per_key_and_ip" // ScopeKeyAndIP
	ModePerAppAndIP Mode = "per_app_and_ip" // ScopeAppAndIP
)

var modeScope = map[Mode]Scope{
	"": ScopeKey, ModePerKey: ScopeKey, ModePerApp: ScopeApp, ModePerIP: ScopeIP,
	ModePerKeyAndIP: ScopeKeyAndIP, ModePerAppAndIP: ScopeAppAndIP,
}

// Limits on a scheme's rules, enforced by ValidateRules.
const (
	// MaxSchemeRules is the most rules a scheme (or an app's rate_limits)
	// may hold.
	MaxSchemeRules = 32
	// MaxRuleEndpoints is the most endpoint patterns one rule may hold.
	MaxRuleEndpoints = 32
	// MaxEndpointLen is the longest endpoint pattern, in bytes.
	MaxEndpointLen = 256
	// MaxWindow is the longest window a rule may have (400 days).
	MaxWindow = 400 * 24 * time.Hour
)

// SchemeRule is one rule of a rate-limit scheme, or of an app's
// rate_limits, in Wacht's shape: at most MaxRequests requests per Duration
// Units, counted per Mode, on the Endpoints it names, evaluated in Priority
// order.
type SchemeRule struct {
	// Unit is the window's unit. Required.
	Unit Unit `json:"unit"`
	// Duration is how many Units the window lasts. Must be positive.
	Duration int `json:"duration"`
	// MaxRequests is how many requests a window admits. Must be positive.
	MaxRequests int `json:"max_requests"`
	// Mode is what requests are counted per. Empty means ModePerKey.
	Mode Mode `json:"mode,omitempty"`
	// Endpoints are the request paths the rule applies to: a pattern is a
	// path starting with "/", matched exactly, or, when it ends in "*", a
	// prefix (what precedes the "*"). A query string is not part of the
	// path. Empty means every path.
	Endpoints []string `json:"endpoints,omitempty"`
	// Priority orders evaluation: higher first, ties in the listed order.
	// Every rule that applies to a request counts it; when several refuse
	// it, the first in this order is the one named as blocking.
	Priority int `json:"priority,omitempty"`
}

// UnmarshalJSON decodes a rule strictly: a member that is not one of the
// rule's fields (a typo such as "endpoint") is an error, not a rule that
// silently applies everywhere. The error is a jsonx.Message fit for a
// client.
func (r *SchemeRule) UnmarshalJSON(b []byte) error {
	type plain SchemeRule
	if err := jsonx.Decode(b, (*plain)(r), false); err != nil {
		return jsonx.Message("rate-limit rule: " + jsonx.Describe(err))
	}
	return nil
}

// ValidateRules reports the first reason rules cannot be enforced, naming
// the rule by its index ("rules[1].max_requests must be positive"), or nil.
// The error wraps ErrBadRule.
func ValidateRules(field string, rules []SchemeRule) error {
	if len(rules) > MaxSchemeRules {
		return fmt.Errorf("%w: %s holds %d rules; at most %d", ErrBadRule, field, len(rules), MaxSchemeRules)
	}
	for i, r := range rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("%w: %s[%d].%v", ErrBadRule, field, i, err)
		}
	}
	return nil
}

// errField is a rule's complaint about one of its fields.
type errField struct{ field, msg string }

func (e errField) Error() string { return e.field + " " + e.msg }

func (r SchemeRule) validate() error {
	per, ok := unitLength[r.Unit]
	switch {
	case !ok:
		return errField{"unit", "must be one of millisecond, second, minute, hour, day, month, calendar_day, calendar_month"}
	case r.Duration <= 0:
		return errField{"duration", "must be positive"}
	case unitCalendar[r.Unit] != "" && r.Duration != 1:
		return errField{"duration", fmt.Sprintf("must be 1 with unit %s (the window ends at the calendar boundary)", r.Unit)}
	case int64(r.Duration) > int64(MaxWindow/per):
		return errField{"duration", fmt.Sprintf("makes a window longer than %d days", MaxWindow/(24*time.Hour))}
	case r.MaxRequests <= 0:
		return errField{"max_requests", "must be positive"}
	}
	if _, ok := modeScope[r.Mode]; !ok {
		return errField{"mode", "must be one of per_key, per_app, per_ip, per_key_and_ip, per_app_and_ip"}
	}
	if len(r.Endpoints) > MaxRuleEndpoints {
		return errField{"endpoints", fmt.Sprintf("holds %d patterns; at most %d", len(r.Endpoints), MaxRuleEndpoints)}
	}
	for j, e := range r.Endpoints {
		if err := validEndpoint(e); err != "" {
			return errField{fmt.Sprintf("endpoints[%d]", j), err}
		}
	}
	return nil
}

func validEndpoint(e string) string {
	switch {
	case !strings.HasPrefix(e, "/"):
		return "must be a path starting with /"
	case len(e) > MaxEndpointLen:
		return fmt.Sprintf("must be at most %d bytes", MaxEndpointLen)
	case strings.Contains(strings.TrimSuffix(e, "*"), "*"):
		return `may hold "*" only as its last character`
	case strings.ContainsRune(e, '?'):
		return "must not hold a query string"
	}
	for _, c := range e {
		if c == unicode.ReplacementChar || unicode.IsSpace(c) || unicode.IsControl(c) || !unicode.IsPrint(c) {
			return "must not hold spaces, control or invisible characters"
		}
	}
	return ""
}

// Rule returns the limiter rule r counts with: MaxRequests per
// Duration×Unit (or per calendar day or month) in r.Mode's scope. r must
// be valid.
func (r SchemeRule) Rule() Rule {
	return Rule{Max: r.MaxRequests, Per: time.Duration(r.Duration) * unitLength[r.Unit], Scope: modeScope[r.Mode],
		Calendar: unitCalendar[r.Unit]}
}

// RuleSet is a list of rules from one source, for Compile: a scheme's
// rules, or an app's own rate_limits.
type RuleSet struct {
	// Name names the set's rules on the wire, in rate_limits[].rule,
	// blocked_rule and the access log: rule i is "<Name>[i]".
	Name string
	// Namespace keeps the set's counters apart from other sets' (a
	// scheme's slug, an app's slug): two sets with the same rule do not
	// share a count. Empty shares counters with the static rules of
	// APIKeyConfig.RateLimits.
	Namespace string
	// Rules are the rules, in Wacht's shape.
	Rules []SchemeRule
}

// Limits is an ordered list of named rules a request is counted against:
// an app's scheme and rate_limits (Compile), or fixed rules (Static). Use
// Decide to count a request. The zero value and nil hold no rules.
type Limits struct {
	rules []limitRule
	ip    bool // some rule counts per client IP
}

type limitRule struct {
	name      string
	ns        string
	rule      Rule
	endpoints []string
	priority  int
}

// ErrUnknownScheme is returned by whoever resolves an app's
// rate_limit_scheme_slug when it names no scheme.
var ErrUnknownScheme = errors.New("ratelimit: unknown rate-limit scheme")

// Compile checks the sets' rules (ValidateRules) and returns them as one
// Limits in evaluation order: by Priority, higher first, and in the order
// of sets and rules for equal priorities.
func Compile(sets ...RuleSet) (*Limits, error) {
	l := &Limits{}
	for _, set := range sets {
		if err := ValidateRules(set.Name, set.Rules); err != nil {
			return nil, err
		}
		for i, r := range set.Rules {
			eps := make([]string, len(r.Endpoints))
			copy(eps, r.Endpoints)
			l.add(limitRule{name: set.Name + "[" + strconv.Itoa(i) + "]", ns: set.Namespace,
				rule: r.Rule(), endpoints: eps, priority: r.Priority})
		}
	}
	sort.SliceStable(l.rules, func(i, j int) bool { return l.rules[i].priority > l.rules[j].priority })
	return l, nil
}

// Static returns fixed rules as Limits, each named by its String (as
// "100/1m0s/key"), applying to every path, in the order given. They must
// be valid (Rule.Validate).
func Static(rules []Rule) *Limits {
	l := &Limits{}
	for _, r := range rules {
		l.add(limitRule{name: r.String(), rule: r})
	}
	return l
}

func (l *Limits) add(r limitRule) {
	l.rules = append(l.rules, r)
	l.ip = l.ip || r.rule.Scope.usesIP()
}

// Len is the number of rules.
func (l *Limits) Len() int {
	if l == nil {
		return 0
	}
	return len(l.rules)
}

// NeedsIP reports whether some rule counts per client IP, so that the
// caller needs Subject.ClientIP.
func (l *Limits) NeedsIP() bool { return l != nil && l.ip }

// Names returns the rules' names in evaluation order.
func (l *Limits) Names() []string {
	out := make([]string, 0, l.Len())
	if l != nil {
		for _, r := range l.rules {
			out = append(out, r.name)
		}
	}
	return out
}

// matches reports whether the rule applies to path (without query).
func (r *limitRule) matches(path string) bool {
	if len(r.endpoints) == 0 {
		return true
	}
	for _, e := range r.endpoints {
		if p, prefix := strings.CutSuffix(e, "*"); prefix {
			if strings.HasPrefix(path, p) {
				return true
			}
		} else if path == e {
			return true
		}
	}
	return false
}
