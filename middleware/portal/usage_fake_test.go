package portal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// fakeAccess is an in-memory audit.AccessReader that answers every question
// by counting the events it holds, so that what the page shows can be checked
// against a count of the recorded events.
type fakeAccess struct {
	now func() time.Time

	mu     sync.Mutex
	events []audit.Access
	shed   map[string]int64 // per app
	err    error            // when set, every call fails with it
}

func newFakeAccess(now func() time.Time) *fakeAccess {
	return &fakeAccess{now: now, shed: map[string]int64{}}
}

func (f *fakeAccess) add(events ...audit.Access) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, events...)
}

// matching returns the events of q, newest first (ties: the later added
// first).
func (f *fakeAccess) matching(app, outcome, keyID string, since, until time.Time) []audit.Access {
	var out []audit.Access
	for i := len(f.events) - 1; i >= 0; i-- {
		e := f.events[i]
		if e.AppSlug != app || outcome != "" && e.Outcome != outcome || keyID != "" && e.KeyID != keyID ||
			!since.IsZero() && e.Time.Before(since) || !until.IsZero() && !e.Time.Before(until) {
			continue
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b audit.Access) int { return b.Time.Compare(a.Time) })
	return out
}

func (f *fakeAccess) QueryAccess(_ context.Context, q audit.AccessQuery) (audit.AccessPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return audit.AccessPage{}, f.err
	}
	if q.AppSlug == "" {
		return audit.AccessPage{}, fmt.Errorf("%w: the app is required", keystore.ErrInvalid)
	}
	limit := cmp.Or(q.Limit, 100)
	offset := 0
	if q.Cursor != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(q.Cursor, "at:"))
		if err != nil || !strings.HasPrefix(q.Cursor, "at:") || n < 0 {
			return audit.AccessPage{}, fmt.Errorf("%w: bad cursor", keystore.ErrInvalid)
		}
		offset = n
	}
	all := f.matching(q.AppSlug, q.Outcome, q.KeyID, q.Since, q.Until)
	page := audit.AccessPage{}
	if offset < len(all) {
		page.Events = all[offset:min(len(all), offset+limit)]
	}
	if offset+limit < len(all) {
		page.NextCursor = "at:" + strconv.Itoa(offset+limit)
	}
	return page, nil
}

func (f *fakeAccess) AccessAnalytics(_ context.Context, q audit.AnalyticsQuery) (audit.Analytics, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return audit.Analytics{}, f.err
	}
	var a audit.Analytics
	reasons := map[string]int64{}
	for _, e := range f.matching(q.AppSlug, "", "", q.Since, q.Until) {
		a.Total++
		if e.Outcome == audit.AccessAllowed {
			a.Allowed++
		} else {
			a.Blocked++
			reasons[e.BlockedRule]++
		}
	}
	now := f.now()
	keys := map[string]bool{}
	for _, e := range f.matching(q.AppSlug, audit.AccessAllowed, "", now.Add(-24*time.Hour), now) {
		keys[e.KeyID] = true
	}
	a.KeysUsed24h = int64(len(keys))
	a.Shed = f.shed[q.AppSlug]
	if q.TopLimit > 0 {
		for name, n := range reasons {
			a.BlockedReasons = append(a.BlockedReasons, audit.Count{Name: name, Total: n, Blocked: n})
		}
		slices.SortFunc(a.BlockedReasons, func(x, y audit.Count) int {
			return cmp.Or(cmp.Compare(y.Blocked, x.Blocked), strings.Compare(x.Name, y.Name))
		})
		a.BlockedReasons = a.BlockedReasons[:min(len(a.BlockedReasons), q.TopLimit)]
	}
	return a, nil
}

func (f *fakeAccess) AccessTimeseries(_ context.Context, app string, since, until time.Time, interval string) ([]audit.Bucket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if interval != audit.IntervalDay {
		return nil, errors.New("fakeAccess: only daily series")
	}
	var out []audit.Bucket
	for d := since.UTC().Truncate(24 * time.Hour); d.Before(until); d = d.AddDate(0, 0, 1) {
		b := audit.Bucket{Start: d}
		for _, e := range f.matching(app, "", "", d, d.AddDate(0, 0, 1)) {
			b.Total++
			if e.Outcome == audit.AccessAllowed {
				b.Allowed++
			} else {
				b.Blocked++
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// storeWithLimits is a Store that lists rate-limit rules per app.
type storeWithLimits struct {
	keystore.Store
	rules map[string][]ratelimit.Rule
}

func (s storeWithLimits) AppRateLimits(_ context.Context, app string) ([]ratelimit.Rule, error) {
	return s.rules[app], nil
}

// bareStore hides every optional interface of a Store.
func bareStore(st keystore.Store) keystore.Store { return struct{ keystore.Store }{st} }

// standardScheme stores the rate-limit scheme "standard" that the usage
// tests' apps name (the store refuses an app naming no scheme); the rules
// the Overview lists come from storeWithLimits.
func (e *env) standardScheme() {
	e.t.Helper()
	if _, err := e.store.CreateScheme(e.t.Context(), keystore.Scheme{Slug: "standard", Name: "Standard",
		Rules: []ratelimit.SchemeRule{{Unit: ratelimit.UnitMinute, Duration: 1, MaxRequests: 100}}}); err != nil {
		e.t.Fatal(err)
	}
}
