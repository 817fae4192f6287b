package sqlstore

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
)

// The verification log (audit.Access): raw events in access_events, and
// per-minute rollups in access_rollups (app, minute, key, path, outcome,
// rule → count), both written by WriteAccess in one transaction. Sums and
// time series read whole minutes from the rollups and the partial minutes
// at a window's edges from the raw events, so they are exact without
// scanning the raw events of a long window. Shed counts are rollup rows
// with outcome "shed".

var (
	_ audit.AccessWriter = (*Store)(nil)
	_ audit.AccessReader = (*Store)(nil)
)

const (
	minuteNS = int64(time.Minute)
	// accessInsertRows is the most rows of one INSERT (15 parameters each:
	// far under SQLite's 32766 and Postgres' 65535).
	accessInsertRows = 500
	// Lengths kept of the client-controlled texts of an event.
	maxAccessPath = 1024
	maxAccessText = 512
	// outcomeShed marks the rollup rows of shed counts.
	outcomeShed = "shed"
	// maxBuckets bounds one time series.
	maxBuckets = 50_000
	// Page sizes of QueryAccess.
	defaultAccessLimit = 100
	maxAccessLimit     = 1000
)

// clip cleans s as every stored text (cleanText) and cuts it to at most n
// bytes on a character boundary.
func clip(s string, n int) string {
	s = cleanText(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func floorMinute(t int64) int64 { return t - ((t%minuteNS)+minuteNS)%minuteNS }

type rollupKey struct {
	app     string
	minute  int64
	key     string
	path    string
	outcome string
	rule    string
}

type rollupVal struct {
	name    string
	limited bool
	n       int64
}

// WriteAccess stores events and adds them, and the shed counts, to the
// per-minute rollups, in one transaction. An event's outcome other than
// audit.AccessAllowed is stored as audit.AccessBlocked; an empty RequestID
// gets a generated one; texts are cleaned and cut (path to 1024 bytes, the
// others to 512).
func (s *Store) WriteAccess(ctx context.Context, events []audit.Access, shed []audit.Shed) error {
	if len(events) == 0 && len(shed) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(events))
	roll := make(map[rollupKey]*rollupVal, len(events)/4+len(shed))
	add := func(k rollupKey, name string, limited bool, n int64) {
		v := roll[k]
		if v == nil {
			v = &rollupVal{}
			roll[k] = v
		}
		v.name, v.limited, v.n = name, v.limited || limited, v.n+n
	}
	for _, e := range events {
		outcome, rule := audit.AccessAllowed, ""
		if e.Outcome != audit.AccessAllowed {
			outcome, rule = audit.AccessBlocked, clip(e.BlockedRule, maxAccessText)
		}
		limited := outcome == audit.AccessBlocked && e.RateLimited
		id := clip(e.RequestID, maxAccessText)
		if id == "" {
			id = NewID("req_")
		}
		t := ns(e.Time)
		app, key, name, path := clip(e.AppSlug, maxAccessText), clip(e.KeyID, maxAccessText),
			clip(e.KeyName, maxAccessText), clip(e.Path, maxAccessPath)
		rows = append(rows, []any{NewID("acc_"), t, id, int64(e.Latency), app, clip(e.Tenant, maxAccessText), key, name,
			outcome, rule, limited, clip(e.Method, 16), path, clip(e.ClientIP, 64), clip(e.UserAgent, maxAccessText)})
		add(rollupKey{app, floorMinute(t), key, path, outcome, rule}, name, limited, 1)
	}
	for _, sh := range shed {
		if sh.Count > 0 {
			add(rollupKey{app: clip(sh.AppSlug, maxAccessText), minute: floorMinute(ns(sh.Minute)), outcome: outcomeShed}, "", false, sh.Count)
		}
	}
	return s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		if s.d.AsyncCommit != "" {
			if _, err := tx.Exec(ctx, s.d.AsyncCommit); err != nil {
				return nil, dbErr(err)
			}
		}
		if err := s.insertAccess(ctx, tx, rows); err != nil {
			return nil, err
		}
		return nil, s.upsertRollups(ctx, tx, roll)
	})
}

// upsertRollups adds roll to access_rollups, in key order (so that
// instances writing at once lock rows in one order and cannot deadlock).
func (s *Store) upsertRollups(ctx context.Context, tx Querier, roll map[rollupKey]*rollupVal) error {
	keys := make([]rollupKey, 0, len(roll))
	for k := range roll {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b rollupKey) int {
		return cmp.Or(strings.Compare(a.app, b.app), cmp.Compare(a.minute, b.minute), strings.Compare(a.key, b.key),
			strings.Compare(a.path, b.path), strings.Compare(a.outcome, b.outcome), strings.Compare(a.rule, b.rule))
	})
	const insert = `INSERT INTO access_rollups (app_slug, minute, key_id, key_name, path, outcome, rule, limited, n) `
	const conflict = ` ON CONFLICT (app_slug, minute, key_id, path, outcome, rule) DO UPDATE SET
		n = access_rollups.n + excluded.n, key_name = excluded.key_name, limited = excluded.limited`
	if s.d.Unnest {
		apps, keyIDs, names, paths, outcomes, rules := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys)),
			make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
		minutes, ns, limited := make([]int64, len(keys)), make([]int64, len(keys)), make([]bool, len(keys))
		for i, k := range keys {
			v := roll[k]
			apps[i], minutes[i], keyIDs[i], names[i], paths[i], outcomes[i], rules[i], limited[i], ns[i] =
				k.app, k.minute, k.key, v.name, k.path, k.outcome, k.rule, v.limited, v.n
		}
		_, err := tx.Exec(ctx, insert+`SELECT * FROM unnest(?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[],
			?::text[], ?::text[], ?::boolean[], ?::bigint[])`+conflict,
			apps, minutes, keyIDs, names, paths, outcomes, rules, limited, ns)
		return dbErr(err)
	}
	args := make([]any, 0, min(len(keys), accessInsertRows)*9)
	for start := 0; start < len(keys); start += accessInsertRows {
		n := min(accessInsertRows, len(keys)-start)
		args = args[:0]
		for _, k := range keys[start : start+n] {
			v := roll[k]
			args = append(args, k.app, k.minute, k.key, v.name, k.path, k.outcome, k.rule, v.limited, v.n)
		}
		if _, err := tx.Exec(ctx, insert+`VALUES `+values(n, 9)+conflict, args...); err != nil {
			return dbErr(err)
		}
	}
	return nil
}

var accessCols = []string{"id", "occurred_at", "request_id", "latency_ns", "app_slug", "tenant", "key_id",
	"key_name", "outcome", "blocked_rule", "limited", "method", "path", "client_ip", "user_agent"}

// insertAccess inserts rows into access_events: by Dialect.CopyRows, else
// by INSERTs of accessInsertRows rows each.
func (s *Store) insertAccess(ctx context.Context, tx Querier, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if s.d.CopyRows != nil {
		return dbErr(s.d.CopyRows(ctx, tx, "access_events", accessCols, rows))
	}
	insert := `INSERT INTO access_events (` + strings.Join(accessCols, ", ") + `) VALUES `
	args := make([]any, 0, min(len(rows), accessInsertRows)*len(accessCols))
	for start := 0; start < len(rows); start += accessInsertRows {
		n := min(accessInsertRows, len(rows)-start)
		args = args[:0]
		for _, r := range rows[start : start+n] {
			args = append(args, r...)
		}
		if _, err := tx.Exec(ctx, insert+values(n, len(accessCols)), args...); err != nil {
			return dbErr(err)
		}
	}
	return nil
}

// values returns n groups of cols placeholders: "(?, ?), (?, ?)".
func values(n, cols int) string {
	group := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var b strings.Builder
	b.Grow(n * (len(group) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(group)
	}
	return b.String()
}

// QueryAccess returns one page of the verification events q selects, newest
// first, paged by (time, id). ErrInvalid for an outcome other than
// audit.AccessAllowed or audit.AccessBlocked, a negative limit, or a cursor
// this store did not issue.
func (s *Store) QueryAccess(ctx context.Context, q audit.AccessQuery) (audit.AccessPage, error) {
	limit, err := pageSize("access log", q.Limit, defaultAccessLimit, maxAccessLimit)
	if err != nil {
		return audit.AccessPage{}, err
	}
	if err := checkOutcome(q.Outcome); err != nil {
		return audit.AccessPage{}, err
	}
	var c conds
	if q.AppSlug != "" {
		c.add("app_slug = ?", cleanText(q.AppSlug))
	}
	if q.Outcome != "" {
		c.add("outcome = ?", q.Outcome)
	}
	if q.KeyID != "" {
		c.add("key_id = ?", cleanText(q.KeyID))
	}
	if err := c.window("occurred_at", q.Since, q.Until, q.Cursor); err != nil {
		return audit.AccessPage{}, err
	}
	sqlq := `SELECT id, occurred_at, request_id, latency_ns, app_slug, tenant, key_id, key_name, outcome,
		blocked_rule, limited, method, path, client_ip, user_agent FROM access_events` + c.clause()
	type row struct {
		id string
		e  audit.Access
	}
	rows, next, err := readPage(ctx, s, sqlq+" ORDER BY occurred_at DESC, id DESC", c.args, limit,
		func(r Row) (row, error) {
			var x row
			var t, lat int64
			e := &x.e
			if err := r.Scan(&x.id, &t, &e.RequestID, &lat, &e.AppSlug, &e.Tenant, &e.KeyID, &e.KeyName, &e.Outcome,
				&e.BlockedRule, &e.RateLimited, &e.Method, &e.Path, &e.ClientIP, &e.UserAgent); err != nil {
				return row{}, dbErr(err)
			}
			e.Time, e.Latency = fromNS(t), time.Duration(lat)
			return x, nil
		},
		func(x row) (int64, string) { return ns(x.e.Time), x.id })
	if err != nil {
		return audit.AccessPage{}, err
	}
	out := audit.AccessPage{Events: make([]audit.Access, len(rows)), NextCursor: next}
	for i := range rows {
		out.Events[i] = rows[i].e
	}
	return out, nil
}

func checkOutcome(o string) error {
	switch o {
	case "", audit.AccessAllowed, audit.AccessBlocked:
		return nil
	}
	return invalid("outcome %q must be %q or %q", o, audit.AccessAllowed, audit.AccessBlocked)
}

// accessSource is a subquery of the verifications (and shed counts) of app
// [and key] in [since, until) (zero: unbounded), with the columns key_id,
// key_name, path, outcome, rule, limited, minute, n: the whole minutes from
// the rollups, the partial minutes at the edges from the raw events.
func accessSource(app, key string, since, until time.Time) (string, []any) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	loM, hiM := lo, hi
	if !since.IsZero() {
		lo = queryBound(since)
		if loM = floorMinute(lo); loM < lo {
			loM += minuteNS
		}
	}
	if !until.IsZero() {
		hi = queryBound(until)
		hiM = floorMinute(hi)
	}
	keyCond := ""
	if key != "" {
		keyCond = " AND key_id = ?"
	}
	withKey := func(a ...any) []any {
		if key != "" {
			a = append(a, key)
		}
		return a
	}
	raw := `SELECT key_id, key_name, path, outcome, blocked_rule AS rule, limited,
		occurred_at - (occurred_at % ` + strconv.FormatInt(minuteNS, 10) + `) AS minute, 1 AS n
		FROM access_events WHERE app_slug = ?` + keyCond
	if loM >= hiM { // within one minute: raw events only
		return raw + ` AND occurred_at >= ? AND occurred_at < ?`, append(withKey(app), lo, hi)
	}
	q := `SELECT key_id, key_name, path, outcome, rule, limited, minute, n FROM access_rollups
		WHERE app_slug = ?` + keyCond + ` AND minute >= ? AND minute < ?
		UNION ALL ` + raw + ` AND ((occurred_at >= ? AND occurred_at < ?) OR (occurred_at >= ? AND occurred_at < ?))`
	args := append(withKey(app), loM, hiM)
	args = append(args, withKey(app)...)
	return q, append(args, lo, loM, hiM, hi)
}

const sumCounts = `CAST(COALESCE(SUM(CASE WHEN outcome = 'allowed' THEN n ELSE 0 END), 0) AS BIGINT),
	CAST(COALESCE(SUM(CASE WHEN outcome = 'blocked' THEN n ELSE 0 END), 0) AS BIGINT)`

// AccessAnalytics sums an app's verifications over q's window from the
// rollups (see accessSource), with the top lists when q.TopLimit > 0 (at most
// 50). KeysUsed24h counts the keys allowed in the 24 hours before the
// store's clock.
func (s *Store) AccessAnalytics(ctx context.Context, q audit.AnalyticsQuery) (audit.Analytics, error) {
	if q.TopLimit < 0 {
		return audit.Analytics{}, invalid("top limit %d must not be negative", q.TopLimit)
	}
	app, key := cleanText(q.AppSlug), cleanText(q.KeyID)
	src, args := accessSource(app, key, q.Since, q.Until)
	var a audit.Analytics
	err := s.b.QueryRow(ctx, `SELECT `+sumCounts+`,
		CAST(COALESCE(SUM(CASE WHEN outcome = 'blocked' AND limited THEN n ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN outcome = 'shed' THEN n ELSE 0 END), 0) AS BIGINT)
		FROM (`+src+`) src`, args...).Scan(&a.Allowed, &a.Blocked, &a.RateLimited, &a.Shed)
	if err != nil {
		return audit.Analytics{}, dbErr(err)
	}
	a.Total = a.Allowed + a.Blocked
	day, dargs := accessSource(app, key, s.now().Add(-24*time.Hour), time.Time{})
	if err := s.b.QueryRow(ctx, `SELECT COUNT(DISTINCT key_id) FROM (`+day+`) src
		WHERE outcome = 'allowed' AND key_id <> ''`, dargs...).Scan(&a.KeysUsed24h); err != nil {
		return audit.Analytics{}, dbErr(err)
	}
	if q.TopLimit == 0 {
		return a, nil
	}
	top := min(q.TopLimit, 50)
	lists := []struct {
		into  *[]audit.Count
		name  string // the grouping column
		label string // its label, or ''
		where string
	}{
		{&a.TopKeys, "key_id", "MAX(key_name)", "outcome IN ('allowed', 'blocked') AND key_id <> ''"},
		{&a.TopPaths, "path", "''", "outcome IN ('allowed', 'blocked')"},
		{&a.BlockedReasons, "rule", "''", "outcome = 'blocked'"},
		{&a.RateLimitStats, "rule", "''", "outcome = 'blocked' AND limited"},
	}
	for _, l := range lists {
		r, err := s.b.Query(ctx, `SELECT `+l.name+`, `+l.label+`, `+sumCounts+` FROM (`+src+`) src
			WHERE `+l.where+` GROUP BY `+l.name+`
			ORDER BY CAST(SUM(n) AS BIGINT) DESC, `+l.name+` LIMIT `+strconv.Itoa(top), args...)
		if err != nil {
			return audit.Analytics{}, dbErr(err)
		}
		list := []audit.Count{}
		for r.Next() {
			var c audit.Count
			if err := r.Scan(&c.Name, &c.Label, &c.Allowed, &c.Blocked); err != nil {
				r.Close()
				return audit.Analytics{}, dbErr(err)
			}
			c.Total = c.Allowed + c.Blocked
			list = append(list, c)
		}
		err = r.Err()
		r.Close()
		if err != nil {
			return audit.Analytics{}, dbErr(err)
		}
		*l.into = list
	}
	return a, nil
}

// AccessTimeseries answers one bucket per interval from the interval holding
// since to until, empty ones included, from the rollups. Intervals are UTC:
// weeks start on Monday, months on the 1st. ErrInvalid for an unknown
// interval, a missing or reversed window, or more than 50,000 buckets.
func (s *Store) AccessTimeseries(ctx context.Context, app string, since, until time.Time, interval string) ([]audit.Bucket, error) {
	return s.accessTimeseries(ctx, app, "", since, until, interval)
}

// AccessTimeseriesOfKey is AccessTimeseries restricted to one key.
func (s *Store) AccessTimeseriesOfKey(ctx context.Context, app, key string, since, until time.Time, interval string) ([]audit.Bucket, error) {
	return s.accessTimeseries(ctx, app, key, since, until, interval)
}

func (s *Store) accessTimeseries(ctx context.Context, app, key string, since, until time.Time, interval string) ([]audit.Bucket, error) {
	if since.IsZero() || until.IsZero() || !since.Before(until) {
		return nil, invalid("a time series needs a start before its end")
	}
	iv, ok := intervals[interval]
	if !ok {
		return nil, invalid("interval %q must be one of minute, hour, day, week, month", interval)
	}
	var buckets []audit.Bucket
	index := map[int64]int{}
	for t := iv.start(since.UTC()); t.Before(until); t = iv.next(t) {
		if len(buckets) == maxBuckets {
			return nil, invalid("the time series would have more than %d %s buckets: choose a longer interval or a shorter window", maxBuckets, interval)
		}
		index[t.UnixNano()] = len(buckets)
		buckets = append(buckets, audit.Bucket{Start: t})
	}
	src, args := accessSource(cleanText(app), cleanText(key), since, until)
	stepS := strconv.FormatInt(iv.group, 10)
	r, err := s.b.Query(ctx, `SELECT minute - (minute % `+stepS+`) AS b, `+sumCounts+`
		FROM (`+src+`) src GROUP BY minute - (minute % `+stepS+`)`, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer r.Close()
	for r.Next() {
		var b, allowed, blocked int64
		if err := r.Scan(&b, &allowed, &blocked); err != nil {
			return nil, dbErr(err)
		}
		i, ok := index[iv.start(fromNS(b).UTC()).UnixNano()]
		if !ok {
			continue
		}
		buckets[i].Allowed += allowed
		buckets[i].Blocked += blocked
		buckets[i].Total += allowed + blocked
	}
	return buckets, dbErr(r.Err())
}

// timeStep is one interval of a time series (UTC: weeks start on Monday,
// months on the 1st).
type timeStep struct {
	// group is the SQL grouping of the rollup minutes, in ns: every bucket
	// is a whole number of groups.
	group int64
	// start returns the start of the bucket holding t (t is UTC).
	start func(t time.Time) time.Time
	// next returns the start of the bucket after the one starting at t.
	next func(t time.Time) time.Time
}

// intervals are the time series' intervals, by name.
var intervals = map[string]timeStep{
	audit.IntervalMinute: {minuteNS, truncateTo(time.Minute), plus(time.Minute)},
	audit.IntervalHour:   {int64(time.Hour), truncateTo(time.Hour), plus(time.Hour)},
	audit.IntervalDay:    {dayNS, midnight, plusDate(0, 0, 1)},
	audit.IntervalWeek:   {dayNS, monday, plusDate(0, 0, 7)},
	audit.IntervalMonth:  {dayNS, firstOfMonth, plusDate(0, 1, 0)},
}

const dayNS = int64(24 * time.Hour)

func truncateTo(d time.Duration) func(time.Time) time.Time {
	return func(t time.Time) time.Time { return t.Truncate(d) }
}

func plus(d time.Duration) func(time.Time) time.Time {
	return func(t time.Time) time.Time { return t.Add(d) }
}

func plusDate(years, months, days int) func(time.Time) time.Time {
	return func(t time.Time) time.Time { return t.AddDate(years, months, days) }
}

func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func monday(t time.Time) time.Time {
	d := midnight(t)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

func firstOfMonth(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// AccessLog is the verification log as the drivers expose it: they embed
// it (set to their Store), so that *sqlite.SQLite and *postgres.Postgres
// are audit.AccessWriter and audit.AccessReader.
type AccessLog interface {
	audit.AccessWriter
	audit.AccessReader
	// AccessTimeseriesOfKey is AccessTimeseries restricted to one key.
	AccessTimeseriesOfKey(ctx context.Context, app, key string, since, until time.Time, interval string) ([]audit.Bucket, error)
	// PruneAccess deletes the verification events and rollups past their
	// retention now; the store also does so in the background.
	PruneAccess(ctx context.Context) (int64, error)
}

var _ AccessLog = (*Store)(nil)
