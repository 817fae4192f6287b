package portal

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// The page's Overview and Access Logs tabs read the app's recorded API-key
// verifications (Config.Access) over a range of whole UTC days.

// appRateLimits is what a Store may also implement to have the Overview list
// the rate-limit rules that apply to an app (Config.Store).
type appRateLimits interface {
	AppRateLimits(ctx context.Context, appSlug string) ([]ratelimit.Rule, error)
}

const (
	// defaultRangeDays is the range of a tab that asks for none: the last 7
	// days, today included.
	defaultRangeDays = 7
	// maxRangeDays bounds a range (one chart bar a day).
	maxRangeDays = 92
	// accessPageSize is how many verifications the Access Logs tab shows a
	// page.
	accessPageSize = 25
	// blockedReasonsShown is how many blocked reasons the Overview lists.
	blockedReasonsShown = 5
	// maxCursorLen bounds the cursor parameter.
	maxCursorLen = 512
	// dayLayout is how a range's days are written (from, to, a chart day).
	dayLayout = "2006-01-02"
)

// dayRange is a range of whole UTC days: from Since (inclusive) to Until
// (exclusive), written From and To (both inclusive, YYYY-MM-DD).
type dayRange struct {
	From, To     string
	Since, Until time.Time
}

// readDayRange reads the from and to parameters (YYYY-MM-DD, UTC, both
// inclusive; default: the last defaultRangeDays days, today included). On
// failure it has answered 400.
func (p *Portal) readDayRange(c *gin.Context) (dayRange, bool) {
	today := p.now().UTC().Truncate(24 * time.Hour)
	to, ok := readDay(c, "to", today)
	if !ok {
		return dayRange{}, false
	}
	from, ok := readDay(c, "from", to.AddDate(0, 0, 1-defaultRangeDays))
	if !ok {
		return dayRange{}, false
	}
	switch days := int(to.Sub(from)/(24*time.Hour)) + 1; {
	case days < 1:
		fail(c, http.StatusBadRequest, "bad_request", "from must not be after to")
		return dayRange{}, false
	case days > maxRangeDays:
		fail(c, http.StatusBadRequest, "bad_request", "the range must be at most "+strconv.Itoa(maxRangeDays)+" days")
		return dayRange{}, false
	}
	return dayRange{From: from.Format(dayLayout), To: to.Format(dayLayout), Since: from, Until: to.AddDate(0, 0, 1)}, true
}

// readDay reads one day parameter, def when absent. On failure it has
// answered 400.
func readDay(c *gin.Context, name string, def time.Time) (time.Time, bool) {
	v := c.Query(name)
	if v == "" {
		return def, true
	}
	d, err := time.Parse(dayLayout, v)
	if err != nil {
		fail(c, http.StatusBadRequest, "bad_request", name+" must be a date written YYYY-MM-DD")
		return time.Time{}, false
	}
	return d, true
}

// ruleView is a rate-limit rule as the Overview lists it.
type ruleView struct {
	Max   int             `json:"max"`
	PerMS int64           `json:"per_ms"`
	Scope ratelimit.Scope `json:"scope"`
}

// dayView is one bar of the Overview's chart.
type dayView struct {
	Date    string `json:"date"`
	Allowed int64  `json:"allowed"`
	Blocked int64  `json:"blocked"`
}

// reasonView is one row of the Overview's blocked reasons.
type reasonView struct {
	Name    string `json:"name"`
	Blocked int64  `json:"blocked"`
}

// overviewView is what the Overview tab shows.
type overviewView struct {
	// Recorded is false when no AccessReader is configured: the usage
	// fields are then empty.
	Recorded    bool         `json:"recorded"`
	From        string       `json:"from"`
	To          string       `json:"to"`
	Total       int64        `json:"total_requests"`
	Allowed     int64        `json:"allowed_requests"`
	Blocked     int64        `json:"blocked_requests"`
	KeysUsed24h int64        `json:"keys_used_24h"`
	Shed        int64        `json:"shed"`
	Days        []dayView    `json:"days"`
	Reasons     []reasonView `json:"blocked_reasons"`
	Scheme      string       `json:"rate_limit_scheme,omitempty"`
	// Rules is null when the store cannot list rules, [] when none apply.
	Rules []ruleView `json:"rate_limits"`
}

// apiOverview: GET …/api/overview?from=&to= → the app's verification totals,
// one chart bar per day, and its rate-limit rules.
func (p *Portal) apiOverview(c *gin.Context, s *session) {
	r, ok := p.readDayRange(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	out := overviewView{From: r.From, To: r.To, Scheme: s.app.RateLimitSchemeSlug, Days: []dayView{}, Reasons: []reasonView{}}
	if p.rateLimits != nil {
		rules, err := p.rateLimits.AppRateLimits(ctx, s.App)
		if err != nil {
			p.storeFailed(c, err)
			return
		}
		out.Rules = make([]ruleView, 0, len(rules))
		for _, rl := range rules {
			out.Rules = append(out.Rules, ruleView{Max: rl.Max, PerMS: rl.Per.Milliseconds(), Scope: ruleScope(rl.Scope)})
		}
	}
	if p.access != nil {
		a, err := p.access.AccessAnalytics(ctx, audit.AnalyticsQuery{AppSlug: s.App, Since: r.Since, Until: r.Until, TopLimit: blockedReasonsShown})
		if err != nil {
			p.storeFailed(c, err)
			return
		}
		days, err := p.access.AccessTimeseries(ctx, s.App, r.Since, r.Until, audit.IntervalDay)
		if err != nil {
			p.storeFailed(c, err)
			return
		}
		out.Recorded = true
		out.Total, out.Allowed, out.Blocked, out.KeysUsed24h, out.Shed = a.Total, a.Allowed, a.Blocked, a.KeysUsed24h, a.Shed
		for _, b := range days {
			out.Days = append(out.Days, dayView{Date: b.Start.UTC().Format(dayLayout), Allowed: b.Allowed, Blocked: b.Blocked})
		}
		for _, n := range a.BlockedReasons {
			if n.Blocked > 0 {
				out.Reasons = append(out.Reasons, reasonView{Name: n.Name, Blocked: n.Blocked})
			}
		}
	}
	writeJSON(c, http.StatusOK, out)
}

// ruleScope names the default scope (empty means per key).
func ruleScope(s ratelimit.Scope) ratelimit.Scope {
	if s == "" {
		return ratelimit.ScopeKey
	}
	return s
}

// accessView is a verification as the Access Logs tab shows it. It holds
// neither the client's IP nor its user agent: the page shows what a key did,
// not who held it.
type accessView struct {
	Time        time.Time `json:"time"`
	Outcome     string    `json:"outcome"`
	BlockedRule string    `json:"blocked_by_rule,omitempty"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	KeyID       string    `json:"key_id,omitempty"`
	KeyName     string    `json:"key_name,omitempty"`
}

// apiAccess: GET …/api/access?from=&to=&outcome=all|allowed|blocked&cursor=
// → accessPageSize of the app's verifications, newest first, and the cursor
// of the older ones ("" on the last page).
func (p *Portal) apiAccess(c *gin.Context, s *session) {
	r, ok := p.readDayRange(c)
	if !ok {
		return
	}
	outcome := c.Query("outcome")
	switch outcome {
	case "", "all":
		outcome = ""
	case audit.AccessAllowed, audit.AccessBlocked:
	default:
		fail(c, http.StatusBadRequest, "bad_request", "outcome must be all, allowed or blocked")
		return
	}
	cursor := c.Query("cursor")
	if len(cursor) > maxCursorLen {
		fail(c, http.StatusBadRequest, "bad_request", "cursor is not one this API gave")
		return
	}
	out := gin.H{"recorded": p.access != nil, "events": []accessView{}, "next_cursor": ""}
	if p.access != nil {
		page, err := p.access.QueryAccess(c.Request.Context(), audit.AccessQuery{
			AppSlug: s.App, Outcome: outcome, Since: r.Since, Until: r.Until, Cursor: cursor, Limit: accessPageSize,
		})
		if err != nil {
			p.storeFailed(c, err)
			return
		}
		events := make([]accessView, 0, len(page.Events))
		for _, e := range page.Events {
			events = append(events, accessView{
				Time: e.Time, Outcome: e.Outcome, BlockedRule: e.BlockedRule,
				Method: e.Method, Path: e.Path, KeyID: e.KeyID, KeyName: e.KeyName,
			})
		}
		out["events"], out["next_cursor"] = events, page.NextCursor
	}
	writeJSON(c, http.StatusOK, out)
}
