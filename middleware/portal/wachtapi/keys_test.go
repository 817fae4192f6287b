package wachtapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/wacht"
)

type keyPage struct {
	Keys       []struct{ ID, Status string } `json:"keys"`
	Limit      int                           `json:"limit"`
	HasMore    bool                          `json:"has_more"`
	NextCursor *string                       `json:"next_cursor"`
}

func (w *world) keyPage(t *testing.T, query string) (int, keyPage, []byte) {
	t.Helper()
	status, body, _ := w.do("GET", "/api-auth/apps/"+apikeytest.AppSlug+"/keys?"+query, "Bearer "+backendKey, nil)
	var page keyPage
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	return status, page, body
}

// TestKeyListPages: GET /api-auth/apps/{slug}/keys answers pages of
// {"keys", "limit", "has_more", "next_cursor"}; following next_cursor while
// keys are created and revoked between pages lists every key that was there
// exactly once; bad limits and cursors are 400s in Wacht's error shape.
func TestKeyListPages(t *testing.T) {
	w := newWorld(t)
	var before []string
	for i := range 11 {
		if i%4 == 0 {
			w.env.Clock.Advance(time.Millisecond)
		}
		k, _ := w.env.NewKey(t, fmt.Sprint("k", i), nil, nil)
		before = append(before, k.ID)
	}
	status, page, body := w.keyPage(t, "include_inactive=true")
	if status != 200 || len(page.Keys) != 11 || page.Limit != keystore.DefaultKeyLimit || page.HasMore || page.NextCursor != nil {
		t.Fatalf("default page: %d %s", status, body)
	}

	seen := map[string]int{}
	cursor, pages := "", 0
	for {
		q := url.Values{"include_inactive": {"true"}, "limit": {"4"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		status, page, body := w.keyPage(t, q.Encode())
		if status != 200 || page.Limit != 4 || page.HasMore != (page.NextCursor != nil) {
			t.Fatalf("page %d: %d %s", pages+1, status, body)
		}
		pages++
		for _, k := range page.Keys {
			seen[k.ID]++
		}
		if !page.HasMore {
			break
		}
		cursor = *page.NextCursor
		w.env.NewKey(t, fmt.Sprint("between pages ", pages), nil, nil)
		if _, err := w.env.Store.RevokeKey(context.Background(), apikeytest.AppSlug, before[pages], "", apikeytest.Actor); err != nil {
			t.Fatal(err)
		}
	}
	if pages != 3 {
		t.Errorf("%d pages of 4 for 11 keys", pages)
	}
	testenv.ListedOnce(t, before, seen)
	// Active keys only (the default), paged as well.
	if status, page, body := w.keyPage(t, "limit=1000"); status != 200 || len(page.Keys) != 11 {
		t.Fatalf("active keys: %d %s", status, body)
	}

	for _, q := range []string{"limit=0", "limit=1001", "limit=many", "cursor=bm9wZQ", "cursor=" + url.QueryEscape("not ours")} {
		status, body, _ := w.do("GET", "/api-auth/apps/"+apikeytest.AppSlug+"/keys?"+q, "Bearer "+backendKey, nil)
		wantError(t, q, status, body, http.StatusBadRequest)
	}
	status, body, _ = w.do("GET", "/api-auth/apps/aa_nope/keys?limit=0", "Bearer "+backendKey, nil)
	wantError(t, "bad limit of an unknown app", status, body, http.StatusBadRequest)
}

// TestKeyCapThroughTheBackendAPI: at the store's cap (the default, 100) a
// create is 409 with a message naming it; rotation still works; the Wacht
// client reads the 409 as ErrConflict and lists all keys across pages.
func TestKeyCapThroughTheBackendAPI(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var keys []keystore.Key
	for i := range keystore.DefaultMaxActiveKeys {
		k, _ := w.env.NewKey(t, fmt.Sprint("k", i), nil, nil)
		keys = append(keys, k)
	}
	status, body, _ := w.do("POST", "/api-auth/apps/"+apikeytest.AppSlug+"/keys", "Bearer "+backendKey, map[string]any{"name": "one too many"})
	wantError(t, "a key past the cap", status, body, http.StatusConflict)
	if !strings.Contains(string(body), "already has 100 active keys") {
		t.Fatalf("409 body %s does not name the cap", body)
	}
	c := w.client(t, backendKey)
	if _, _, err := c.CreateKey(ctx, apikeytest.AppSlug, wacht.CreateKeyRequest{Name: "via the client"}); !errors.Is(err, wacht.ErrConflict) {
		t.Fatalf("client create past the cap: %v, want ErrConflict", err)
	}
	if _, _, err := c.RotateKey(ctx, apikeytest.AppSlug, keys[0].ID, wacht.RotateKeyRequest{}); err != nil {
		t.Fatalf("rotate at the cap: %v", err)
	}

	// 100 active keys and the rotated one: two pages at the default size,
	// which the client follows.
	all, err := c.ListKeys(ctx, apikeytest.AppSlug, true)
	if err != nil || len(all) != keystore.DefaultMaxActiveKeys+1 {
		t.Fatalf("client ListKeys(all) = %d keys, %v; want %d", len(all), err, keystore.DefaultMaxActiveKeys+1)
	}
	ids := map[string]bool{}
	for _, k := range all {
		ids[k.ID] = true
	}
	if len(ids) != len(all) {
		t.Fatalf("the client listed %d keys but %d distinct", len(all), len(ids))
	}
	active, err := c.ListKeys(ctx, apikeytest.AppSlug, false)
	if err != nil || len(active) != keystore.DefaultMaxActiveKeys {
		t.Fatalf("client ListKeys(active) = %d keys, %v", len(active), err)
	}
}
