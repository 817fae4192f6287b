package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// DemoScheme is a valid scheme (not stored): 100 a minute per key, and 5 a
// second per key and IP on /v1/admin/*.
func DemoScheme(slug string) keystore.Scheme {
	return keystore.Scheme{Slug: slug, Name: "Scheme " + slug, Description: "for tests", Rules: []ratelimit.SchemeRule{
		{Unit: ratelimit.UnitMinute, Duration: 1, MaxRequests: 100, Mode: ratelimit.ModePerKey},
		{Unit: ratelimit.UnitSecond, Duration: 1, MaxRequests: 5, Mode: ratelimit.ModePerKeyAndIP,
			Endpoints: []string{"/v1/admin/*"}, Priority: 10},
	}}
}

// schemes is the contract of rate-limit schemes and of the apps that name
// them.
func schemes(t *testing.T, openStore func(t *testing.T) (keystore.Store, *testenv.Clock)) {
	ctx := context.Background()
	t.Run("CRUD", func(t *testing.T) {
		s, clock := openStore(t)
		x, err := s.CreateScheme(ctx, DemoScheme("standard"))
		if err != nil || !strings.HasPrefix(x.ID, "rls_") || !x.CreatedAt.Equal(clock.Now()) || len(x.Rules) != 2 {
			t.Fatalf("CreateScheme = %+v, %v", x, err)
		}
		got, err := s.GetScheme(ctx, "standard")
		if err != nil || got.ID != x.ID || got.Name != "Scheme standard" || got.Description != "for tests" ||
			len(got.Rules) != 2 || got.Rules[1].Mode != ratelimit.ModePerKeyAndIP || got.Rules[1].Endpoints[0] != "/v1/admin/*" ||
			got.Rules[1].Priority != 10 || got.Rules[0].MaxRequests != 100 {
			t.Fatalf("GetScheme = %+v, %v", got, err)
		}
		_, err = s.CreateScheme(ctx, DemoScheme("standard"))
		WantErr(t, "duplicate slug", err, keystore.ErrConflict)
		_, err = s.GetScheme(ctx, "nope")
		WantErr(t, "unknown scheme", err, keystore.ErrNotFound)
		_, err = s.GetScheme(ctx, "Not A Slug")
		WantErr(t, "unstorable slug", err, keystore.ErrNotFound)

		clock.Advance(time.Minute)
		if _, err := s.CreateScheme(ctx, keystore.Scheme{Slug: "empty", Name: "No rules"}); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListSchemes(ctx)
		if err != nil || len(list) != 2 || list[0].Slug != "standard" || list[1].Slug != "empty" || list[1].Rules == nil {
			t.Fatalf("ListSchemes = %+v, %v", list, err)
		}

		clock.Advance(time.Minute)
		rules := []ratelimit.SchemeRule{{Unit: ratelimit.UnitHour, Duration: 2, MaxRequests: 7, Mode: ratelimit.ModePerApp}}
		name := "Renamed"
		up, err := s.UpdateScheme(ctx, "standard", keystore.SchemePatch{Name: &name, Rules: &rules})
		if err != nil || up.Name != "Renamed" || up.Description != "for tests" || len(up.Rules) != 1 ||
			up.Rules[0].MaxRequests != 7 || !up.UpdatedAt.Equal(clock.Now()) || !up.CreatedAt.Equal(x.CreatedAt) {
			t.Fatalf("UpdateScheme = %+v, %v", up, err)
		}
		if got, _ := s.GetScheme(ctx, "standard"); got.Name != "Renamed" || len(got.Rules) != 1 || got.Rules[0].Unit != "hour" {
			t.Fatalf("after update GetScheme = %+v", got)
		}
		_, err = s.UpdateScheme(ctx, "nope", keystore.SchemePatch{Name: &name})
		WantErr(t, "update unknown", err, keystore.ErrNotFound)

		if err := s.DeleteScheme(ctx, "empty"); err != nil {
			t.Fatal(err)
		}
		WantErr(t, "delete twice", s.DeleteScheme(ctx, "empty"), keystore.ErrNotFound)
		if list, _ := s.ListSchemes(ctx); len(list) != 1 {
			t.Fatalf("after delete %d schemes", len(list))
		}
	})

	t.Run("Validation", func(t *testing.T) {
		s, _ := openStore(t)
		bad := func(f func(x *keystore.Scheme)) keystore.Scheme {
			x := DemoScheme("ok")
			f(&x)
			return x
		}
		for _, tc := range []struct {
			name   string
			scheme keystore.Scheme
			msg    string
		}{
			{"slug", bad(func(x *keystore.Scheme) { x.Slug = "Has Space" }), "slug"},
			{"empty slug", bad(func(x *keystore.Scheme) { x.Slug = "" }), "slug"},
			{"name", bad(func(x *keystore.Scheme) { x.Name = " " }), "name must not be empty"},
			{"control in name", bad(func(x *keystore.Scheme) { x.Name = "a\x1b[31m" }), "name"},
			{"zero max", bad(func(x *keystore.Scheme) { x.Rules[1].MaxRequests = 0 }), "rules[1].max_requests must be positive"},
			{"unit", bad(func(x *keystore.Scheme) { x.Rules[0].Unit = "fortnight" }), "rules[0].unit"},
			{"mode", bad(func(x *keystore.Scheme) { x.Rules[0].Mode = "per_user" }), "rules[0].mode"},
			{"endpoint", bad(func(x *keystore.Scheme) { x.Rules[0].Endpoints = []string{"*"} }), "rules[0].endpoints[0]"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.CreateScheme(ctx, tc.scheme)
				if !errors.Is(err, keystore.ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("CreateScheme = %v, want ErrInvalid naming %q", err, tc.msg)
				}
			})
		}
		if _, err := s.CreateScheme(ctx, DemoScheme("ok")); err != nil {
			t.Fatal(err)
		}
		zero := []ratelimit.SchemeRule{{Unit: "minute", Duration: 1}}
		_, err := s.UpdateScheme(ctx, "ok", keystore.SchemePatch{Rules: &zero})
		if !errors.Is(err, keystore.ErrInvalid) || !strings.Contains(err.Error(), "rules[0].max_requests") {
			t.Fatalf("UpdateScheme with a bad rule = %v", err)
		}
		if got, _ := s.GetScheme(ctx, "ok"); len(got.Rules) != 2 {
			t.Fatalf("a refused update changed the scheme: %+v", got)
		}
	})

	t.Run("Apps", func(t *testing.T) {
		s, _ := openStore(t)
		app := DemoApp("aa_1", "acme")
		app.RateLimitSchemeSlug = "standard"
		_, err := s.CreateApp(ctx, app, Alice)
		if !errors.Is(err, keystore.ErrInvalid) || !strings.Contains(err.Error(), `rate_limit_scheme_slug "standard" names no rate-limit scheme`) {
			t.Fatalf("CreateApp naming an unknown scheme = %v, want ErrInvalid", err)
		}
		if _, err := s.CreateScheme(ctx, DemoScheme("standard")); err != nil {
			t.Fatal(err)
		}
		app.RateLimits = []ratelimit.SchemeRule{{Unit: ratelimit.UnitDay, Duration: 1, MaxRequests: 1000, Mode: ratelimit.ModePerApp}}
		a, err := s.CreateApp(ctx, app, Alice)
		if err != nil || a.RateLimitSchemeSlug != "standard" || len(a.RateLimits) != 1 {
			t.Fatalf("CreateApp = %+v, %v", a, err)
		}
		_, secret := MustKey(t, s, "aa_1", "k", nil)
		_, la, err := s.LookupKey(ctx, keystore.HashSecret(secret))
		if err != nil || la.RateLimitSchemeSlug != "standard" || len(la.RateLimits) != 1 || la.RateLimits[0].MaxRequests != 1000 {
			t.Fatalf("LookupKey's app = %+v, %v; want the scheme and rate_limits", la, err)
		}
		plain := MustApp(t, s, "aa_2", "acme")
		if plain.RateLimits == nil || len(plain.RateLimits) != 0 {
			t.Fatalf("an app without rules has RateLimits %#v, want empty", plain.RateLimits)
		}
		if got, _ := s.GetApp(ctx, "aa_2"); got.RateLimits == nil {
			t.Fatal("GetApp: nil RateLimits")
		}

		badRules := []ratelimit.SchemeRule{{Unit: "minute", Duration: -1, MaxRequests: 1}}
		_, err = s.UpdateApp(ctx, "aa_2", keystore.AppPatch{RateLimits: &badRules}, Alice)
		if !errors.Is(err, keystore.ErrInvalid) || !strings.Contains(err.Error(), "rate_limits[0].duration") {
			t.Fatalf("UpdateApp with a bad rule = %v", err)
		}
		_, err = s.CreateApp(ctx, func() keystore.App { a := DemoApp("aa_3", "acme"); a.RateLimits = badRules; return a }(), Alice)
		WantErr(t, "create with a bad rule", err, keystore.ErrInvalid)
		unknown := "gold"
		_, err = s.UpdateApp(ctx, "aa_2", keystore.AppPatch{RateLimitSchemeSlug: &unknown}, Alice)
		WantErr(t, "patch to an unknown scheme", err, keystore.ErrInvalid)
		std := "standard"
		up, err := s.UpdateApp(ctx, "aa_2", keystore.AppPatch{RateLimitSchemeSlug: &std, RateLimits: &app.RateLimits}, Alice)
		if err != nil || up.RateLimitSchemeSlug != "standard" || len(up.RateLimits) != 1 {
			t.Fatalf("UpdateApp = %+v, %v", up, err)
		}

		// In use: refused while an app (even a disabled one) names it.
		off := false
		if _, err := s.UpdateApp(ctx, "aa_2", keystore.AppPatch{IsActive: &off}, Alice); err != nil {
			t.Fatal(err)
		}
		err = s.DeleteScheme(ctx, "standard")
		var inUse *keystore.SchemeInUseError
		if !errors.Is(err, keystore.ErrInUse) || !errors.As(err, &inUse) || strings.Join(inUse.Apps, ",") != "aa_1,aa_2" {
			t.Fatalf("DeleteScheme in use = %v, want ErrInUse naming aa_1 and aa_2", err)
		}
		none := ""
		if _, err := s.UpdateApp(ctx, "aa_2", keystore.AppPatch{RateLimitSchemeSlug: &none}, Alice); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteApp(ctx, "aa_1", Alice); err != nil { // a deleted app does not hold it
			t.Fatal(err)
		}
		if err := s.DeleteScheme(ctx, "standard"); err != nil {
			t.Fatalf("DeleteScheme no longer in use: %v", err)
		}
	})

	// Of an app naming a scheme and the scheme's deletion, racing, never
	// both succeed.
	t.Run("DeleteRacesCreateApp", func(t *testing.T) {
		s, _ := openStore(t)
		for i := range 10 {
			slug := fmt.Sprint("s", i)
			if _, err := s.CreateScheme(ctx, DemoScheme(slug)); err != nil {
				t.Fatal(err)
			}
			var created, deleted error
			var once sync.Mutex
			together(2, func(j int) {
				if j == 0 {
					a := DemoApp(fmt.Sprint("aa_", i), "acme")
					a.RateLimitSchemeSlug = slug
					_, err := s.CreateApp(ctx, a, Alice)
					once.Lock()
					created = err
					once.Unlock()
				} else {
					err := s.DeleteScheme(ctx, slug)
					once.Lock()
					deleted = err
					once.Unlock()
				}
			})
			if created == nil && deleted == nil {
				t.Fatalf("round %d: the app was created naming %s and the scheme was deleted", i, slug)
			}
			if created != nil && !errors.Is(created, keystore.ErrInvalid) {
				t.Fatalf("round %d: CreateApp = %v", i, created)
			}
			if deleted != nil && !errors.Is(deleted, keystore.ErrInUse) {
				t.Fatalf("round %d: DeleteScheme = %v", i, deleted)
			}
		}
	})

	// Every scheme change tells subscribers to drop everything: any app
	// may name the scheme.
	t.Run("Subscribe", func(t *testing.T) {
		s, _ := openStore(t)
		take, cancel := subscribe(s)
		defer cancel()
		if _, err := s.CreateScheme(ctx, DemoScheme("x")); err != nil {
			t.Fatal(err)
		}
		if c := take(); len(c) != 1 || c[0] != (keystore.Change{}) {
			t.Fatalf("create: %+v", c)
		}
		name := "y"
		if _, err := s.UpdateScheme(ctx, "x", keystore.SchemePatch{Name: &name}); err != nil {
			t.Fatal(err)
		}
		if c := take(); len(c) != 1 || c[0] != (keystore.Change{}) {
			t.Fatalf("update: %+v", c)
		}
		s.UpdateScheme(ctx, "nope", keystore.SchemePatch{Name: &name})
		if c := take(); len(c) != 0 {
			t.Fatalf("failed update notified: %+v", c)
		}
		if err := s.DeleteScheme(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if c := take(); len(c) != 1 || c[0] != (keystore.Change{}) {
			t.Fatalf("delete: %+v", c)
		}
	})
}
