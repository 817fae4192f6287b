// Package storetest is the contract every keystore driver passes (Run), and
// the helpers the drivers' own tests share.
package storetest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
)

// newFakeClock returns the injected clock of the contract tests.
func newFakeClock() *testenv.Clock {
	return testenv.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// together runs f(0), …, f(n-1) in n goroutines released at the same moment,
// and waits for all of them.
func together(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// Opener opens a fresh, empty store with opts; the test cleans it up.
type Opener func(t *testing.T, opts keystore.Options) keystore.Store

// Issued collects every secret and ticket id a suite hands out, so that a
// driver test can check none of them reached the database files.
type Issued struct {
	mu     sync.Mutex
	values []string
}

func (i *Issued) add(v string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.values = append(i.values, v)
	i.mu.Unlock()
}

// All returns what was handed out so far.
func (i *Issued) All() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]string(nil), i.values...)
}

// recording wraps a store and notes the secrets and ticket ids it sees.
type recording struct {
	keystore.Store
	seen *Issued
}

func (r recording) CreateKey(ctx context.Context, k keystore.NewKey, by keystore.Actor) (keystore.Key, string, error) {
	key, secret, err := r.Store.CreateKey(ctx, k, by)
	r.seen.add(secret)
	return key, secret, err
}

func (r recording) RotateKey(ctx context.Context, app, id string, grace time.Duration, by keystore.Actor) (keystore.Key, string, error) {
	key, secret, err := r.Store.RotateKey(ctx, app, id, grace, by)
	r.seen.add(secret)
	return key, secret, err
}

func (r recording) ConsumeTicket(ctx context.Context, id string, exp time.Time) error {
	r.seen.add(id)
	return r.Store.ConsumeTicket(ctx, id, exp)
}

// Alice is the actor of the changes the helpers make.
var Alice = keystore.Actor{Name: "alice", RequestID: "req-1", ClientIP: "192.0.2.1"}

var (
	secretRE = regexp.MustCompile(`^acme_[A-Za-z0-9_-]{43}$`)
	keyIDRE  = regexp.MustCompile(`^key_[a-z2-7]{26}$`)
)

// DemoApp is a valid app of tenant (not stored).
func DemoApp(slug, tenant string) keystore.App {
	return keystore.App{
		DeploymentID: strings.TrimPrefix(slug, "aa_"), Slug: slug, Name: "Acme API " + slug,
		KeyPrefix: "acme", Tenant: tenant, Permissions: []string{"read", "write"},
		AllowedOrigins: []string{"https://App.Acme.test", "http://localhost:8080"},
	}
}

// MustApp stores DemoApp(slug, tenant), failing t on error.
func MustApp(t *testing.T, s keystore.Store, slug, tenant string) keystore.App {
	t.Helper()
	a, err := s.CreateApp(context.Background(), DemoApp(slug, tenant), Alice)
	if err != nil {
		t.Fatalf("CreateApp(%s): %v", slug, err)
	}
	return a
}

// MustKey creates a key of app slug with "read" and some metadata, failing t
// on error, and returns it with its secret.
func MustKey(t *testing.T, s keystore.Store, slug, name string, expires *time.Time) (keystore.Key, string) {
	t.Helper()
	k, secret, err := s.CreateKey(context.Background(), keystore.NewKey{AppSlug: slug, Name: name, ExpiresAt: expires,
		Permissions: []string{"read"}, Metadata: map[string]any{"team": "billing"}}, Alice)
	if err != nil {
		t.Fatalf("CreateKey(%s, %s): %v", slug, name, err)
	}
	return k, secret
}

// WantErr fails t unless errors.Is(err, want).
func WantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func keyIDs(keys []keystore.Key) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	sort.Strings(ids)
	return ids
}

func sorted(ids ...string) []string {
	sort.Strings(ids)
	return ids
}

// Run checks the behaviour every Store must have against stores from open;
// seen, when not nil, collects the secrets and ticket ids handed out.
func Run(t *testing.T, open Opener, seen *Issued) {
	openStore := func(t *testing.T) (keystore.Store, *testenv.Clock) {
		clock := newFakeClock()
		return recording{open(t, keystore.Options{Now: clock.Now}), seen}, clock
	}
	ctx := context.Background()

	t.Run("AuditRetention", func(t *testing.T) { auditRetention(t, open) })
	t.Run("Schemes", func(t *testing.T) { schemes(t, openStore) })
	t.Run("AccessLog", func(t *testing.T) { accessLog(t, open) })

	t.Run("Apps", func(t *testing.T) {
		s, clock := openStore(t)
		a := MustApp(t, s, "aa_42", "acme")
		if !a.IsActive || a.DeletedAt != nil || !a.CreatedAt.Equal(clock.Now()) {
			t.Fatalf("created app = %+v", a)
		}
		if got := strings.Join(a.AllowedOrigins, " "); got != "https://app.acme.test http://localhost:8080" {
			t.Fatalf("origins not normalized: %q", got)
		}
		got, err := s.GetApp(ctx, "aa_42")
		if err != nil || got.Name != a.Name || got.Tenant != "acme" || strings.Join(got.Permissions, ",") != "read,write" ||
			!got.CreatedAt.Equal(a.CreatedAt) || got.KeyPrefix != "acme" || got.DeploymentID != "42" {
			t.Fatalf("GetApp = %+v, %v; want %+v", got, err, a)
		}
		_, err = s.CreateApp(ctx, DemoApp("aa_42", "globex"), Alice)
		WantErr(t, "duplicate slug", err, keystore.ErrConflict)
		_, err = s.GetApp(ctx, "aa_nope")
		WantErr(t, "unknown app", err, keystore.ErrNotFound)

		MustApp(t, s, "aa_43", "acme")
		MustApp(t, s, "aa_77", "globex")
		list, err := s.ListApps(ctx, keystore.AppFilter{Tenant: "acme"})
		if err != nil || len(list) != 2 || list[0].Slug != "aa_42" || list[1].Slug != "aa_43" {
			t.Fatalf("ListApps(acme) = %+v, %v", list, err)
		}

		clock.Advance(time.Minute)
		name, off := "Renamed", false
		origins := []string{"https://portal.acme.test:8443"}
		up, err := s.UpdateApp(ctx, "aa_43", keystore.AppPatch{Name: &name, IsActive: &off, AllowedOrigins: &origins}, Alice)
		if err != nil || up.Name != "Renamed" || up.IsActive || up.AllowedOrigins[0] != "https://portal.acme.test:8443" ||
			!up.UpdatedAt.Equal(clock.Now()) || up.Usable() {
			t.Fatalf("UpdateApp = %+v, %v", up, err)
		}
		list, _ = s.ListApps(ctx, keystore.AppFilter{Tenant: "acme"})
		if len(list) != 1 || list[0].Slug != "aa_42" {
			t.Fatalf("disabled app listed: %+v", list)
		}
		list, _ = s.ListApps(ctx, keystore.AppFilter{Tenant: "acme", IncludeInactive: true})
		if len(list) != 2 {
			t.Fatalf("IncludeInactive listed %d apps", len(list))
		}
		bad := ""
		_, err = s.UpdateApp(ctx, "aa_43", keystore.AppPatch{Name: &bad}, Alice)
		WantErr(t, "empty name patch", err, keystore.ErrInvalid)
		_, err = s.UpdateApp(ctx, "aa_nope", keystore.AppPatch{Name: &name}, Alice)
		WantErr(t, "patch unknown app", err, keystore.ErrNotFound)

		clock.Advance(time.Minute)
		if err := s.DeleteApp(ctx, "aa_42", Alice); err != nil {
			t.Fatal(err)
		}
		del, err := s.GetApp(ctx, "aa_42")
		if err != nil || del.DeletedAt == nil || del.IsActive || del.Usable() {
			t.Fatalf("deleted app = %+v, %v", del, err)
		}
		list, _ = s.ListApps(ctx, keystore.AppFilter{})
		if len(list) != 1 || list[0].Slug != "aa_77" {
			t.Fatalf("ListApps after delete = %+v", list)
		}
		WantErr(t, "delete twice", s.DeleteApp(ctx, "aa_42", Alice), keystore.ErrInactive)
		_, err = s.UpdateApp(ctx, "aa_42", keystore.AppPatch{Name: &name}, Alice)
		WantErr(t, "update deleted", err, keystore.ErrInactive)
		_, err = s.CreateApp(ctx, DemoApp("aa_42", "acme"), Alice)
		WantErr(t, "reuse deleted slug", err, keystore.ErrConflict)
		WantErr(t, "delete unknown", s.DeleteApp(ctx, "aa_nope", Alice), keystore.ErrNotFound)

		page, err := s.QueryAudit(ctx, audit.Query{Action: "app."})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range page.Events {
			if e.Actor != "alice" || e.Outcome != audit.OutcomeSuccess || e.AppSlug == "" || e.Tenant == "" || e.RequestID != "req-1" {
				t.Errorf("app event missing who/what: %+v", e)
			}
			actions = append(actions, e.Action+":"+e.AppSlug)
		}
		sort.Strings(actions[2:]) // the three creations share a timestamp
		if got, want := strings.Join(actions, " "), "app.deleted:aa_42 app.updated:aa_43 app.created:aa_42 app.created:aa_43 app.created:aa_77"; got != want {
			t.Fatalf("app events = %s\nwant %s", got, want)
		}

		// An app's own texts: stored with it, read back by every query
		// that returns it, replaced and removed by a patch.
		fr := DemoApp("aa_88", "acme")
		fr.Messages = map[string]string{"lang": "fr", "title": "Clés d’API « Acme »"}
		if _, err := s.CreateApp(ctx, fr, Alice); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetApp(ctx, "aa_88"); err != nil || !maps.Equal(got.Messages, fr.Messages) {
			t.Fatalf("GetApp messages = %v, %v; want %v", got.Messages, err, fr.Messages)
		}
		_, secret := MustKey(t, s, "aa_88", "ci", nil)
		if _, app, err := s.LookupKey(ctx, keystore.HashSecret(secret)); err != nil || app.Messages["title"] != fr.Messages["title"] {
			t.Fatalf("LookupKey's app messages = %v, %v", app.Messages, err)
		}
		de := map[string]string{"lang": "de"}
		if up, err := s.UpdateApp(ctx, "aa_88", keystore.AppPatch{Messages: &de}, Alice); err != nil || !maps.Equal(up.Messages, de) {
			t.Fatalf("UpdateApp messages = %v, %v", up.Messages, err)
		}
		list, _ = s.ListApps(ctx, keystore.AppFilter{Tenant: "acme"})
		if len(list) != 1 || !maps.Equal(list[0].Messages, de) {
			t.Fatalf("ListApps messages = %+v", list)
		}
		none := map[string]string{}
		if up, err := s.UpdateApp(ctx, "aa_88", keystore.AppPatch{Messages: &none}, Alice); err != nil || up.Messages != nil {
			t.Fatalf("removing the messages: %v, %v", up.Messages, err)
		}
		if got, _ := s.GetApp(ctx, "aa_88"); got.Messages != nil {
			t.Fatalf("removed messages read back as %v", got.Messages)
		}
		if err := s.DeleteApp(ctx, "aa_88", Alice); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("AppValidation", func(t *testing.T) {
		s, _ := openStore(t)
		long := strings.Repeat("x", 201)
		for _, tc := range []struct {
			name string
			edit func(*keystore.App)
		}{
			{"empty slug", func(a *keystore.App) { a.Slug = "" }},
			{"upper-case slug", func(a *keystore.App) { a.Slug = "AA_42" }},
			{"slug with slash", func(a *keystore.App) { a.Slug = "a/b" }},
			{"slug too long", func(a *keystore.App) { a.Slug = strings.Repeat("a", 65) }},
			{"empty name", func(a *keystore.App) { a.Name = "  " }},
			{"name too long", func(a *keystore.App) { a.Name = long }},
			{"empty prefix", func(a *keystore.App) { a.KeyPrefix = "" }},
			{"prefix with dash", func(a *keystore.App) { a.KeyPrefix = "ac-me" }},
			{"prefix too long", func(a *keystore.App) { a.KeyPrefix = strings.Repeat("p", 33) }},
			{"no tenant", func(a *keystore.App) { a.Tenant = "" }},
			{"origin with path", func(a *keystore.App) { a.AllowedOrigins = []string{"https://acme.test/settings"} }},
			{"origin without scheme", func(a *keystore.App) { a.AllowedOrigins = []string{"acme.test"} }},
			{"origin javascript", func(a *keystore.App) { a.AllowedOrigins = []string{"javascript:alert(1)"} }},
			{"origin with user", func(a *keystore.App) { a.AllowedOrigins = []string{"https://u@acme.test"} }},
			{"origin with query", func(a *keystore.App) { a.AllowedOrigins = []string{"https://acme.test?x=1"} }},
			{"origin bad port", func(a *keystore.App) { a.AllowedOrigins = []string{"https://acme.test:99999"} }},
			{"wildcard origin", func(a *keystore.App) { a.AllowedOrigins = []string{"http://*.example"} }},
			{"origin with underscore", func(a *keystore.App) { a.AllowedOrigins = []string{"https://a_b.acme.test"} }},
			{"empty permission", func(a *keystore.App) { a.Permissions = []string{""} }},
			{"NUL in name", func(a *keystore.App) { a.Name = "a\x00b" }},
			{"invalid UTF-8 description", func(a *keystore.App) { a.Description = "\xff" }},
			{"message with a bidi control", func(a *keystore.App) { a.Messages = map[string]string{"title": "Cl\u202eés"} }},
			{"message with a line break", func(a *keystore.App) { a.Messages = map[string]string{"title": "a\nb"} }},
			{"message too long", func(a *keystore.App) { a.Messages = map[string]string{"title": strings.Repeat("é", 501)} }},
			{"message key with a dot", func(a *keystore.App) { a.Messages = map[string]string{"a.b": "x"} }},
			{"message key too long", func(a *keystore.App) { a.Messages = map[string]string{strings.Repeat("k", 65): "x"} }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := DemoApp("aa_1", "acme")
				tc.edit(&a)
				_, err := s.CreateApp(ctx, a, Alice)
				WantErr(t, tc.name, err, keystore.ErrInvalid)
			})
		}
		if apps, _ := s.ListApps(ctx, keystore.AppFilter{IncludeInactive: true}); len(apps) != 0 {
			t.Fatalf("invalid apps were stored: %+v", apps)
		}
		a := DemoApp("a-b_c9", "acme")
		a.KeyPrefix, a.Name = "Pk_9", strings.Repeat("n", 200)
		if _, err := s.CreateApp(ctx, a, Alice); err != nil {
			t.Fatalf("valid edge-case app refused: %v", err)
		}
	})

	t.Run("HostileText", func(t *testing.T) {
		s, _ := openStore(t)
		MustApp(t, s, "aa_42", "acme")
		k, _ := MustKey(t, s, "aa_42", "ci", nil)
		// refused checks that err is ErrInvalid naming field, and that its
		// message (which reaches HTTP clients and terminals) does not carry
		// the character back.
		refused := func(t *testing.T, field, text string, err error) {
			t.Helper()
			if !errors.Is(err, keystore.ErrInvalid) || !strings.Contains(err.Error(), field) {
				t.Fatalf("%s = %q: err = %v, want ErrInvalid naming %s", field, text, err, field)
			}
			if strings.ContainsFunc(err.Error(), testenv.Hostile) {
				t.Fatalf("%s: the error message %q carries the character it refuses", field, err)
			}
		}
		n := 0
		for _, h := range testenv.HostileText {
			text, multiline := h.Text, h.Lines
			n++
			t.Run(h.Name, func(t *testing.T) {
				for _, tc := range []struct {
					field string
					edit  func(*keystore.App)
				}{
					{"name", func(a *keystore.App) { a.Name = text }},
					{"tenant", func(a *keystore.App) { a.Tenant = text }},
					{"description", func(a *keystore.App) { a.Description = text }},
					{"deployment_id", func(a *keystore.App) { a.DeploymentID = text }},
					{"rate_limit_scheme_slug", func(a *keystore.App) { a.RateLimitSchemeSlug = text }},
					{"permissions", func(a *keystore.App) { a.Permissions = []string{"read", text} }},
					{"resources", func(a *keystore.App) { a.Resources = []string{text} }},
				} {
					a := DemoApp(fmt.Sprintf("aa_%d", n), "acme")
					tc.edit(&a)
					_, err := s.CreateApp(ctx, a, Alice)
					if tc.field == "description" && multiline {
						if err != nil {
							t.Fatalf("description %q (several lines) refused: %v", text, err)
						}
						continue
					}
					refused(t, tc.field, text, err)
				}
				_, err := s.UpdateApp(ctx, "aa_42", keystore.AppPatch{Name: &text}, Alice)
				refused(t, "name", text, err)
				_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: text}, Alice)
				refused(t, "name", text, err)
				_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "m", Permissions: []string{text}}, Alice)
				refused(t, "permissions", text, err)
				_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "m", Metadata: map[string]any{text: "v"}}, Alice)
				refused(t, "metadata", text, err)
				_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "m",
					Metadata: map[string]any{"notes": []any{1, map[string]any{"deep": text}}}}, Alice)
				if multiline {
					if err != nil {
						t.Fatalf("metadata string %q (several lines) refused: %v", text, err)
					}
				} else {
					refused(t, `metadata["notes"][1]["deep"]`, text, err)
				}
				_, err = s.RevokeKey(ctx, "aa_42", k.ID, text, Alice)
				refused(t, "reason", text, err)
			})
		}
		if got, err := s.GetKey(ctx, "aa_42", k.ID); err != nil || !got.IsActive {
			t.Fatalf("a refused revocation changed the key: %+v, %v", got, err)
		}

		// Who acted and what the audit trail records come from the host or
		// from headers, not from a form: they are stored with such
		// characters replaced (U+FFFD), never refused, so that an audit
		// event cannot fail.
		mallory := keystore.Actor{Name: "mallory\x1b]0;pwned\a\u202e", RequestID: "req-2"}
		mk, _, err := s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "by mallory"}, mallory)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsFunc(mk.CreatedBy, testenv.Hostile) || !strings.HasPrefix(mk.CreatedBy, "mallory") {
			t.Fatalf("created_by %q", mk.CreatedBy)
		}
		if got, _ := s.GetKey(ctx, "aa_42", mk.ID); got.CreatedBy != mk.CreatedBy {
			t.Fatalf("stored created_by %q, returned %q", got.CreatedBy, mk.CreatedBy)
		}
		if err := s.Record(ctx, audit.Event{Action: audit.ActionTicketIssue, Outcome: audit.OutcomeDenied, Actor: mallory.Name,
			Reason: "r\n", Detail: "user \x1b[2J\u2066x\u2069", Tenant: "acme"}); err != nil {
			t.Fatalf("Record refused hostile text instead of cleaning it: %v", err)
		}
		page, err := s.QueryAudit(ctx, audit.Query{Actor: mallory.Name})
		if err != nil || len(page.Events) != 2 {
			t.Fatalf("QueryAudit(actor %q) = %d events, %v; want the key.created and ticket.issue", mallory.Name, len(page.Events), err)
		}
		for _, e := range page.Events {
			for _, f := range []string{e.Actor, e.Reason, e.Detail} {
				if strings.ContainsFunc(f, testenv.Hostile) {
					t.Fatalf("audit event %s stored %q", e.Action, f)
				}
			}
		}
	})

	t.Run("Keys", func(t *testing.T) {
		s, clock := openStore(t)
		MustApp(t, s, "aa_42", "acme")
		MustApp(t, s, "aa_77", "globex")
		k, secret := MustKey(t, s, "aa_42", "ci deploy", nil)
		if !secretRE.MatchString(secret) || !keyIDRE.MatchString(k.ID) {
			t.Fatalf("secret %q / id %q do not have the Wacht format", secret, k.ID)
		}
		if k.Hash != keystore.HashSecret(secret) || k.KeySuffix != secret[len(secret)-8:] || k.KeyPrefix != "acme" ||
			k.Tenant != "acme" || k.DeploymentID != "42" || k.CreatedBy != "alice" || !k.IsActive ||
			!k.CreatedAt.Equal(clock.Now()) || k.Metadata["team"] != "billing" {
			t.Fatalf("created key = %+v", k)
		}
		if strings.Contains(fmt.Sprintf("%+v", k), secret[5:]) {
			t.Fatal("the Key value carries the secret")
		}
		got, err := s.GetKey(ctx, "aa_42", k.ID)
		if err != nil || got.Hash != k.Hash || got.Name != "ci deploy" || got.Permissions[0] != "read" ||
			got.Metadata["team"] != "billing" || !got.CreatedAt.Equal(k.CreatedAt) {
			t.Fatalf("GetKey = %+v, %v", got, err)
		}
		_, err = s.GetKey(ctx, "aa_77", k.ID)
		WantErr(t, "key through another app", err, keystore.ErrNotFound)
		for _, garbage := range []string{"\xff\xfe", "key_\x00", "' OR '1'='1"} {
			_, err = s.GetKey(ctx, "aa_42", garbage)
			WantErr(t, "garbage key id", err, keystore.ErrNotFound)
			_, err = s.GetApp(ctx, garbage)
			WantErr(t, "garbage app slug", err, keystore.ErrNotFound)
			_, err = s.RevokeKey(ctx, garbage, garbage, "", Alice)
			WantErr(t, "revoke garbage", err, keystore.ErrNotFound)
			if page, err := s.ListKeys(ctx, keystore.KeyFilter{AppSlug: garbage}); err != nil || len(page.Keys) != 0 {
				t.Fatalf("ListKeys(garbage) = %d keys, %v", len(page.Keys), err)
			}
			if _, err := s.QueryAudit(ctx, audit.Query{Tenant: garbage, Actor: garbage}); err != nil {
				t.Fatalf("QueryAudit(garbage): %v", err)
			}
		}

		_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_nope", Name: "x"}, Alice)
		WantErr(t, "key of unknown app", err, keystore.ErrNotFound)
		_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: ""}, Alice)
		WantErr(t, "empty key name", err, keystore.ErrInvalid)
		past := clock.Now().Add(-time.Second)
		_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "old", ExpiresAt: &past}, Alice)
		WantErr(t, "expiry in the past", err, keystore.ErrInvalid)
		// Times are stored as int64 unix nanoseconds: an expiry past their
		// range (2262) is refused, not stored wrapped round into the past.
		far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
		_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "forever", ExpiresAt: &far}, Alice)
		WantErr(t, "expiry past the storable range", err, keystore.ErrInvalid)
		last := time.Unix(0, math.MaxInt64).UTC()
		if k, _, err := s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "latest", ExpiresAt: &last}, Alice); err != nil ||
			!k.ExpiresAt.Equal(last) || k.StatusAt(clock.Now()) != keystore.KeyActive {
			t.Fatalf("key expiring at the last storable instant = %+v, %v", k, err)
		}
		_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "m", Metadata: map[string]any{"f": func() {}}}, Alice)
		WantErr(t, "metadata not JSON", err, keystore.ErrInvalid)

		off := false
		if _, err := s.UpdateApp(ctx, "aa_77", keystore.AppPatch{IsActive: &off}, Alice); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_77", Name: "x"}, Alice)
		WantErr(t, "key of disabled app", err, keystore.ErrInactive)
		MustApp(t, s, "aa_66", "umbrella")
		if err := s.DeleteApp(ctx, "aa_66", Alice); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_66", Name: "x"}, Alice)
		WantErr(t, "key of deleted app", err, keystore.ErrInactive)

		// Lookup by hash, whatever the state.
		lk, la, err := s.LookupKey(ctx, keystore.HashSecret(secret))
		if err != nil || lk.ID != k.ID || la.Slug != "aa_42" || la.Tenant != "acme" || !la.Usable() {
			t.Fatalf("LookupKey = %+v %+v %v", lk, la, err)
		}
		_, _, err = s.LookupKey(ctx, keystore.HashSecret(secret+"x"))
		WantErr(t, "lookup unknown hash", err, keystore.ErrNotFound)
		_, _, err = s.LookupKey(ctx, "' OR 1=1 --")
		WantErr(t, "lookup garbage", err, keystore.ErrNotFound)
	})

	t.Run("KeyLifecycle", func(t *testing.T) {
		s, clock := openStore(t)
		MustApp(t, s, "aa_42", "acme")
		t0 := clock.Now()
		plain, _ := MustKey(t, s, "aa_42", "plain", nil)
		soon := t0.Add(time.Hour)
		expiring, _ := MustKey(t, s, "aa_42", "expiring", &soon)
		gone, goneSecret := MustKey(t, s, "aa_42", "gone", nil)
		clock.Advance(time.Second)
		rev, err := s.RevokeKey(ctx, "aa_42", gone.ID, "leaked in CI log", Alice)
		if err != nil || rev.IsActive || rev.RevokedAt == nil || !rev.RevokedAt.Equal(clock.Now()) ||
			rev.RevokedReason != "leaked in CI log" || rev.StatusAt(clock.Now()) != keystore.KeyRevoked {
			t.Fatalf("RevokeKey = %+v, %v", rev, err)
		}
		_, err = s.RevokeKey(ctx, "aa_42", gone.ID, "again", Alice)
		WantErr(t, "revoke twice", err, keystore.ErrInactive)
		_, err = s.RevokeKey(ctx, "aa_42", "key_nope", "", Alice)
		WantErr(t, "revoke unknown", err, keystore.ErrNotFound)
		lk, _, err := s.LookupKey(ctx, keystore.HashSecret(goneSecret))
		if err != nil || lk.StatusAt(clock.Now()) != keystore.KeyRevoked {
			t.Fatalf("revoked key looks %v (%v)", lk.StatusAt(clock.Now()), err)
		}

		list := func(st keystore.KeyStatus) []string {
			t.Helper()
			page, err := s.ListKeys(ctx, keystore.KeyFilter{AppSlug: "aa_42", Status: st})
			if err != nil {
				t.Fatalf("ListKeys(%s): %v", st, err)
			}
			return keyIDs(page.Keys)
		}
		check := func(st keystore.KeyStatus, want ...string) {
			t.Helper()
			if got := list(st); strings.Join(got, ",") != strings.Join(sorted(want...), ",") {
				t.Fatalf("ListKeys(%s) at +%v = %v, want %v", st, clock.Now().Sub(t0), got, sorted(want...))
			}
		}
		check(keystore.KeyActive, plain.ID, expiring.ID)
		check(keystore.KeyRevoked, gone.ID)
		check(keystore.KeyExpired)
		check(keystore.KeyAll, plain.ID, expiring.ID, gone.ID)
		check("", plain.ID, expiring.ID, gone.ID)
		clock.Advance(2 * time.Hour) // past the expiry
		check(keystore.KeyActive, plain.ID)
		check(keystore.KeyExpired, expiring.ID)
		_, err = s.ListKeys(ctx, keystore.KeyFilter{Status: "bogus"})
		WantErr(t, "bad status filter", err, keystore.ErrInvalid)
		if page, _ := s.ListKeys(ctx, keystore.KeyFilter{Tenant: "globex"}); len(page.Keys) != 0 {
			t.Fatalf("other tenant sees %d keys", len(page.Keys))
		}
		_, _, err = s.RotateKey(ctx, "aa_42", expiring.ID, 0, Alice)
		WantErr(t, "rotate expired key", err, keystore.ErrInactive)

		// Rotation with a one-hour grace.
		rotAt := clock.Now()
		nk, nsecret, err := s.RotateKey(ctx, "aa_42", plain.ID, time.Hour, Alice)
		if err != nil || nk.RotatedFrom != plain.ID || nk.Name != "plain" || nk.ID == plain.ID || !nk.IsActive ||
			nk.Metadata["team"] != "billing" || nk.Hash != keystore.HashSecret(nsecret) || !secretRE.MatchString(nsecret) {
			t.Fatalf("RotateKey = %+v, %v", nk, err)
		}
		old, _ := s.GetKey(ctx, "aa_42", plain.ID)
		if old.GraceUntil == nil || !old.GraceUntil.Equal(rotAt.Add(time.Hour)) || old.RevokedReason != "Rotated" {
			t.Fatalf("old key after graceful rotation = %+v", old)
		}
		if st := old.StatusAt(rotAt.Add(59 * time.Minute)); st != keystore.KeyActive {
			t.Fatalf("old key within grace is %s", st)
		}
		if st := old.StatusAt(rotAt.Add(time.Hour)); st != keystore.KeyRevoked {
			t.Fatalf("old key at grace end is %s", st)
		}
		check(keystore.KeyActive, plain.ID, nk.ID)
		_, _, err = s.RotateKey(ctx, "aa_42", plain.ID, time.Hour, Alice)
		WantErr(t, "rotate a rotated key", err, keystore.ErrInactive)
		clock.Advance(time.Hour)
		check(keystore.KeyActive, nk.ID)
		check(keystore.KeyRevoked, gone.ID, plain.ID)
		_, err = s.RevokeKey(ctx, "aa_42", plain.ID, "", Alice)
		WantErr(t, "revoke past grace", err, keystore.ErrInactive)

		// Rotation without grace ends the old key at once.
		nk2, _, err := s.RotateKey(ctx, "aa_42", nk.ID, 0, Alice)
		if err != nil || nk2.RotatedFrom != nk.ID {
			t.Fatalf("RotateKey(grace 0) = %+v, %v", nk2, err)
		}
		old, _ = s.GetKey(ctx, "aa_42", nk.ID)
		if old.IsActive || old.RevokedReason != "Rotated" || old.RevokedAt == nil || old.StatusAt(clock.Now()) != keystore.KeyRevoked {
			t.Fatalf("old key after immediate rotation = %+v", old)
		}
		_, _, err = s.RotateKey(ctx, "aa_42", nk2.ID, -time.Second, Alice)
		WantErr(t, "negative grace", err, keystore.ErrInvalid)

		// Revoking a key in its grace ends it at once.
		nk3, _, err := s.RotateKey(ctx, "aa_42", nk2.ID, 24*time.Hour, Alice)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokeKey(ctx, "aa_42", nk2.ID, "", Alice); err != nil {
			t.Fatalf("revoke in grace: %v", err)
		}
		old, _ = s.GetKey(ctx, "aa_42", nk2.ID)
		if old.StatusAt(clock.Now()) != keystore.KeyRevoked {
			t.Fatalf("revoked in-grace key is %s", old.StatusAt(clock.Now()))
		}

		// Keys of a disabled app cannot be rotated but can be revoked.
		off := false
		if _, err := s.UpdateApp(ctx, "aa_42", keystore.AppPatch{IsActive: &off}, Alice); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.RotateKey(ctx, "aa_42", nk3.ID, 0, Alice)
		WantErr(t, "rotate on disabled app", err, keystore.ErrInactive)
		if _, err := s.RevokeKey(ctx, "aa_42", nk3.ID, "app off", Alice); err != nil {
			t.Fatalf("revoke on disabled app: %v", err)
		}
		_, app, err := s.LookupKey(ctx, nk3.Hash)
		if err != nil || app.Usable() {
			t.Fatalf("LookupKey on disabled app: usable=%v err=%v", app.Usable(), err)
		}
	})

	t.Run("KeyStatusInSQL", func(t *testing.T) {
		// ListKeys filters by status in SQL; Key.StatusAt is the rule. At
		// every moment, each key is listed under exactly the status
		// StatusAt gives it.
		s, clock := openStore(t)
		MustApp(t, s, "aa_42", "acme")
		t0 := clock.Now()
		in := func(d time.Duration) *time.Time { e := t0.Add(d); return &e }
		MustKey(t, s, "aa_42", "plain", nil)
		MustKey(t, s, "aa_42", "expires in 2h", in(2*time.Hour))
		rev, _ := MustKey(t, s, "aa_42", "revoked", nil)
		graced, _ := MustKey(t, s, "aa_42", "rotated with 1h grace", nil)
		gracedExp, _ := MustKey(t, s, "aa_42", "rotated with 3h grace, expires in 2h", in(2*time.Hour))
		now0, _ := MustKey(t, s, "aa_42", "rotated at once", nil)
		revGrace, _ := MustKey(t, s, "aa_42", "revoked in its grace", nil)
		if _, err := s.RevokeKey(ctx, "aa_42", rev.ID, "", Alice); err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct {
			id    string
			grace time.Duration
		}{{graced.ID, time.Hour}, {gracedExp.ID, 3 * time.Hour}, {now0.ID, 0}, {revGrace.ID, 5 * time.Hour}} {
			if _, _, err := s.RotateKey(ctx, "aa_42", r.id, r.grace, Alice); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.RevokeKey(ctx, "aa_42", revGrace.ID, "", Alice); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Duration{0, 59 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour} {
			clock.Advance(t0.Add(at).Sub(clock.Now()))
			all, err := s.ListKeys(ctx, keystore.KeyFilter{AppSlug: "aa_42"})
			if err != nil || len(all.Keys) != 11 {
				t.Fatalf("ListKeys(all) at +%v: %d keys, %v", at, len(all.Keys), err)
			}
			want := map[keystore.KeyStatus][]string{}
			for _, k := range all.Keys {
				st := k.StatusAt(clock.Now())
				want[st] = append(want[st], k.ID)
			}
			for _, st := range []keystore.KeyStatus{keystore.KeyActive, keystore.KeyRevoked, keystore.KeyExpired} {
				page, err := s.ListKeys(ctx, keystore.KeyFilter{AppSlug: "aa_42", Status: st})
				if err != nil {
					t.Fatal(err)
				}
				if got, w := keyIDs(page.Keys), sorted(want[st]...); strings.Join(got, ",") != strings.Join(w, ",") {
					t.Fatalf("ListKeys(%s) at +%v = %v, StatusAt says %v", st, at, got, w)
				}
			}
		}
	})

	t.Run("KeyPaging", func(t *testing.T) {
		s, clock := openStore(t)
		MustApp(t, s, "aa_42", "acme")
		MustApp(t, s, "aa_77", "globex")
		var before []keystore.Key
		for i := range 23 {
			if i%4 == 0 {
				clock.Advance(time.Millisecond) // the rest share a created_at: the id breaks the tie
			}
			k, _ := MustKey(t, s, "aa_42", fmt.Sprint("k", i), nil)
			before = append(before, k)
		}
		MustKey(t, s, "aa_77", "another app's", nil)

		// Follow the pages while keys are created and revoked between them:
		// every key that was there at the start comes exactly once, and
		// no key comes twice.
		seen := map[string]int{}
		f := keystore.KeyFilter{AppSlug: "aa_42", Limit: 5}
		pages := 0
		var prev *keystore.Key
		for {
			page, err := s.ListKeys(ctx, f)
			if err != nil {
				t.Fatalf("page %d: %v", pages+1, err)
			}
			pages++
			if len(page.Keys) > 5 || (page.NextCursor != "" && len(page.Keys) != 5) {
				t.Fatalf("page %d has %d keys (next %q)", pages, len(page.Keys), page.NextCursor)
			}
			for _, k := range page.Keys {
				seen[k.ID]++
				if k.AppSlug != "aa_42" {
					t.Fatalf("page %d lists a key of %s", pages, k.AppSlug)
				}
				if prev != nil && (k.CreatedAt.After(prev.CreatedAt) || k.CreatedAt.Equal(prev.CreatedAt) && k.ID > prev.ID) {
					t.Fatalf("page %d: %s comes after %s but is not older", pages, k.ID, prev.ID)
				}
				prev = &k
			}
			if page.NextCursor == "" {
				break
			}
			f.Cursor = page.NextCursor
			if pages%2 == 1 {
				clock.Advance(time.Millisecond)
			}
			MustKey(t, s, "aa_42", fmt.Sprint("between pages ", pages), nil)
			if _, err := s.RevokeKey(ctx, "aa_42", before[pages].ID, "", Alice); err != nil {
				t.Fatal(err)
			}
		}
		testenv.ListedOnce(t, keyIDs(before), seen)
		if pages != 5 {
			t.Errorf("%d pages of 5 for 23 keys", pages)
		}

		// A status is filtered before the page is cut: full pages of active
		// keys among revoked ones.
		f = keystore.KeyFilter{AppSlug: "aa_42", Status: keystore.KeyActive, Limit: 4}
		n := 0
		for {
			page, err := s.ListKeys(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if page.NextCursor != "" && len(page.Keys) != 4 {
				t.Fatalf("a page of active keys has %d, want 4", len(page.Keys))
			}
			for _, k := range page.Keys {
				if k.StatusAt(clock.Now()) != keystore.KeyActive {
					t.Fatalf("listed as active: %+v", k)
				}
			}
			n += len(page.Keys)
			if f.Cursor = page.NextCursor; f.Cursor == "" {
				break
			}
		}
		if want := 23 + 4 - 4; n != want {
			t.Errorf("%d active keys over the pages, want %d", n, want)
		}

		// Limits and cursors.
		page, err := s.ListKeys(ctx, keystore.KeyFilter{AppSlug: "aa_42"})
		if err != nil || len(page.Keys) != 27 || page.NextCursor != "" {
			t.Fatalf("default page: %d keys, next %q, %v", len(page.Keys), page.NextCursor, err)
		}
		_, err = s.ListKeys(ctx, keystore.KeyFilter{Limit: -1})
		WantErr(t, "negative limit", err, keystore.ErrInvalid)
		if page, err := s.ListKeys(ctx, keystore.KeyFilter{AppSlug: "aa_42", Limit: keystore.MaxKeyLimit + 1}); err != nil || len(page.Keys) != 27 {
			t.Fatalf("a limit over the most: %d keys, %v", len(page.Keys), err)
		}
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		for _, bad := range []string{"garbage", "!!!", b64("soon.key_x"), b64("1."), b64("1.\xff"), b64("1.key\x00")} {
			_, err := s.ListKeys(ctx, keystore.KeyFilter{AppSlug: "aa_42", Cursor: bad})
			WantErr(t, fmt.Sprintf("cursor %q", bad), err, keystore.ErrInvalid)
		}
	})

	t.Run("KeyLimit", func(t *testing.T) {
		clock := newFakeClock()
		s := recording{open(t, keystore.Options{Now: clock.Now, MaxActiveKeys: 3}), seen}
		MustApp(t, s, "aa_42", "acme")
		MustApp(t, s, "aa_77", "globex")
		soon := clock.Now().Add(2 * time.Hour)
		a, _ := MustKey(t, s, "aa_42", "a", nil)
		MustKey(t, s, "aa_42", "b", &soon)
		c, _ := MustKey(t, s, "aa_42", "c", nil)
		created := func() int {
			t.Helper()
			page, err := s.QueryAudit(ctx, audit.Query{AppSlug: "aa_42", Action: audit.ActionKeyCreated, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Events)
		}
		refused := func(what string) {
			t.Helper()
			before := created()
			_, secret, err := s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "one too many"}, Alice)
			WantErr(t, what, err, keystore.ErrKeyLimit)
			if msg := err.Error(); !strings.Contains(msg, `"aa_42"`) || !strings.Contains(msg, "3 active keys") || secret != "" {
				t.Fatalf("%s: the error %q does not name the app and the cap (or a secret came back)", what, msg)
			}
			if created() != before {
				t.Fatalf("%s: a refused create left a key.created event", what)
			}
		}
		refused("a 4th key")
		MustKey(t, s, "aa_77", "the cap is per app", nil)

		// A rotation at the cap is allowed, with or without a grace, and
		// changes no count: the key it ends stops counting at once.
		nk, _, err := s.RotateKey(ctx, "aa_42", a.ID, time.Hour, Alice)
		if err != nil {
			t.Fatalf("rotate at the cap (grace): %v", err)
		}
		if _, _, err := s.RotateKey(ctx, "aa_42", c.ID, 0, Alice); err != nil {
			t.Fatalf("rotate at the cap (no grace): %v", err)
		}
		refused("a new key after rotations")

		// Revoking one frees a place, and so does an expiry.
		if _, err := s.RevokeKey(ctx, "aa_42", nk.ID, "", Alice); err != nil {
			t.Fatal(err)
		}
		MustKey(t, s, "aa_42", "after a revocation", nil)
		refused("a key after the freed place was taken")
		clock.Advance(2 * time.Hour)
		MustKey(t, s, "aa_42", "after an expiry", nil)
		refused("a key after the expired one's place was taken")
		page, err := s.ListKeys(ctx, keystore.KeyFilter{AppSlug: "aa_42", Status: keystore.KeyActive})
		if err != nil || len(page.Keys) != 3 {
			t.Fatalf("%d active keys at a cap of 3 (%v)", len(page.Keys), err)
		}
	})

	t.Run("KeyLimitConcurrent", func(t *testing.T) {
		// Creates racing on one app, some while a key is being rotated,
		// never pass the cap: exactly the free places are taken.
		const limit, racers = 5, 40
		clock := newFakeClock()
		s := recording{open(t, keystore.Options{Now: clock.Now, MaxActiveKeys: limit}), seen}
		MustApp(t, s, "aa_42", "acme")
		first, _ := MustKey(t, s, "aa_42", "first", nil)
		var mu sync.Mutex
		ok, capped := 0, 0
		together(racers+1, func(i int) {
			if i == racers {
				if _, _, err := s.RotateKey(ctx, "aa_42", first.ID, time.Hour, Alice); err != nil {
					t.Errorf("rotate during the race: %v", err)
				}
				return
			}
			_, _, err := s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: fmt.Sprintf("racer %d", i)}, Alice)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, keystore.ErrKeyLimit):
				capped++
			default:
				t.Errorf("create %d: %v", i, err)
			}
		})
		if ok != limit-1 || capped != racers-(limit-1) {
			t.Fatalf("%d creates succeeded and %d were capped, want %d and %d", ok, capped, limit-1, racers-(limit-1))
		}
		page, err := s.ListKeys(ctx, keystore.KeyFilter{AppSlug: "aa_42", Status: keystore.KeyActive})
		// The rotated key is active in its grace, beside the limit that count.
		if err != nil || len(page.Keys) != limit+1 {
			t.Fatalf("%d keys active after the race (%v), want %d and the one in its grace", len(page.Keys), err, limit)
		}
	})

	t.Run("KeyLimitDefaultAndLifted", func(t *testing.T) {
		for _, tc := range []struct {
			max  int
			want int // keys created before the first refusal; 0: none refused
		}{{0, keystore.DefaultMaxActiveKeys}, {keystore.NoKeyLimit, 0}, {-7, 0}} {
			s := open(t, keystore.Options{MaxActiveKeys: tc.max})
			MustApp(t, s, "aa_42", "acme")
			for i := range keystore.DefaultMaxActiveKeys + 1 {
				_, _, err := s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: fmt.Sprint("k", i)}, Alice)
				if tc.want > 0 && i == tc.want {
					WantErr(t, fmt.Sprintf("MaxActiveKeys %d, key %d", tc.max, i+1), err, keystore.ErrKeyLimit)
				} else if err != nil {
					t.Fatalf("MaxActiveKeys %d, key %d: %v", tc.max, i+1, err)
				}
			}
		}
	})

	t.Run("TouchKeys", func(t *testing.T) {
		s, clock := openStore(t)
		MustApp(t, s, "aa_42", "acme")
		a, _ := MustKey(t, s, "aa_42", "a", nil)
		b, _ := MustKey(t, s, "aa_42", "b", nil)
		c, _ := MustKey(t, s, "aa_42", "c", nil)
		t1, t2 := clock.Now().Add(time.Minute), clock.Now().Add(2*time.Minute)
		if err := s.TouchKeys(ctx, map[string]time.Time{a.ID: t1, b.ID: t2, "key_unknown": t1}); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchKeys(ctx, map[string]time.Time{a.ID: t1.Add(-time.Hour)}); err != nil { // older: ignored
			t.Fatal(err)
		}
		if err := s.TouchKeys(ctx, nil); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			id   string
			want *time.Time
		}{{a.ID, &t1}, {b.ID, &t2}, {c.ID, nil}} {
			k, err := s.GetKey(ctx, "aa_42", tc.id)
			switch {
			case err != nil:
				t.Fatal(err)
			case tc.want == nil && k.LastUsedAt != nil, tc.want != nil && (k.LastUsedAt == nil || !k.LastUsedAt.Equal(*tc.want)):
				t.Fatalf("key %s last_used_at = %v, want %v", tc.id, k.LastUsedAt, tc.want)
			case !k.UpdatedAt.Equal(a.UpdatedAt):
				t.Fatalf("TouchKeys changed updated_at")
			}
		}
	})

	t.Run("AuditOfKeyChanges", func(t *testing.T) {
		s, clock := openStore(t)
		MustApp(t, s, "aa_42", "acme")
		k, _ := MustKey(t, s, "aa_42", "a", nil)
		clock.Advance(time.Second)
		bob := keystore.Actor{Name: "bob", RequestID: "req-2", ClientIP: "192.0.2.2"}
		nk, _, err := s.RotateKey(ctx, "aa_42", k.ID, time.Hour, bob)
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		if _, err := s.RevokeKey(ctx, "aa_42", nk.ID, "offboarding", bob); err != nil {
			t.Fatal(err)
		}
		// A failed change leaves no event.
		if _, err := s.RevokeKey(ctx, "aa_42", nk.ID, "", bob); !errors.Is(err, keystore.ErrInactive) {
			t.Fatal(err)
		}
		page, err := s.QueryAudit(ctx, audit.Query{Tenant: "acme", Action: "key."})
		if err != nil {
			t.Fatal(err)
		}
		type row struct{ action, actor, key, ip string }
		var got []row
		for _, e := range page.Events {
			if e.Tenant != "acme" || e.AppSlug != "aa_42" || e.Outcome != audit.OutcomeSuccess || e.ID == "" || e.Resource != "42" {
				t.Errorf("event lacks tenant/app/outcome/id: %+v", e)
			}
			got = append(got, row{e.Action, e.Actor, e.KeyID, e.ClientIP})
		}
		want := []row{
			{audit.ActionKeyRevoked, "bob", nk.ID, "192.0.2.2"},
			{audit.ActionKeyRotated, "bob", k.ID, "192.0.2.2"},
			{audit.ActionKeyCreated, "alice", k.ID, "192.0.2.1"},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("key events = %v\nwant %v", got, want)
		}
		if !strings.Contains(page.Events[1].Detail, nk.ID) || !strings.Contains(page.Events[0].Detail, "offboarding") {
			t.Fatalf("details: %q / %q", page.Events[1].Detail, page.Events[0].Detail)
		}
	})

	t.Run("AuditQuery", func(t *testing.T) {
		s, clock := openStore(t)
		t0 := clock.Now()
		events := []audit.Event{
			{Action: audit.ActionTicketIssue, Outcome: audit.OutcomeIssued, Actor: "alice", Tenant: "acme", AppSlug: "aa_42",
				TicketFingerprint: "fp1", Latency: 1500 * time.Microsecond, Reason: "ok", Resource: "42", Detail: "d"},
			{Action: audit.ActionTicketIssue, Outcome: audit.OutcomeDenied, Actor: "dave", Tenant: "acme", AppSlug: "aa_42", Reason: "role"},
			{Action: audit.ActionTicketExchanged, Outcome: audit.OutcomeSuccess, Actor: "alice", Tenant: "acme", AppSlug: "aa_43"},
			{Action: audit.ActionKeyCreated, Outcome: audit.OutcomeSuccess, Actor: "frank", Tenant: "globex", AppSlug: "aa_77", KeyID: "key_x"},
			{Action: audit.ActionKeyRevoked, Outcome: audit.OutcomeSuccess, Actor: "frank", Tenant: "globex", AppSlug: "aa_77", KeyID: "key_x"},
		}
		for i, e := range events {
			e.Time = t0.Add(time.Duration(i) * time.Minute)
			if err := s.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		WantErr(t, "event without action", s.Record(ctx, audit.Event{Actor: "x"}), keystore.ErrInvalid)
		clock.Advance(time.Hour)
		if err := s.Record(ctx, audit.Event{Action: audit.ActionSessionExpired, Tenant: "acme"}); err != nil {
			t.Fatal(err)
		}

		all, err := s.QueryAudit(ctx, audit.Query{})
		if err != nil || len(all.Events) != 6 || all.NextCursor != "" {
			t.Fatalf("all events: %d, cursor %q, %v", len(all.Events), all.NextCursor, err)
		}
		if e := all.Events[0]; e.Action != audit.ActionSessionExpired || !e.Time.Equal(clock.Now()) {
			t.Fatalf("zero Time not stamped with the clock: %+v", e)
		}
		first := all.Events[5]
		if first.TicketFingerprint != "fp1" || first.Latency != 1500*time.Microsecond || first.Reason != "ok" ||
			first.Resource != "42" || first.Detail != "d" || !first.Time.Equal(t0) || first.ID == "" {
			t.Fatalf("event did not round-trip: %+v", first)
		}
		for _, tc := range []struct {
			name string
			q    audit.Query
			want []string // actors+actions, newest first
		}{
			{"tenant", audit.Query{Tenant: "globex"}, []string{"frank key.revoked", "frank key.created"}},
			{"app", audit.Query{AppSlug: "aa_42"}, []string{"dave ticket.issue", "alice ticket.issue"}},
			{"action exact", audit.Query{Action: "ticket.issue"}, []string{"dave ticket.issue", "alice ticket.issue"}},
			{"action family", audit.Query{Action: "ticket."}, []string{"alice ticket.exchanged", "dave ticket.issue", "alice ticket.issue"}},
			{"action prefix is not a family", audit.Query{Action: "ticket"}, nil},
			{"action family in other case", audit.Query{Action: "TICKET."}, nil},
			{"actor", audit.Query{Actor: "alice"}, []string{"alice ticket.exchanged", "alice ticket.issue"}},
			{"key", audit.Query{KeyID: "key_x", Action: "key.revoked"}, []string{"frank key.revoked"}},
			{"since inclusive", audit.Query{Since: t0.Add(3 * time.Minute), Tenant: "globex"}, []string{"frank key.revoked", "frank key.created"}},
			{"until exclusive", audit.Query{Until: t0.Add(time.Minute)}, []string{"alice ticket.issue"}},
			{"range", audit.Query{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"alice ticket.exchanged", "dave ticket.issue"}},
			{"tenant and actor", audit.Query{Tenant: "acme", Actor: "frank"}, nil},
			{"bounds past the stored range", audit.Query{Tenant: "globex", Since: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC),
				Until: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}, []string{"frank key.revoked", "frank key.created"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				page, err := s.QueryAudit(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, e := range page.Events {
					got = append(got, e.Actor+" "+e.Action)
				}
				if strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			})
		}
		// Garbage from a request (invalid UTF-8, NUL) is stored, cleaned.
		if err := s.Record(ctx, audit.Event{Action: audit.ActionTicketIssue, Actor: "mallory", Detail: "ua \xff\xfe\x00 end"}); err != nil {
			t.Fatalf("event with garbage text: %v", err)
		}
		if page, err := s.QueryAudit(ctx, audit.Query{Actor: "mallory"}); err != nil || len(page.Events) != 1 ||
			page.Events[0].Detail != "ua \uFFFD\uFFFD end" {
			t.Fatalf("garbage event = %+v, %v", page.Events, err)
		}
		_, err = s.QueryAudit(ctx, audit.Query{Cursor: "not-a-cursor"})
		WantErr(t, "forged cursor", err, keystore.ErrInvalid)
		_, err = s.QueryAudit(ctx, audit.Query{Limit: -1})
		WantErr(t, "negative limit", err, keystore.ErrInvalid)
	})

	t.Run("AuditPaging", func(t *testing.T) {
		s, clock := openStore(t)
		// 23 events share one timestamp, then 40 more at distinct times;
		// paging must return each exactly once, newest first.
		same := clock.Now()
		want := map[string]bool{}
		for i := 0; i < 23; i++ {
			if err := s.Record(ctx, audit.Event{Action: audit.ActionTicketIssue, Tenant: "acme", Time: same, Detail: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 40; i++ {
			clock.Advance(time.Millisecond)
			if err := s.Record(ctx, audit.Event{Action: audit.ActionTicketIssue, Tenant: "acme"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Record(ctx, audit.Event{Action: audit.ActionTicketIssue, Tenant: "globex"}); err != nil {
			t.Fatal(err)
		}
		def, err := s.QueryAudit(ctx, audit.Query{Tenant: "acme"})
		if err != nil || len(def.Events) != 50 || def.NextCursor == "" {
			t.Fatalf("default limit: %d events, cursor %q, %v", len(def.Events), def.NextCursor, err)
		}
		var got []audit.Event
		cursor, pages := "", 0
		for {
			page, err := s.QueryAudit(ctx, audit.Query{Tenant: "acme", Limit: 7, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page.Events) > 7 {
				t.Fatalf("page of %d events", len(page.Events))
			}
			got = append(got, page.Events...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
			if pages > 20 {
				t.Fatal("paging does not end")
			}
		}
		if len(got) != 63 || pages != 9 {
			t.Fatalf("paged %d events in %d pages, want 63 in 9", len(got), pages)
		}
		for i, e := range got {
			if want[e.ID] {
				t.Fatalf("event %s returned twice", e.ID)
			}
			want[e.ID] = true
			if i > 0 && (e.Time.After(got[i-1].Time) || e.Time.Equal(got[i-1].Time) && e.ID > got[i-1].ID) {
				t.Fatalf("not newest first at %d", i)
			}
		}
		big, err := s.QueryAudit(ctx, audit.Query{Limit: 5000})
		if err != nil || len(big.Events) != 64 {
			t.Fatalf("limit above max: %d, %v", len(big.Events), err)
		}
	})

	t.Run("ConcurrentRecords", func(t *testing.T) {
		// Concurrent events are group-committed; each must land once, and a
		// caller returns only once its own event is readable.
		s, _ := openStore(t)
		const n = 120
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.Record(ctx, audit.Event{Action: audit.ActionTicketIssue, Actor: fmt.Sprint("u", i), Tenant: "acme"})
				if err == nil {
					page, qerr := s.QueryAudit(ctx, audit.Query{Actor: fmt.Sprint("u", i)})
					if qerr != nil || len(page.Events) != 1 {
						err = fmt.Errorf("own event not readable after Record: %d events, %v", len(page.Events), qerr)
					}
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		page, err := s.QueryAudit(ctx, audit.Query{Tenant: "acme", Limit: 1000})
		if err != nil || len(page.Events) != n {
			t.Fatalf("%d events stored, want %d (%v)", len(page.Events), n, err)
		}
	})

	t.Run("ConsumeTicketOnce", func(t *testing.T) {
		s, clock := openStore(t)
		exp := clock.Now().Add(2 * time.Minute)
		const n = 50
		errs := make([]error, n)
		together(n, func(i int) { errs[i] = s.ConsumeTicket(ctx, "tkt_race", exp) })
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, keystore.ErrTicketUsed):
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d of %d concurrent consumers won, want exactly 1", wins, n)
		}
		if err := s.ConsumeTicket(ctx, "tkt_other", exp); err != nil {
			t.Fatalf("another ticket: %v", err)
		}
		WantErr(t, "empty ticket", s.ConsumeTicket(ctx, "", exp), keystore.ErrInvalid)
	})

	t.Run("UsedTicketsForgottenAfterExpiry", func(t *testing.T) {
		s, clock := openStore(t)
		if err := s.ConsumeTicket(ctx, "tkt_a", clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// Just past expiry, within the safety margin: still remembered.
		clock.Advance(2 * time.Minute)
		if err := s.ConsumeTicket(ctx, "tkt_b", clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		WantErr(t, "replay within margin", s.ConsumeTicket(ctx, "tkt_a", clock.Now()), keystore.ErrTicketUsed)
		// Long past: the next consume purges it.
		clock.Advance(10 * time.Minute)
		if err := s.ConsumeTicket(ctx, "tkt_c", clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.ConsumeTicket(ctx, "tkt_a", clock.Now().Add(time.Minute)); err != nil {
			t.Fatalf("expired used ticket was not purged: %v", err)
		}
		WantErr(t, "unexpired ticket kept", s.ConsumeTicket(ctx, "tkt_c", clock.Now()), keystore.ErrTicketUsed)
	})

	t.Run("SecretGetOrCreate", func(t *testing.T) {
		s, _ := openStore(t)
		const n = 20
		got := make([][]byte, n)
		errs := make([]error, n)
		together(n, func(i int) { got[i], errs[i] = s.Secret(ctx, "ticket-seal", 32) })
		for i := range n {
			if errs[i] != nil || len(got[i]) != 32 || string(got[i]) != string(got[0]) {
				t.Fatalf("call %d: %x, %v; first %x", i, got[i], errs[i], got[0])
			}
		}
		again, err := s.Secret(ctx, "ticket-seal", 32)
		if err != nil || string(again) != string(got[0]) {
			t.Fatalf("second call differs: %v", err)
		}
		other, err := s.Secret(ctx, "session-seal", 32)
		if err != nil || string(other) == string(got[0]) {
			t.Fatalf("two names share bytes: %v", err)
		}
		_, err = s.Secret(ctx, "ticket-seal", 64)
		WantErr(t, "size mismatch", err, keystore.ErrInvalid)
		_, err = s.Secret(ctx, "tiny", 4)
		WantErr(t, "too small", err, keystore.ErrInvalid)
	})

	t.Run("Subscribe", func(t *testing.T) {
		s, _ := openStore(t)
		take, cancel := subscribe(s)
		MustApp(t, s, "aa_42", "acme")
		// Delivery is synchronous: no waiting needed.
		if c := take(); len(c) != 1 || c[0] != (keystore.Change{AppSlug: "aa_42"}) {
			t.Fatalf("app create: %+v", c)
		}
		k, _ := MustKey(t, s, "aa_42", "a", nil)
		if c := take(); len(c) != 1 || c[0] != (keystore.Change{AppSlug: "aa_42", KeyHash: k.Hash}) {
			t.Fatalf("key create: %+v", c)
		}
		nk, _, err := s.RotateKey(ctx, "aa_42", k.ID, time.Hour, Alice)
		if err != nil {
			t.Fatal(err)
		}
		if c := take(); len(c) != 2 || c[0].KeyHash != k.Hash || c[1].KeyHash != nk.Hash {
			t.Fatalf("rotate: %+v", c)
		}
		if _, err := s.RevokeKey(ctx, "aa_42", nk.ID, "", Alice); err != nil {
			t.Fatal(err)
		}
		if c := take(); len(c) != 1 || c[0].KeyHash != nk.Hash {
			t.Fatalf("revoke: %+v", c)
		}
		off := false
		if _, err := s.UpdateApp(ctx, "aa_42", keystore.AppPatch{IsActive: &off}, Alice); err != nil {
			t.Fatal(err)
		}
		if c := take(); len(c) != 1 || c[0] != (keystore.Change{AppSlug: "aa_42"}) {
			t.Fatalf("app update: %+v", c)
		}
		// Failed changes and non-changes say nothing.
		s.RevokeKey(ctx, "aa_42", nk.ID, "", Alice)
		s.TouchKeys(ctx, map[string]time.Time{k.ID: time.Now()})
		s.Record(ctx, audit.Event{Action: audit.ActionTicketIssue})
		if c := take(); len(c) != 0 {
			t.Fatalf("no-op changes notified: %+v", c)
		}
		cancel()
		cancel()
		if err := s.DeleteApp(ctx, "aa_42", Alice); err != nil {
			t.Fatal(err)
		}
		if c := take(); len(c) != 0 {
			t.Fatalf("cancelled subscription still called: %+v", c)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		s, _ := openStore(t)
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// pruner is the retention entry point both drivers export.
type pruner interface {
	PruneAudit(ctx context.Context) (int64, error)
}

// auditRetention: events older than AuditMaxAge (by the injected clock) are
// deleted, in the background and by PruneAudit, more than one batch of
// them, and recent ones stay.
func auditRetention(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := newFakeClock()
	s := open(t, keystore.Options{Now: clock.Now, AuditMaxAge: 30 * 24 * time.Hour, AuditPruneEvery: 20 * time.Millisecond})
	count := func() int {
		t.Helper()
		page, err := s.QueryAudit(ctx, audit.Query{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Events)
	}
	record := func(age time.Duration, reason string) {
		t.Helper()
		if err := s.Record(ctx, audit.Event{Time: clock.Now().Add(-age), Action: audit.ActionTicketIssue, Outcome: audit.OutcomeDenied, Reason: reason}); err != nil {
			t.Fatal(err)
		}
	}
	record(31*24*time.Hour, "old")
	record(29*24*time.Hour, "recent")
	deadline := time.Now().Add(10 * time.Second)
	for count() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the background pruning left %d events, want the recent one", count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	page, _ := s.QueryAudit(ctx, audit.Query{})
	if page.Events[0].Reason != "recent" {
		t.Fatalf("pruning kept %+v, want the recent event", page.Events[0])
	}

	// A backlog of more than one batch, pruned in batches.
	p, ok := s.(pruner)
	if !ok {
		t.Fatalf("%T has no PruneAudit", s)
	}
	const old = 2100
	together(8, func(i int) {
		for j := i; j < old; j += 8 {
			if err := s.Record(ctx, audit.Event{Time: clock.Now().Add(-40 * 24 * time.Hour), Action: audit.ActionTicketIssue, Outcome: audit.OutcomeDenied, Reason: "backlog"}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	clock.Advance(24 * time.Hour) // the recent event is 30 days old now: kept
	// The background loop may have taken some: count what is left.
	n, err := p.PruneAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n > old || count() != 1 {
		t.Fatalf("PruneAudit deleted %d, %d events left, want 1", n, count())
	}
	clock.Advance(2 * 24 * time.Hour)
	if _, err := p.PruneAudit(ctx); err != nil || count() != 0 {
		t.Fatalf("past its age the recent event stays: %d left, %v", count(), err)
	}
}

// subscribe subscribes to s's changes; take returns the changes delivered
// since its last call, cancel ends the subscription.
func subscribe(s keystore.Store) (take func() []keystore.Change, cancel func()) {
	var mu sync.Mutex
	var got []keystore.Change
	cancel = s.Subscribe(func(c keystore.Change) { mu.Lock(); got = append(got, c); mu.Unlock() })
	take = func() []keystore.Change {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	return take, cancel
}
