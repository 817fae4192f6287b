package portal

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	testbrowser "github.com/keyportal/keyportal/internal/testenv/browser"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// screenshotDir is where KEYPORTAL_SCREENSHOTS=1 writes the README's
// screenshots of the portal's tabs.
var screenshotDir = filepath.Join("..", "..", "docs", "screenshots")

// chartDay is what the page's chart draws for one day.
type chartDay struct {
	Date     string
	Allowed  int64
	Blocked  int64
	AllowedH float64
	BlockedH float64
	TableRow string
}

// TestBrowserOverviewAndAccessLogs opens the Overview and Access logs tabs on
// a fake reader's events: the chart's bars and its table equal counts of the
// recorded events, the log pages, filters and groups them by day, and both
// read at 320 px and in dark mode.
func TestBrowserOverviewAndAccessLogs(t *testing.T) {
	ctx := testbrowser.Start(t, 1000, 900, chromedp.Flag("hide-scrollbars", true))
	f := newFakeAccess(time.Now)
	e := newEnv(t, envOptions{listen: "127.0.0.1:0", realClock: true, access: f})
	e.app("aa_42", "acme", "http://127.0.0.1:1")

	// The last seven UTC days, one of them without a request; another app's
	// busy day; and verifications the recorder shed.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	perDay := [7][2]int{{12, 3}, {0, 0}, {30, 20}, {5, 0}, {8, 8}, {20, 2}, {4, 1}}
	for i, n := range perDay {
		seedAccess(f, "aa_42", today.AddDate(0, 0, i-6), n[0], n[1])
	}
	// A long path and key name, which must wrap at 320 px.
	f.add(audit.Access{AppSlug: "aa_42", Time: today.AddDate(0, 0, -1).Add(30 * time.Minute), Outcome: audit.AccessBlocked, BlockedRule: "key_revoked",
		Method: "DELETE", Path: "/v1/customers/cus_0123456789abcdefghij/invoices/in_0123456789abcdefghij/lines", KeyID: "k3", KeyName: "nightly reconciliation job for the EU warehouse"})
	seedAccess(f, "aa_42", today.AddDate(0, 0, -9), 99, 99) // before the range
	seedAccess(f, "bb_7", today, 500, 500)
	f.shed["aa_42"] = 2

	// What the page must show: counted here from the recorded events.
	count := func(date, outcome string) (n int64) {
		for _, ev := range f.events {
			if ev.AppSlug == "aa_42" && ev.Time.UTC().Format(dayLayout) == date && (outcome == "" || ev.Outcome == outcome) {
				n++
			}
		}
		return n
	}
	var inRange, blockedInRange int64
	for i := range 7 {
		d := today.AddDate(0, 0, i-6).Format(dayLayout)
		inRange += count(d, "")
		blockedInRange += count(d, audit.AccessBlocked)
	}

	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: "http://127.0.0.1:1"})
	testbrowser.Within(t, ctx, 20*time.Second, chromedp.Navigate(tk.URL))
	waitJS(t, ctx, `document.getElementById('portal').dataset.state === 'ready'`)

	// Overview.
	click(t, ctx, tid("tab-overview"))
	waitJS(t, ctx, `!document.getElementById('overview-body').hidden && document.querySelectorAll('[data-testid="chart-day"]').length === 7`)
	days := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[[]chartDay](`[...document.querySelectorAll('[data-testid="chart-day"]')].map((g) => {
		const [a, b] = g.querySelectorAll('rect');
		const row = document.querySelector('#ov-days tr[data-date="' + g.dataset.date + '"]');
		return {Date: g.dataset.date, Allowed: +a.dataset.count, Blocked: +b.dataset.count,
			AllowedH: +a.getAttribute('height'), BlockedH: +b.getAttribute('height'),
			TableRow: row ? [...row.cells].map((c) => c.textContent).join('|') : ''};
	})`))
	// Pixels per request, from the busiest day; every bar must follow it.
	var scale float64
	for _, d := range days {
		if d.Allowed > 0 {
			scale = max(scale, d.AllowedH/float64(d.Allowed))
		}
	}
	for i, d := range days {
		date := today.AddDate(0, 0, i-6).Format(dayLayout)
		wa, wb := count(date, audit.AccessAllowed), count(date, audit.AccessBlocked)
		if d.Date != date || d.Allowed != wa || d.Blocked != wb {
			t.Fatalf("bar %d is %s %d/%d, the recorded events of %s count %d allowed, %d blocked", i, d.Date, d.Allowed, d.Blocked, date, wa, wb)
		}
		if math.Abs(d.AllowedH-scale*float64(wa)) > 0.01 || math.Abs(d.BlockedH-scale*float64(wb)) > 0.01 {
			t.Fatalf("bar %s is drawn %.1f+%.1f px high, want %.1f+%.1f (%.2f px a request)", date, d.AllowedH, d.BlockedH, scale*float64(wa), scale*float64(wb), scale)
		}
		if !strings.HasSuffix(d.TableRow, fmt.Sprintf("|%d|%d", wa, wb)) {
			t.Fatalf("the chart's table says %q for %s, want %d allowed, %d blocked", d.TableRow, date, wa, wb)
		}
	}
	totals := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[string](
		`['ov-total','ov-allowed','ov-blocked','ov-keys'].map((id) => document.getElementById(id).textContent).join(' ') + ' | ' + document.getElementById('ov-shed').textContent + ' | ' + document.querySelector('#ov-chart svg').getAttribute('role') + ' ' + document.getElementById('ov-chart-desc').textContent`))
	wantTotals := fmt.Sprintf("%d %d %d ", inRange, inRange-blockedInRange, blockedInRange)
	if !strings.HasPrefix(totals, wantTotals) || !strings.Contains(totals, "2 verifications not recorded (overload).") ||
		!strings.Contains(totals, " | img ") || !strings.Contains(totals, fmt.Sprintf("%d allowed, %d blocked.", inRange-blockedInRange, blockedInRange)) {
		t.Fatalf("overview says %q, want totals %q, the shed count and a described chart", totals, wantTotals)
	}
	if rules := text(t, ctx, tid("ov-rules")); rules != "No rate limits." {
		t.Fatalf("rate limits say %q", rules)
	}
	if reasons := text(t, ctx, tid("ov-reasons")); reasons != fmt.Sprintf("key revoked: %d", blockedInRange) {
		t.Fatalf("blocked reasons say %q", reasons)
	}
	testbrowser.Screenshot(t, ctx, screenshotDir, "portal-overview.png")

	// Dark mode: the bars and the axis take the dark palette.
	setColorScheme(t, ctx, "dark")
	colors := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[string](
		`[getComputedStyle(document.body).backgroundColor, getComputedStyle(document.querySelector('.bar-allowed')).fill, getComputedStyle(document.querySelector('.bar-blocked')).fill, getComputedStyle(document.querySelector('#ov-chart .axis')).fill].join(' ')`))
	if colors != "rgb(20, 23, 28) rgb(127, 216, 160) rgb(255, 138, 128) rgb(163, 172, 185)" {
		t.Fatalf("dark mode colors (background, allowed, blocked, axis): %s", colors)
	}
	testbrowser.Screenshot(t, ctx, screenshotDir, "portal-overview-dark.png")
	setColorScheme(t, ctx, "light")

	// 320 px wide: nothing overflows, the chart redraws to the width, and
	// all four tabs stay in view.
	setWidth(t, ctx, 320)
	waitJS(t, ctx, `document.querySelector('#ov-chart svg').width.baseVal.value <= 296 && document.documentElement.scrollWidth <= 320 && document.querySelector('.tabs').scrollWidth <= document.querySelector('.tabs').clientWidth`)
	setWidth(t, ctx, 1000)

	// A range the API would refuse: the page says why, and shows no stale
	// numbers.
	setDay := func(testid, day string) {
		evalJS(t, ctx, `{ const el = `+q(tid(testid))+`; el.value = `+jsString(day)+`; el.dispatchEvent(new Event('change', {bubbles: true})); }`)
	}
	setDay("overview-from", today.AddDate(0, 0, 1).Format(dayLayout))
	waitJS(t, ctx, q(tid("overview-status"))+`.textContent === `+jsString(EnglishMessages().RangeOrder)+` && document.getElementById('overview-body').hidden`)
	setDay("overview-from", today.AddDate(0, 0, -6).Format(dayLayout))
	waitJS(t, ctx, `!document.getElementById('overview-body').hidden && `+q(tid("ov-total"))+`.textContent === `+jsString(fmt.Sprint(inRange)))

	// Access logs: 25 a page, newest first, grouped by day.
	click(t, ctx, tid("tab-access"))
	waitJS(t, ctx, `document.querySelectorAll('[data-testid="access-row"]').length === 25`)
	checkLogGroups(t, ctx)
	first := text(t, ctx, `[data-testid="access-row"]`)
	if !strings.Contains(first, "Blocked") || !strings.Contains(first, "POST /v1/orders/4") || !strings.Contains(first, "old key") || !strings.Contains(first, "key revoked") {
		t.Fatalf("the newest row says %q", first)
	}
	testbrowser.Screenshot(t, ctx, screenshotDir, "portal-access-logs.png")
	rows := loadAllRows(t, ctx)
	if int64(rows) != inRange {
		t.Fatalf("Older paged through %d rows, the range holds %d events", rows, inRange)
	}
	checkLogGroups(t, ctx)

	// Only the blocked ones: two pages.
	click(t, ctx, tid("outcome-blocked"))
	waitJS(t, ctx, `[...document.querySelectorAll('[data-testid="access-row"]')].every((r) => r.dataset.outcome === 'blocked') && document.querySelectorAll('[data-testid="access-row"]').length === 25`)
	if rows := loadAllRows(t, ctx); int64(rows) != blockedInRange {
		t.Fatalf("the blocked filter shows %d rows, %d were blocked", rows, blockedInRange)
	}
	waitJS(t, ctx, `[...document.querySelectorAll('[data-testid="access-row"]')].every((r) => r.dataset.outcome === 'blocked')`)

	// One day, by its date field.
	d := today.AddDate(0, 0, -1).Format(dayLayout)
	setDay("access-from", d)
	setDay("access-to", d)
	waitJS(t, ctx, fmt.Sprintf(`document.querySelectorAll('[data-testid="access-row"]').length === %d && document.querySelectorAll('[data-testid="access-day"]').length === 1 && document.querySelector('[data-testid="access-day"]').dataset.date === %s`, count(d, audit.AccessBlocked), jsString(d)))

	// 320 px wide: the log wraps instead of overflowing.
	setWidth(t, ctx, 320)
	waitJS(t, ctx, `document.documentElement.scrollWidth <= 320`)
}

// loadAllRows clicks Older until it is gone and returns the rows shown.
func loadAllRows(t *testing.T, ctx context.Context) int {
	t.Helper()
	for range 20 {
		n := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="access-row"]').length`))
		if testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[bool](q(tid("access-more"))+`.hidden`)) {
			return n
		}
		click(t, ctx, tid("access-more"))
		waitJS(t, ctx, fmt.Sprintf(`document.querySelectorAll('[data-testid="access-row"]').length > %d`, n))
	}
	t.Fatal("Older never ran out")
	return 0
}

// checkLogGroups requires each row under the heading of its own UTC day, each
// day once, newest first.
func checkLogGroups(t *testing.T, ctx context.Context) {
	t.Helper()
	bad := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[string](`(() => {
		let last = '9999', times = [];
		for (const g of document.querySelectorAll('[data-testid="access-day"]')) {
			if (!(g.dataset.date < last)) return 'day ' + g.dataset.date + ' after ' + last;
			last = g.dataset.date;
			for (const r of g.querySelectorAll('[data-testid="access-row"]')) {
				const t = r.querySelector('time').dateTime;
				if (!t.startsWith(g.dataset.date)) return 'row ' + t + ' under ' + g.dataset.date;
				times.push(t);
			}
		}
		for (let i = 1; i < times.length; i++) if (Date.parse(times[i]) > Date.parse(times[i - 1])) return 'row ' + times[i] + ' after ' + times[i - 1];
		return '';
	})()`))
	if bad != "" {
		t.Fatalf("the log's day groups: %s", bad)
	}
}

func setColorScheme(t *testing.T, ctx context.Context, scheme string) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		t.Fatal(err)
	}
}

func setWidth(t *testing.T, ctx context.Context, width int64) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: 900, DeviceScaleFactor: 1,
	}); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserUsageNotRecorded: with no AccessReader, both tabs say that
// usage is not recorded rather than show empty numbers; the Overview still
// lists the app's rate limits, which the store knows.
func TestBrowserUsageNotRecorded(t *testing.T) {
	ctx := browser(t)
	rules := map[string][]ratelimit.Rule{"aa_42": {{Max: 100, Per: time.Minute}, {Max: 5000, Per: 2 * time.Hour, Scope: ratelimit.ScopeApp}}}
	e := newEnv(t, envOptions{listen: "127.0.0.1:0", realClock: true, wrapStore: func(st keystore.Store) keystore.Store {
		return storeWithLimits{Store: bareStore(st), rules: rules}
	}})
	e.standardScheme()
	if _, err := e.store.CreateApp(t.Context(), keystore.App{
		Slug: "aa_42", Name: "App aa_42", KeyPrefix: "kp_aa_42", Tenant: "acme", AllowedOrigins: []string{"http://127.0.0.1:1"},
		RateLimitSchemeSlug: "standard",
	}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: "http://127.0.0.1:1"})
	testbrowser.Within(t, ctx, 20*time.Second, chromedp.Navigate(tk.URL))
	waitJS(t, ctx, `document.getElementById('portal').dataset.state === 'ready'`)

	click(t, ctx, tid("tab-overview"))
	waitJS(t, ctx, q(tid("overview-status"))+`.textContent === 'Usage is not recorded for this app.' && document.getElementById('overview-body').hidden`)
	if got := text(t, ctx, tid("ov-scheme")) + " | " + text(t, ctx, tid("ov-rules")); got != "Scheme: standard | 100 requests per minute, per key5,000 requests per 2 hours, for the whole app" {
		t.Fatalf("rate limits say %q", got)
	}
	click(t, ctx, tid("tab-access"))
	waitJS(t, ctx, q(tid("access-status"))+`.textContent === 'Usage is not recorded for this app.' && !document.querySelector('[data-testid="access-row"]')`)
}
