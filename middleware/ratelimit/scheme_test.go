package ratelimit_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ratelimit"
)

func TestValidateRules(t *testing.T) {
	ok := ratelimit.SchemeRule{Unit: "minute", Duration: 1, MaxRequests: 10}
	with := func(f func(r *ratelimit.SchemeRule)) []ratelimit.SchemeRule {
		r := ok
		f(&r)
		return []ratelimit.SchemeRule{ok, r}
	}
	for _, tc := range []struct {
		name  string
		rules []ratelimit.SchemeRule
		want  string // "" = valid; else a part of the message
	}{
		{"valid", with(func(r *ratelimit.SchemeRule) {
			r.Mode, r.Endpoints, r.Priority = "per_app_and_ip", []string{"/v1/orders", "/v1/admin/*"}, 5
		}), ""},
		{"every mode", with(func(r *ratelimit.SchemeRule) { r.Mode = "per_key_and_ip" }), ""},
		{"unknown unit", with(func(r *ratelimit.SchemeRule) { r.Unit = "week" }), "rules[1].unit must be one of"},
		{"calendar unit", with(func(r *ratelimit.SchemeRule) { r.Unit = "calendar_month" }), ""},
		{"calendar unit of two", with(func(r *ratelimit.SchemeRule) { r.Unit, r.Duration = "calendar_day", 2 }), "rules[1].duration must be 1 with unit calendar_day"},
		{"zero duration", with(func(r *ratelimit.SchemeRule) { r.Duration = 0 }), "rules[1].duration must be positive"},
		{"huge window", with(func(r *ratelimit.SchemeRule) { r.Unit, r.Duration = "day", 401 }), "longer than 400 days"},
		{"overflowing window", with(func(r *ratelimit.SchemeRule) { r.Unit, r.Duration = "month", 1<<62 }), "longer than 400 days"},
		{"zero max", with(func(r *ratelimit.SchemeRule) { r.MaxRequests = 0 }), "rules[1].max_requests must be positive"},
		{"unknown mode", with(func(r *ratelimit.SchemeRule) { r.Mode = "per_user" }), "rules[1].mode must be one of"},
		{"relative endpoint", with(func(r *ratelimit.SchemeRule) { r.Endpoints = []string{"v1"} }), "rules[1].endpoints[0] must be a path"},
		{"inner star", with(func(r *ratelimit.SchemeRule) { r.Endpoints = []string{"/v1/*/x"} }), `"*" only as its last`},
		{"query", with(func(r *ratelimit.SchemeRule) { r.Endpoints = []string{"/v1?a=1"} }), "query string"},
		{"space", with(func(r *ratelimit.SchemeRule) { r.Endpoints = []string{"/v1 x"} }), "spaces"},
		{"bidi", with(func(r *ratelimit.SchemeRule) { r.Endpoints = []string{"/v1\u202e"} }), "invisible"},
		{"long endpoint", with(func(r *ratelimit.SchemeRule) { r.Endpoints = []string{"/" + strings.Repeat("a", 300)} }), "at most 256"},
		{"too many rules", make([]ratelimit.SchemeRule, 33), "at most 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ratelimit.ValidateRules("rules", tc.rules)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ValidateRules = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ratelimit.ErrBadRule) {
				t.Fatalf("ValidateRules = %v, want ErrBadRule containing %q", err, tc.want)
			}
		})
	}
}

func TestSchemeRuleWindow(t *testing.T) {
	for _, tc := range []struct {
		unit ratelimit.Unit
		n    int
		want time.Duration
	}{
		{"millisecond", 500, 500 * time.Millisecond}, {"second", 30, 30 * time.Second}, {"minute", 1, time.Minute},
		{"hour", 2, 2 * time.Hour}, {"day", 1, 24 * time.Hour}, {"month", 1, 30 * 24 * time.Hour},
		{"calendar_day", 1, 24 * time.Hour}, {"calendar_month", 1, 31 * 24 * time.Hour},
	} {
		r := ratelimit.SchemeRule{Unit: tc.unit, Duration: tc.n, MaxRequests: 1, Mode: "per_ip"}.Rule()
		if r.Per != tc.want || r.Scope != ratelimit.ScopeIP || r.Max != 1 {
			t.Errorf("%d %s: %+v, want per %v in scope ip", tc.n, tc.unit, r, tc.want)
		}
	}
}

func decide(t *testing.T, l ratelimit.Limiter, s ratelimit.Subject, sets ...*ratelimit.Limits) ratelimit.Decision {
	t.Helper()
	d, err := ratelimit.Decide(context.Background(), l, s, sets...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDecideEndpoints: a rule counts only the paths it names; "*" is a
// prefix; a query string does not change the path.
func TestDecideEndpoints(t *testing.T) {
	lim, err := ratelimit.Compile(ratelimit.RuleSet{Name: "s", Namespace: "s", Rules: []ratelimit.SchemeRule{
		{Unit: "minute", Duration: 1, MaxRequests: 1, Endpoints: []string{"/v1/orders"}},
		{Unit: "minute", Duration: 1, MaxRequests: 1, Endpoints: []string{"/v1/admin/*"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/v1/orders", []string{"s[0]"}},
		{"/v1/orders?page=2", []string{"s[0]"}},
		{"/v1/orders/7", nil},
		{"/v1/admin/users", []string{"s[1]"}},
		{"/v1/admin/", []string{"s[1]"}},
		{"/v1/admin", nil},
		{"/v1/other", nil},
	} {
		d := decide(t, ratelimit.NewMemory(nil), ratelimit.Subject{KeyID: "k", Path: tc.path}, lim)
		var got []string
		for _, c := range d.Counted {
			got = append(got, c.Rule)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") || !d.Allowed {
			t.Errorf("%s: counted %v (allowed %v), want %v", tc.path, got, d.Allowed, tc.want)
		}
	}
}

// TestDecidePriority: rules are evaluated by priority, higher first; of
// two refusing rules the first in that order is named, and the retry is
// the longest.
func TestDecidePriority(t *testing.T) {
	lim, err := ratelimit.Compile(ratelimit.RuleSet{Name: "gold", Namespace: "gold", Rules: []ratelimit.SchemeRule{
		{Unit: "hour", Duration: 1, MaxRequests: 1, Priority: 1},
		{Unit: "minute", Duration: 1, MaxRequests: 1, Priority: 10},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lim.Names(), ","); got != "gold[1],gold[0]" {
		t.Fatalf("order %s, want gold[1],gold[0]", got)
	}
	l := ratelimit.NewMemory(nil)
	s := ratelimit.Subject{KeyID: "k", Path: "/"}
	if d := decide(t, l, s, lim); !d.Allowed || len(d.Counted) != 2 {
		t.Fatalf("first: %+v", d)
	}
	d := decide(t, l, s, lim)
	if d.Allowed || d.Rule != "gold[1]" || d.Shown.Limit != 1 || d.Shown.RetryAfter <= 59*time.Minute {
		t.Fatalf("second: %+v, want blocked by gold[1] with the hour's retry", d)
	}
}

// TestDecideModes: per_key_and_ip counts each key at each address apart;
// per_app_and_ip each app at each address; namespaces keep two sets with
// the same rule apart.
func TestDecideModes(t *testing.T) {
	compile := func(ns string, mode ratelimit.Mode) *ratelimit.Limits {
		l, err := ratelimit.Compile(ratelimit.RuleSet{Name: ns, Namespace: ns, Rules: []ratelimit.SchemeRule{
			{Unit: "minute", Duration: 1, MaxRequests: 1, Mode: mode}}})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := ratelimit.NewMemory(nil)
	keyIP := compile("a", ratelimit.ModePerKeyAndIP)
	s := ratelimit.Subject{KeyID: "k1", AppSlug: "app", ClientIP: "203.0.113.1", Path: "/"}
	if !keyIP.NeedsIP() {
		t.Fatal("per_key_and_ip does not need the IP")
	}
	decide(t, l, s, keyIP)
	if d := decide(t, l, s, keyIP); d.Allowed {
		t.Fatal("same key, same IP: allowed twice")
	}
	s2 := s
	s2.ClientIP = "203.0.113.2"
	if d := decide(t, l, s2, keyIP); !d.Allowed {
		t.Fatal("same key, other IP: refused")
	}
	s3 := s
	s3.KeyID = "k2"
	if d := decide(t, l, s3, keyIP); !d.Allowed {
		t.Fatal("other key, same IP: refused")
	}
	appIP := compile("b", ratelimit.ModePerAppAndIP)
	decide(t, l, s, appIP)
	if d := decide(t, l, s3, appIP); d.Allowed {
		t.Fatal("per_app_and_ip: another key of the app at the same IP was allowed")
	}
	if d := decide(t, l, s2, appIP); !d.Allowed {
		t.Fatal("per_app_and_ip: same app at another IP was refused")
	}
	// Same rule, another namespace: its own count.
	if d := decide(t, l, s, compile("c", ratelimit.ModePerKeyAndIP)); !d.Allowed {
		t.Fatal("a set in another namespace shares the count")
	}
}

// TestDecideIPForms: an address counts as itself whatever its spelling
// (an IPv4-mapped IPv6 form, upper case, zeros written out), so that a
// caller cannot escape a per-IP rule by respelling its address.
func TestDecideIPForms(t *testing.T) {
	for _, forms := range [][]string{
		{"203.0.113.7", "::ffff:203.0.113.7", "::FFFF:CB00:7107", "0:0:0:0:0:ffff:cb00:7107"},
		{"2001:db8::1", "2001:DB8::1", "2001:db8:0:0:0:0:0:1", "2001:0db8::0001"},
	} {
		lim, err := ratelimit.Compile(ratelimit.RuleSet{Name: "ip", Namespace: "ip", Rules: []ratelimit.SchemeRule{
			{Unit: "minute", Duration: 1, MaxRequests: 1, Mode: ratelimit.ModePerIP}}})
		if err != nil {
			t.Fatal(err)
		}
		l := ratelimit.NewMemory(nil)
		decide(t, l, ratelimit.Subject{KeyID: "k", ClientIP: forms[0], Path: "/"}, lim)
		for _, ip := range forms[1:] {
			if d := decide(t, l, ratelimit.Subject{KeyID: "k", ClientIP: ip, Path: "/"}, lim); d.Allowed {
				t.Errorf("%s after %s: allowed, want counted as the same address", ip, forms[0])
			}
		}
	}
}

func TestDecideNoRules(t *testing.T) {
	d := decide(t, ratelimit.NewMemory(nil), ratelimit.Subject{Path: "/"}, nil, ratelimit.Static(nil))
	if !d.Allowed || len(d.Counted) != 0 {
		t.Fatalf("no rules: %+v", d)
	}
}

// TestMemoryCalendarWindows: a calendar_day window ends at midnight UTC
// whenever it opened, and a calendar_month one on the first of the month.
func TestMemoryCalendarWindows(t *testing.T) {
	now := time.Date(2026, 3, 31, 23, 59, 30, 0, time.UTC)
	l := ratelimit.NewMemory(func() time.Time { return now })
	day := ratelimit.SchemeRule{Unit: "calendar_day", Duration: 1, MaxRequests: 1}.Rule()
	month := ratelimit.SchemeRule{Unit: "calendar_month", Duration: 1, MaxRequests: 1}.Rule()
	for _, rule := range []ratelimit.Rule{day, month} {
		if r, _ := l.Allow(context.Background(), "k", rule); !r.Allowed || r.Reset != 30*time.Second {
			t.Fatalf("%s first: %+v, want allowed, reset in 30 s (at midnight)", rule, r)
		}
		if r, _ := l.Allow(context.Background(), "k", rule); r.Allowed || r.RetryAfter != 30*time.Second {
			t.Fatalf("%s second: %+v, want refused for 30 s", rule, r)
		}
	}
	now = now.Add(30 * time.Second) // April 1st, 00:00
	if r, _ := l.Allow(context.Background(), "k", day); !r.Allowed || r.Reset != 24*time.Hour {
		t.Fatalf("day after midnight: %+v, want a new window of 24 h", r)
	}
	if r, _ := l.Allow(context.Background(), "k", month); !r.Allowed || r.Reset != 30*24*time.Hour {
		t.Fatalf("month after the first: %+v, want a new window to May 1st", r)
	}
	if day.String() == (ratelimit.Rule{Max: 1, Per: 24 * time.Hour}).String() {
		t.Fatal("a calendar rule shares its counters' name with a rolling one")
	}
	if err := (ratelimit.Rule{Max: 1, Per: time.Hour, Calendar: "week"}).Validate(); err == nil {
		t.Fatal("calendar week accepted")
	}
}

// TestSchemeRuleStrictJSON: a misspelt member is refused with its name,
// not dropped (which would make an endpoint rule apply everywhere).
func TestSchemeRuleStrictJSON(t *testing.T) {
	var r ratelimit.SchemeRule
	if err := json.Unmarshal([]byte(`{"unit":"minute","duration":1,"max_requests":5,"endpoints":["/v1/x"],"priority":2,"mode":"per_ip"}`), &r); err != nil ||
		r.Endpoints[0] != "/v1/x" || r.Mode != "per_ip" || r.Priority != 2 {
		t.Fatalf("valid rule: %+v, %v", r, err)
	}
	for body, want := range map[string]string{
		`{"unit":"minute","duration":1,"max_requests":5,"endpoint":["/v1/x"]}`: `rate-limit rule: unknown field "endpoint"`,
		`{"unit":"minute","duration":"1","max_requests":5}`:                    "rate-limit rule: field duration must be an integer in range",
	} {
		var r ratelimit.SchemeRule
		err := json.Unmarshal([]byte(body), &r)
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}
