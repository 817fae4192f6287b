package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// usageReport is what keyportal usage prints: an app's verified requests
// over a window, read from the local store's verification log or from
// Wacht's (or keyportal serve's) audit analytics and time series.
type usageReport struct {
	App         string     `json:"app"`
	Since       time.Time  `json:"since"`
	Until       time.Time  `json:"until"`
	Total       int64      `json:"total_requests"`
	Allowed     int64      `json:"allowed_requests"`
	Blocked     int64      `json:"blocked_requests"`
	SuccessRate float64    `json:"success_rate"`
	KeysUsed24h int64      `json:"keys_used_24h"`
	Shed        int64      `json:"shed_events"`
	TopKeys     []usageKey `json:"top_keys"`
	Days        []usageDay `json:"days"`
}

type usageKey struct {
	ID       string `json:"key_id"`
	Name     string `json:"key_name"`
	Requests int64  `json:"total_requests"`
}

type usageDay struct {
	Day     string `json:"date"`
	Total   int64  `json:"total_requests"`
	Allowed int64  `json:"allowed_requests"`
	Blocked int64  `json:"blocked_requests"`
}

func (c *cli) usageCommand() *cobra.Command {
	var src sourceFlags
	var app, since, until string
	var top int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "usage --app SLUG [--since 7d] [--until TIME] [--top N]",
		Short: "Show an app's API-key usage: totals, top keys and requests per day",
		Long: `usage sums the verification log of an app: every request RequireAPIKey
or /v1/authz/check let through or blocked. It prints the totals (allowed,
blocked, success rate, keys used in the last 24 hours), the keys with the
most requests, and one row per day (UTC). With --wacht it reads the same
from Wacht's backend API (or keyportal serve's).

--since and --until take a duration back from now (24h, 7d) or a time
(RFC 3339, or a date 2006-01-02); the default window is the last 7 days.`,
		Example: `  keyportal usage --app aa_42
  keyportal usage --app aa_42 --since 30d --top 5 --json | jq .top_keys`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if app == "" {
				return usageErrorf(cmd, "--app is required: the app whose usage to show (e.g. aa_42)")
			}
			if top < 1 || top > 50 {
				return usageErrorf(cmd, "--top must be 1 to 50, got %d", top)
			}
			r := usageReport{App: app}
			var err error
			if r.Since, r.Until, err = c.parseWindow(cmd, since, until, c.now()); err != nil {
				return err
			}
			ctx := cmd.Context()
			err = src.use(ctx, c, false, func(cl *wacht.Client) error {
				return r.fromWacht(ctx, cl, top)
			}, func(s keystore.Store) error {
				return r.fromStore(ctx, s, top)
			})
			if err != nil {
				return err
			}
			if asJSON {
				return jsonLine(c.out, r)
			}
			return c.printUsage(r)
		},
	}
	src.add(cmd)
	f := cmd.Flags()
	f.StringVar(&app, "app", "", "the app (slug, e.g. aa_42)")
	f.StringVar(&since, "since", "7d", "from this long ago (24h, 7d) or this time (RFC 3339)")
	f.StringVar(&until, "until", "", "up to this long ago or this time (default now)")
	f.IntVar(&top, "top", 10, "how many top keys, 1 to 50")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	return cmd
}

func (r *usageReport) fromStore(ctx context.Context, s keystore.Store, top int) error {
	reader, ok := s.(audit.AccessReader)
	if !ok {
		return failf("Use --db or --postgres (both keep the verification log).", "this store keeps no verification log")
	}
	if _, err := s.GetApp(ctx, r.App); err != nil {
		return storeError(err, "app "+r.App)
	}
	a, err := reader.AccessAnalytics(ctx, audit.AnalyticsQuery{AppSlug: r.App, Since: r.Since, Until: r.Until, TopLimit: top})
	if err != nil {
		return storeError(err, "read the verification log")
	}
	r.Total, r.Allowed, r.Blocked, r.KeysUsed24h, r.Shed = a.Total, a.Allowed, a.Blocked, a.KeysUsed24h, a.Shed
	r.SuccessRate = audit.Percent(a.Allowed, a.Total)
	r.TopKeys = []usageKey{}
	for _, k := range a.TopKeys {
		r.TopKeys = append(r.TopKeys, usageKey{ID: k.Name, Name: k.Label, Requests: k.Total})
	}
	days, err := reader.AccessTimeseries(ctx, r.App, r.Since, r.Until, audit.IntervalDay)
	if err != nil {
		return storeError(err, "read the verification log")
	}
	r.Days = []usageDay{}
	for _, d := range days {
		r.Days = append(r.Days, usageDay{Day: d.Start.Format(time.DateOnly), Total: d.Total, Allowed: d.Allowed, Blocked: d.Blocked})
	}
	return nil
}

func (r *usageReport) fromWacht(ctx context.Context, cl *wacht.Client, top int) error {
	a, err := cl.AuditAnalytics(ctx, r.App, wacht.AnalyticsQuery{Start: r.Since, End: r.Until, TopKeys: true, TopLimit: top})
	if err != nil {
		return storeError(err, "usage of "+r.App)
	}
	r.Total, r.Allowed, r.Blocked, r.KeysUsed24h, r.Shed = a.TotalRequests, a.AllowedRequests, a.BlockedRequests, a.KeysUsed24h, a.ShedEvents
	r.SuccessRate = audit.Percent(a.AllowedRequests, a.TotalRequests)
	r.TopKeys = []usageKey{}
	for _, k := range a.TopKeys {
		r.TopKeys = append(r.TopKeys, usageKey{ID: k.KeyID, Name: k.KeyName, Requests: k.TotalRequests})
	}
	s, err := cl.AuditTimeseries(ctx, r.App, wacht.TimeseriesQuery{Start: r.Since, End: r.Until, Interval: wacht.IntervalDay})
	if err != nil {
		return storeError(err, "usage of "+r.App)
	}
	r.Days = []usageDay{}
	for _, p := range s.Points {
		r.Days = append(r.Days, usageDay{Day: p.Timestamp.UTC().Format(time.DateOnly), Total: p.TotalRequests,
			Allowed: p.AllowedRequests, Blocked: p.BlockedRequests})
	}
	return nil
}

func (c *cli) printUsage(r usageReport) error {
	st := c.style(c.out)
	fmt.Fprintf(c.out, "%s  %s → %s\n", st.bold(printable(r.App)), fmtTime(r.Since), fmtTime(r.Until))
	fmt.Fprintf(c.out, "requests %d  allowed %s  blocked %s  success %.2f%%  keys used in the last 24 h %d\n",
		r.Total, st.green(fmt.Sprint(r.Allowed)), st.yellow(fmt.Sprint(r.Blocked)), r.SuccessRate, r.KeysUsed24h)
	if r.Shed > 0 {
		fmt.Fprintf(c.out, "%s\n", st.red(fmt.Sprintf("%d verifications were not recorded (the recorder was overloaded)", r.Shed)))
	}
	fmt.Fprintln(c.out)
	if err := printList(c, false, nil, r.TopKeys, "no key was used", []string{"KEY", "NAME", "REQUESTS"},
		func(st style, k usageKey) []string {
			return []string{st.plain(k.ID), st.plain(k.Name), st.plain(fmt.Sprint(k.Requests))}
		}, nil); err != nil {
		return err
	}
	fmt.Fprintln(c.out)
	return printList(c, false, nil, r.Days, "no days in the window", []string{"DAY", "REQUESTS", "ALLOWED", "BLOCKED"},
		func(st style, d usageDay) []string {
			return []string{st.plain(d.Day), st.plain(fmt.Sprint(d.Total)), st.plain(fmt.Sprint(d.Allowed)), st.plain(fmt.Sprint(d.Blocked))}
		}, nil)
}
