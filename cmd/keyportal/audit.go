package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyportal/keyportal/middleware/audit"
)

func (c *cli) auditCommand() *cobra.Command {
	var sf storeFlags
	var q audit.Query
	var since, until string
	var follow, asJSON bool
	cmd := &cobra.Command{
		Use:   "audit [--tenant T] [--app SLUG] [--action A] [--since 24h|RFC3339] [--follow]",
		Short: "Read the audit trail: ticket attempts and key lifecycle events",
		Long: `audit prints the audit trail of the key store, oldest first: every ticket
attempt (ticket.issue, with its outcome and the reason of a refusal), ticket
exchanges and rejections at the portal, and every key created, rotated or
revoked, with who, which tenant and app, and why.

--since and --until take a duration back from now (90m, 24h, 7d) or a time
(RFC 3339, or a date 2006-01-02). --action takes an action (key.revoked) or a
family ending in a dot (key.). --follow keeps printing new events as they
arrive until interrupted (Ctrl-C).`,
		Example: `  keyportal audit --tenant acme --since 24h
  keyportal audit --app aa_42 --action key. --json | jq .
  keyportal audit --action ticket.issue --follow`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if q.Since, q.Until, err = c.parseWindow(cmd, since, until, time.Time{}); err != nil {
				return err
			}
			if q.Limit < 1 || q.Limit > 1000 {
				return usageErrorf(cmd, "--limit must be 1 to 1000, got %d", q.Limit)
			}
			if follow && !q.Until.IsZero() {
				return usageErrorf(cmd, "--follow waits for new events; it cannot be combined with --until")
			}
			s, err := sf.open(cmd.Context(), c, false)
			if err != nil {
				return err
			}
			defer closeStore(s)
			return c.printAudit(cmd.Context(), s, q, follow, asJSON)
		},
	}
	sf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&q.Tenant, "tenant", "", "only this tenant's events")
	f.StringVar(&q.AppSlug, "app", "", "only this app's events (slug, e.g. aa_42)")
	f.StringVar(&q.Action, "action", "", "only this action (e.g. key.revoked), or a family ending in '.' (key.)")
	f.StringVar(&q.Actor, "actor", "", "only this actor's events (a user, backend-api or cli)")
	f.StringVar(&q.KeyID, "key", "", "only this key's events")
	f.StringVar(&since, "since", "", "from this long ago (24h, 7d) or this time (RFC 3339)")
	f.StringVar(&until, "until", "", "up to this long ago or this time")
	f.IntVar(&q.Limit, "limit", 50, "at most this many events (the newest), 1 to 1000")
	f.BoolVar(&follow, "follow", false, "keep printing new events until interrupted")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per event")
	_ = cmd.RegisterFlagCompletionFunc("action", fixedCompletion(
		audit.ActionTicketIssue, audit.ActionTicketExchanged, audit.ActionTicketRejected, audit.ActionSessionExpired,
		audit.ActionKeyCreated, audit.ActionKeyRotated, audit.ActionKeyRevoked, "key.", "ticket.", "app."))
	return cmd
}

// parseWindow reads --since and --until (parseSince), an empty --until
// being end (the zero time: an open end), and refuses a window that ends
// before it starts, which would only print that nothing matches.
func (c *cli) parseWindow(cmd *cobra.Command, since, until string, end time.Time) (from, to time.Time, err error) {
	if from, err = c.parseSince(since); err != nil {
		return from, to, usageErrorf(cmd, "--since: %v", err)
	}
	if to, err = c.parseSince(until); err != nil {
		return from, to, usageErrorf(cmd, "--until: %v", err)
	}
	if to.IsZero() {
		to = end
	}
	if !to.IsZero() && !to.After(from) {
		return from, to, usageErrorf(cmd, "--until must be after --since")
	}
	return from, to, nil
}

// parseSince reads "24h", "7d", an RFC 3339 time or a date; "" is zero.
func (c *cli) parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return c.now().Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q is negative; give how long ago, e.g. 24h", s)
		}
		return c.now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (90m, 24h, 7d) nor a time (2026-11-26T09:00:00Z, 2026-11-26)", s)
}

// auditWidths are the column widths of the audit table: fixed, so that rows
// printed later by --follow line up with the first ones.
var auditWidths = []int{20, 16, 7, 16, 10, 10, 8, 30, 0}

var auditHeader = []string{"TIME", "ACTION", "OUTCOME", "REASON", "ACTOR", "TENANT", "APP", "KEY/RESOURCE", "DETAIL"}

func (c *cli) printAudit(ctx context.Context, r audit.Reader, q audit.Query, follow, asJSON bool) error {
	page, err := r.QueryAudit(ctx, q)
	if err != nil {
		return storeError(err, "read the audit trail")
	}
	events := page.Events
	slices.Reverse(events) // oldest first, as a log reads
	st := c.style(c.out)
	if !asJSON {
		if len(events) == 0 && !follow {
			fmt.Fprintln(c.out, "no events match")
			return nil
		}
		c.auditRow(st, auditHeader, true)
	}
	if err := c.writeEvents(events, asJSON); err != nil {
		return err
	}
	if page.NextCursor != "" && !follow {
		fmt.Fprintf(c.errOut, "note: showing the newest %d events; narrow with --since or raise --limit\n", len(events))
	}
	if !follow {
		return nil
	}
	return c.followAudit(ctx, r, q, events, asJSON)
}

// followAudit polls for events newer than the last one printed until ctx
// ends. Since is inclusive, so events at the last printed time are asked
// again and skipped by id.
func (c *cli) followAudit(ctx context.Context, r audit.Reader, q audit.Query, printed []audit.Event, asJSON bool) error {
	// With nothing printed, nothing matched since q.Since: ask from there,
	// rather than from this machine's clock, which may run ahead of the
	// server's.
	last := q.Since
	seen := map[string]bool{}
	if n := len(printed); n > 0 {
		last = printed[n-1].Time
		for _, e := range printed {
			if e.Time.Equal(last) {
				seen[e.ID] = true
			}
		}
	}
	tick := time.NewTicker(c.pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		q.Since, q.Cursor, q.Limit = last, "", 1000
		var fresh []audit.Event
		for {
			page, err := r.QueryAudit(ctx, q)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return storeError(err, "read the audit trail")
			}
			fresh = append(fresh, page.Events...)
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
		}
		slices.Reverse(fresh)
		var out []audit.Event
		for _, e := range fresh {
			if seen[e.ID] {
				continue
			}
			out = append(out, e)
		}
		if len(out) == 0 {
			continue
		}
		if t := out[len(out)-1].Time; t.After(last) {
			last = t
			clear(seen)
		}
		for _, e := range out {
			if e.Time.Equal(last) {
				seen[e.ID] = true
			}
		}
		if err := c.writeEvents(out, asJSON); err != nil {
			return err
		}
	}
}

func (c *cli) writeEvents(events []audit.Event, asJSON bool) error {
	st := c.style(c.out)
	for _, e := range events {
		if asJSON {
			if err := jsonLine(c.out, e); err != nil {
				return err
			}
			continue
		}
		target := e.KeyID
		if target == "" && e.Resource != "" {
			target = "deployment " + e.Resource
		}
		c.auditRow(st, []string{fmtTime(e.Time), e.Action, e.Outcome, orDash(e.Reason), orDash(e.Actor),
			orDash(e.Tenant), orDash(e.AppSlug), orDash(target), e.Detail}, false)
	}
	return nil
}

// auditRow prints one row padded to auditWidths, each cell printable; the
// outcome is coloured.
func (c *cli) auditRow(st style, cells []string, header bool) {
	var b strings.Builder
	for i, cell := range cells {
		cell = printable(cell)
		text := cell
		pad := ""
		if w := auditWidths[i]; w > 0 && i < len(cells)-1 {
			pad = strings.Repeat(" ", max(w-len([]rune(cell)), 0)+2)
		}
		switch {
		case header:
			text = st.bold(cell)
		case i == 2:
			text = st.paint(outcomeColor(cell), cell)
		}
		b.WriteString(text + pad)
	}
	fmt.Fprintln(c.out, strings.TrimRight(b.String(), " "))
}

func outcomeColor(o string) string {
	switch o {
	case audit.OutcomeDenied:
		return "33"
	case audit.OutcomeError:
		return "31"
	case audit.OutcomeIssued, audit.OutcomeSuccess:
		return "32"
	}
	return "39"
}
