package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/keystore"
)

// post sends a JSON body with the session and returns the status, the error
// body (if any) and the Retry-After header.
func (e *env) post(sess, path, body string) (int, errBody, string) {
	e.t.Helper()
	var raw json.RawMessage
	res := e.do("POST", PagePath+"/api"+path, sess, "application/json", body, &raw)
	var bad errBody
	if res.StatusCode >= 400 {
		json.Unmarshal(raw, &bad)
	} else {
		var ok createdKey
		json.Unmarshal(raw, &ok)
		remember(ok.Secret)
	}
	return res.StatusCode, bad, res.Header.Get("Retry-After")
}

// TestKeyChangesAreRateLimited: a user hammering create gets 429 once the
// burst is spent, with Retry-After and a message the page shows; rotate and
// revoke draw on the same budget; a new session of the same user does not
// refill it; other users and other apps are not affected; requests refused
// for their input cost nothing; the budget refills at the rate.
func TestKeyChangesAreRateLimited(t *testing.T) {
	e := newEnv(t, envOptions{}) // the defaults: 30 a minute, 10 at once
	e.app("aa_42", "acme", originA)
	e.app("aa_43", "acme", originA)
	alice := e.session("aa_42", "acme", "alice", originA)
	for range 2 * DefaultChangeBurst {
		if code, _, _ := e.post(alice, "/keys", `{"name":" "}`); code != http.StatusBadRequest {
			t.Fatalf("a nameless key: %d, want 400", code)
		}
	}

	var first createdKey
	for i := range DefaultChangeBurst {
		if i == 0 {
			first = e.createKey(alice, `{"name":"k0"}`)
			continue
		}
		if code, bad, _ := e.post(alice, "/keys", fmt.Sprintf(`{"name":"k%d"}`, i)); code != http.StatusCreated {
			t.Fatalf("create %d of the burst: %d %+v", i+1, code, bad)
		}
	}
	code, bad, retry := e.post(alice, "/keys", `{"name":"one too many"}`)
	if code != http.StatusTooManyRequests || bad.Error.Code != "rate_limited" || retry != "2" ||
		!strings.Contains(bad.Error.Message, "at most 30 a minute") || !strings.Contains(bad.Error.Message, "Try again in 2 seconds") {
		t.Fatalf("create past the burst: %d %+v Retry-After %q, want 429 rate_limited, 2 s", code, bad, retry)
	}
	for path, body := range map[string]string{"/rotate": `{"grace":"0"}`, "/revoke": `{}`} {
		if code, _, _ := e.post(alice, "/keys/"+first.Key.ID+path, body); code != http.StatusTooManyRequests {
			t.Fatalf("%s past the burst: %d, want 429", path, code)
		}
	}
	if got := len(e.listKeys(alice, "all")); got != DefaultChangeBurst {
		t.Fatalf("%d keys after the refusals, want the %d of the burst, unchanged", got, DefaultChangeBurst)
	}

	// A fresh session (a renewal, another tab) is the same user: still limited.
	again := e.session("aa_42", "acme", "alice", originA)
	if code, _, _ := e.post(again, "/keys", `{"name":"new session"}`); code != http.StatusTooManyRequests {
		t.Fatalf("a new session of the same user: %d, want 429", code)
	}
	// Other users of the app, and alice in another app, are not affected.
	bob := e.session("aa_42", "acme", "bob", originA)
	if code, bad, _ := e.post(bob, "/keys", `{"name":"bob's"}`); code != http.StatusCreated {
		t.Fatalf("another user: %d %+v", code, bad)
	}
	elsewhere := e.session("aa_43", "acme", "alice", originA)
	if code, bad, _ := e.post(elsewhere, "/keys", `{"name":"other app"}`); code != http.StatusCreated {
		t.Fatalf("the same user in another app: %d %+v", code, bad)
	}

	// The budget refills: one change every 2 s.
	e.clock.Advance(2 * time.Second)
	if code, bad, _ := e.post(alice, "/keys/"+first.Key.ID+"/revoke", `{}`); code != http.StatusOK {
		t.Fatalf("revoke after Retry-After: %d %+v", code, bad)
	}
	if code, _, retry := e.post(alice, "/keys", `{"name":"too soon"}`); code != http.StatusTooManyRequests || retry != "2" {
		t.Fatalf("right after: %d Retry-After %q", code, retry)
	}
}

func TestKeyChangeLimitConfig(t *testing.T) {
	e := newEnv(t, envOptions{changeRate: NoChangeLimit, maxActiveKeys: keystore.NoKeyLimit})
	e.app("aa_42", "acme", originA)
	alice := e.session("aa_42", "acme", "alice", originA)
	for i := range 3 * DefaultChangeBurst {
		if code, bad, _ := e.post(alice, "/keys", fmt.Sprintf(`{"name":"k%d"}`, i)); code != http.StatusCreated {
			t.Fatalf("NoChangeLimit, create %d: %d %+v", i+1, code, bad)
		}
	}

	e = newEnv(t, envOptions{changeRate: 6, changeBurst: 1})
	e.app("aa_42", "acme", originA)
	alice = e.session("aa_42", "acme", "alice", originA)
	e.createKey(alice, `{"name":"one"}`)
	if code, bad, retry := e.post(alice, "/keys", `{"name":"two"}`); code != http.StatusTooManyRequests || retry != "10" ||
		!strings.Contains(bad.Error.Message, "at most 6 a minute") {
		t.Fatalf("6 a minute, burst 1: %d %+v Retry-After %q", code, bad, retry)
	}

	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{ChangeBurst: -1}, "ChangeBurst"},
		{Config{ChangeRate: posInf()}, "ChangeRate"},
	} {
		tc.cfg.Store, tc.cfg.BaseURL = e.store, "http://localhost:8081"
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}

func posInf() float64 { var zero float64; return 1 / zero }

// TestKeyCapThroughThePortal: past the store's cap, create is a 409 whose
// message names the cap; rotation at the cap still works; a revocation
// frees a place.
func TestKeyCapThroughThePortal(t *testing.T) {
	e := newEnv(t, envOptions{maxActiveKeys: 3})
	e.app("aa_42", "acme", originA)
	alice := e.session("aa_42", "acme", "alice", originA)
	var keys []createdKey
	for i := range 3 {
		keys = append(keys, e.createKey(alice, fmt.Sprintf(`{"name":"k%d"}`, i)))
	}
	code, bad, _ := e.post(alice, "/keys", `{"name":"fourth"}`)
	if code != http.StatusConflict || bad.Error.Code != "key_limit" || !strings.Contains(bad.Error.Message, "already has 3 active keys") {
		t.Fatalf("a 4th key: %d %+v, want 409 key_limit naming the cap", code, bad)
	}
	if code, bad, _ := e.post(alice, "/keys/"+keys[0].Key.ID+"/rotate", `{"grace":"24h"}`); code != http.StatusOK {
		t.Fatalf("rotate at the cap: %d %+v", code, bad)
	}
	if code, _, _ := e.post(alice, "/keys/"+keys[1].Key.ID+"/revoke", `{}`); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	e.createKey(alice, `{"name":"in the freed place"}`)
}

type keyListPage struct {
	Keys       []keyView `json:"keys"`
	NextCursor *string   `json:"next_cursor"`
}

func (e *env) keyPage(sess, query string) (int, keyListPage, errBody) {
	e.t.Helper()
	var raw json.RawMessage
	res := e.do("GET", PagePath+"/api/keys?"+query, sess, "", "", &raw)
	var page keyListPage
	var bad errBody
	if res.StatusCode == http.StatusOK {
		json.Unmarshal(raw, &page)
	} else {
		json.Unmarshal(raw, &bad)
	}
	return res.StatusCode, page, bad
}

// TestKeyListPages: the key list comes in pages; following next_cursor
// while keys are created and revoked between pages lists every key that
// was there exactly once; bad limits and cursors are 400s.
func TestKeyListPages(t *testing.T) {
	e := newEnv(t, envOptions{changeRate: NoChangeLimit})
	e.app("aa_42", "acme", originA)
	e.app("aa_77", "globex", originA)
	alice := e.session("aa_42", "acme", "alice", originA)
	var before []string
	for i := range 12 {
		if i%5 == 0 {
			e.clock.Advance(time.Millisecond)
		}
		before = append(before, e.createKey(alice, fmt.Sprintf(`{"name":"k%d"}`, i)).Key.ID)
	}
	e.createKey(e.session("aa_77", "globex", "frank", originA), `{"name":"another tenant's"}`)

	code, page, bad := e.keyPage(alice, "status=all")
	if code != 200 || len(page.Keys) != 12 || page.NextCursor == nil || *page.NextCursor != "" {
		t.Fatalf("one default page: %d, %d keys, next %v, %+v", code, len(page.Keys), page.NextCursor, bad)
	}

	seen := map[string]int{}
	cursor, pages := "", 0
	for {
		q := url.Values{"status": {"all"}, "limit": {"5"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		code, page, bad := e.keyPage(alice, q.Encode())
		if code != 200 || page.NextCursor == nil {
			t.Fatalf("page %d: %d %+v", pages+1, code, bad)
		}
		pages++
		for _, k := range page.Keys {
			seen[k.ID]++
		}
		if cursor = *page.NextCursor; cursor == "" {
			break
		}
		e.createKey(alice, fmt.Sprintf(`{"name":"between pages %d"}`, pages))
		if code, _, _ := e.post(alice, "/keys/"+before[pages]+"/revoke", `{}`); code != 200 {
			t.Fatalf("revoke between pages: %d", code)
		}
	}
	if pages != 3 {
		t.Errorf("%d pages of 5 for 12 keys", pages)
	}
	testenv.ListedOnce(t, before, seen)

	for _, q := range []string{"limit=0", "limit=201", "limit=ten", "limit=-1", "cursor=not-ours", "cursor=" + url.QueryEscape("MTAwLmtleV94\x00")} {
		if code, _, bad := e.keyPage(alice, "status=all&"+q); code != http.StatusBadRequest || bad.Error.Code != "bad_request" || bad.Error.Message == "" {
			t.Errorf("%s: %d %+v, want 400 bad_request with a message", q, code, bad)
		}
	}
	if code, page, _ := e.keyPage(alice, "status=all&limit=200"); code != 200 || len(page.Keys) != 14 {
		t.Errorf("limit=200: %d, %d keys", code, len(page.Keys))
	}
}
