package portal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

type createdKey struct {
	Key    keyView `json:"key"`
	Secret string  `json:"secret"`
	OldKey keyView `json:"old_key"`
}

func (e *env) createKey(sess, body string) createdKey {
	e.t.Helper()
	var out createdKey
	res := e.do("POST", PagePath+"/api/keys", sess, "application/json", body, &out)
	if res.StatusCode != http.StatusCreated {
		e.t.Fatalf("create key: %d", res.StatusCode)
	}
	remember(out.Secret)
	return out
}

func (e *env) listKeys(sess, status string) []keyView {
	e.t.Helper()
	var out struct{ Keys []keyView }
	if res := e.do("GET", PagePath+"/api/keys?status="+status, sess, "", "", &out); res.StatusCode != 200 {
		e.t.Fatalf("list keys: %d", res.StatusCode)
	}
	return out.Keys
}

var secretRE = regexp.MustCompile(`^kp_aa_42_[A-Za-z0-9_-]{43}$`)

func TestKeyLifecycleThroughTheAPI(t *testing.T) {
	e := newAcmeEnv(t)
	sess := e.session("aa_42", "acme", "alice", originA)

	exp := e.clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	created := e.createKey(sess, `{"name":" billing worker ","expires_at":"`+exp+`"}`)
	if !secretRE.MatchString(created.Secret) || created.Key.Name != "billing worker" || created.Key.CreatedBy != "alice" ||
		created.Key.Status != "active" || created.Key.ExpiresAt == nil || !strings.HasSuffix(created.Secret, created.Key.KeySuffix) {
		t.Fatalf("created %+v (secret shape ok: %v)", created.Key, secretRE.MatchString(created.Secret))
	}
	if _, app, err := e.store.LookupKey(context.Background(), keystore.HashSecret(created.Secret)); err != nil || app.Slug != "aa_42" {
		t.Fatalf("the secret does not find its key: %v", err)
	}

	// Rotate with a one-hour grace: both keys active, the old one until grace_until.
	var rotated createdKey
	if res := e.do("POST", PagePath+"/api/keys/"+created.Key.ID+"/rotate", sess, "application/json", `{"grace":"1h"}`, &rotated); res.StatusCode != 200 {
		t.Fatalf("rotate: %d", res.StatusCode)
	}
	remember(rotated.Secret)
	if rotated.Secret == created.Secret || rotated.Key.RotatedFrom != created.Key.ID || rotated.OldKey.GraceUntil == nil ||
		!rotated.OldKey.GraceUntil.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("rotated %+v old %+v", rotated.Key, rotated.OldKey)
	}
	if got := len(e.listKeys(sess, "active")); got != 2 {
		t.Fatalf("%d active keys during the grace, want 2", got)
	}
	e.clock.Advance(time.Hour)
	sess = e.session("aa_42", "acme", "alice", originA) // the first one has ended
	if got := e.listKeys(sess, "revoked"); len(got) != 1 || got[0].ID != created.Key.ID {
		t.Fatalf("revoked after the grace: %+v", got)
	}

	// Revoke the new key with a reason; revoking twice is a clear 409.
	var revoked struct{ Key keyView }
	if res := e.do("POST", PagePath+"/api/keys/"+rotated.Key.ID+"/revoke", sess, "application/json", `{"reason":"leaked in a log"}`, &revoked); res.StatusCode != 200 {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if revoked.Key.Status != "revoked" || revoked.Key.RevokedReason != "leaked in a log" {
		t.Fatalf("revoked %+v", revoked.Key)
	}
	var bad errBody
	if res := e.do("POST", PagePath+"/api/keys/"+rotated.Key.ID+"/revoke", sess, "application/json", `{}`, &bad); res.StatusCode != 409 || bad.Error.Code != "inactive" {
		t.Fatalf("second revoke: %d %+v", res.StatusCode, bad)
	}
	if got := e.listKeys(sess, "all"); len(got) != 2 {
		t.Fatalf("%d keys in all, want 2", len(got))
	}

	// Expired filter.
	short := e.clock.Now().Add(time.Minute).Format(time.RFC3339)
	e.createKey(sess, `{"name":"short","expires_at":"`+short+`"}`)
	e.clock.Advance(2 * time.Minute)
	if got := e.listKeys(sess, "expired"); len(got) != 1 || got[0].Name != "short" {
		t.Fatalf("expired: %+v", got)
	}

	// Activity: the app's key events with the acting user, newest first, paged.
	var act struct {
		Events     []activityView
		NextCursor string `json:"next_cursor"`
	}
	if res := e.do("GET", PagePath+"/api/activity?limit=2", sess, "", "", &act); res.StatusCode != 200 || len(act.Events) != 2 || act.NextCursor == "" {
		t.Fatalf("activity page 1: %d %+v", res.StatusCode, act)
	}
	seen := map[string]int{}
	cursor := ""
	for range 20 {
		act.Events, act.NextCursor = nil, ""
		e.do("GET", PagePath+"/api/activity?limit=2&cursor="+cursor, sess, "", "", &act)
		for _, ev := range act.Events {
			if ev.Actor == "alice" {
				seen[ev.Action]++
			}
		}
		if cursor = act.NextCursor; cursor == "" {
			break
		}
	}
	for action, n := range map[string]int{audit.ActionKeyCreated: 2, audit.ActionKeyRotated: 1, audit.ActionKeyRevoked: 1, audit.ActionTicketExchanged: 2} {
		if seen[action] != n {
			t.Fatalf("activity has %d %s by alice, want %d (all: %v)", seen[action], action, n, seen)
		}
	}
}

func TestSessionCannotTouchAnotherApp(t *testing.T) {
	e := newAcmeEnv(t)
	e.app("aa_77", "globex", originB)
	acme := e.session("aa_42", "acme", "alice", originA)
	globex := e.session("aa_77", "globex", "frank", originB)
	theirs := e.createKey(globex, `{"name":"globex prod"}`)

	for _, tc := range []struct{ name, method, path, body string }{
		{"rotate", "POST", "/api/keys/" + theirs.Key.ID + "/rotate", `{"grace":"0"}`},
		{"revoke", "POST", "/api/keys/" + theirs.Key.ID + "/revoke", `{"reason":"x"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bad errBody
			if res := e.do(tc.method, PagePath+tc.path, acme, "application/json", tc.body, &bad); res.StatusCode != 404 || bad.Error.Code != "not_found" {
				t.Fatalf("%s of another app's key: %d %+v, want 404", tc.name, res.StatusCode, bad)
			}
		})
	}
	if got := e.listKeys(acme, "all"); len(got) != 0 {
		t.Fatalf("acme sees %d keys of globex", len(got))
	}
	k, err := e.store.GetKey(context.Background(), "aa_77", theirs.Key.ID)
	if err != nil || !k.IsActive || k.RevokedAt != nil {
		t.Fatalf("globex's key changed: %+v %v", k, err)
	}
	var act struct{ Events []activityView }
	e.do("GET", PagePath+"/api/activity", acme, "", "", &act)
	for _, ev := range act.Events {
		if ev.Actor == "frank" || ev.KeyID == theirs.Key.ID {
			t.Fatalf("acme's activity shows globex's event %+v", ev)
		}
	}
}

func TestAPIRejectsBadRequests(t *testing.T) {
	e := newAcmeEnv(t)
	sess := e.session("aa_42", "acme", "alice", originA)
	key := e.createKey(sess, `{"name":"k"}`)
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})
	past := e.clock.Now().Add(-time.Hour).Format(time.RFC3339)
	big := `{"name":"` + strings.Repeat("x", 17<<10) + `"}`

	tests := []struct {
		name, method, path, bearer, ctype, body string
		status                                  int
		code                                    string
	}{
		{"no session", "GET", "/api/keys", "", "", "", 401, "session_invalid"},
		{"garbage session", "GET", "/api/keys", "kps1.nope", "", "", 401, "session_invalid"},
		{"a ticket is not a session", "GET", "/api/keys", tk.Ticket, "", "", 401, "session_invalid"},
		{"unknown status", "GET", "/api/keys?status=deleted", sess, "", "", 400, "bad_request"},
		{"not JSON", "POST", "/api/keys", sess, "text/plain", `{"name":"a"}`, 415, "unsupported_media_type"},
		{"unknown field", "POST", "/api/keys", sess, "application/json", `{"name":"a","admin":true}`, 400, "bad_json"},
		{"trailing data", "POST", "/api/keys", sess, "application/json", `{"name":"a"}{"name":"b"}`, 400, "bad_json"},
		{"array", "POST", "/api/keys", sess, "application/json", `[{"name":"a"}]`, 400, "bad_json"},
		{"syntax error", "POST", "/api/keys", sess, "application/json", `{"name":`, 400, "bad_json"},
		{"wrong type", "POST", "/api/keys", sess, "application/json", `{"name":42}`, 400, "bad_json"},
		{"too large", "POST", "/api/keys", sess, "application/json", big, 413, "body_too_large"},
		{"empty name", "POST", "/api/keys", sess, "application/json", `{"name":"  "}`, 400, "bad_request"},
		{"long name", "POST", "/api/keys", sess, "application/json", `{"name":"` + strings.Repeat("é", 101) + `"}`, 400, "bad_request"},
		{"expiry in the past", "POST", "/api/keys", sess, "application/json", `{"name":"a","expires_at":"` + past + `"}`, 400, "bad_request"},
		{"expiry not a time", "POST", "/api/keys", sess, "application/json", `{"name":"a","expires_at":"tomorrow"}`, 400, "bad_json"},
		{"grace not offered", "POST", "/api/keys/" + key.Key.ID + "/rotate", sess, "application/json", `{"grace":"2h"}`, 400, "bad_request"},
		{"grace missing", "POST", "/api/keys/" + key.Key.ID + "/rotate", sess, "application/json", `{}`, 400, "bad_request"},
		{"unknown key", "POST", "/api/keys/key_nope/revoke", sess, "application/json", `{}`, 404, "not_found"},
		{"long reason", "POST", "/api/keys/" + key.Key.ID + "/revoke", sess, "application/json", `{"reason":"` + strings.Repeat("r", 201) + `"}`, 400, "bad_request"},
		{"bad limit", "GET", "/api/activity?limit=5000", sess, "", "", 400, "bad_request"},
		{"exchange without ticket", "POST", "/exchange", "", "application/json", `{}`, 400, "bad_request"},
		{"exchange with unknown field", "POST", "/exchange", "", "application/json", `{"ticket":"x","app":"aa_77"}`, 400, "bad_json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var bad errBody
			res := e.do(tc.method, PagePath+tc.path, tc.bearer, tc.ctype, tc.body, &bad)
			if res.StatusCode != tc.status || bad.Error.Code != tc.code || bad.Error.Message == "" {
				t.Fatalf("%d %+v, want %d %s with a message", res.StatusCode, bad, tc.status, tc.code)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("Cache-Control %q", cc)
			}
		})
	}
	// Nothing was created by the refused requests.
	if got := e.listKeys(sess, "all"); len(got) != 1 {
		t.Fatalf("%d keys, want only the one created", len(got))
	}
}

func TestSessionEndsAtTTLAndWhenTheAppIsDisabled(t *testing.T) {
	e := newEnv(t, envOptions{sessionTTL: 5 * time.Minute})
	e.app("aa_42", "acme", originA)
	sess := e.session("aa_42", "acme", "alice", originA)
	var bad errBody

	e.clock.Advance(5*time.Minute - time.Second)
	if res := e.do("GET", PagePath+"/api/keys", sess, "", "", nil); res.StatusCode != 200 {
		t.Fatalf("before the TTL: %d", res.StatusCode)
	}
	e.clock.Advance(time.Second)
	if res := e.do("GET", PagePath+"/api/keys", sess, "", "", &bad); res.StatusCode != 401 || bad.Error.Code != "session_expired" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("at the TTL: %d %+v", res.StatusCode, bad)
	}
	if evs := e.events(audit.ActionSessionExpired); len(evs) != 1 || evs[0].Reason != "ttl" || evs[0].Actor != "alice" {
		t.Fatalf("session.expired events %+v", evs)
	}

	sess = e.session("aa_42", "acme", "alice", originA)
	off := false
	if _, err := e.store.UpdateApp(context.Background(), "aa_42", keystore.AppPatch{IsActive: &off}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	bad = errBody{}
	if res := e.do("POST", PagePath+"/api/keys", sess, "application/json", `{"name":"x"}`, &bad); res.StatusCode != 401 || bad.Error.Code != "revoked" {
		t.Fatalf("after the app was disabled: %d %+v", res.StatusCode, bad)
	}
}

func TestCrossSiteCallsAreRefused(t *testing.T) {
	e := newAcmeEnv(t)
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})
	req, _ := http.NewRequest("POST", e.srv.URL+PagePath+"/exchange", strings.NewReader(`{"ticket":"`+tk.Ticket+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Fatalf("cross-site exchange: %d", res.StatusCode)
	}
	if code, _, _ := e.exchangeTicket(tk.Ticket, ""); code != 200 {
		t.Fatalf("the ticket was spent by the refused call: %d", code)
	}
}

// TestAPIRefusesHostileText: a key name or revocation reason that could
// drive an operator's terminal or disguise what it shows (ESC, BEL, line
// breaks, bidi overrides...) is refused by the key store's one rule, and the
// page gets a 400 naming the field; nothing is stored.
func TestAPIRefusesHostileText(t *testing.T) {
	// Each refusal comes from the store, so it counts as a key change: the
	// limit on those is lifted for the many samples.
	e := newEnv(t, envOptions{changeRate: NoChangeLimit})
	e.app("aa_42", "acme", originA)
	sess := e.session("aa_42", "acme", "alice", originA)
	key := e.createKey(sess, `{"name":"k"}`)
	for _, h := range testenv.HostileText {
		text := h.Text
		t.Run(h.Name, func(t *testing.T) {
			for _, tc := range []struct{ field, path, body string }{
				{"name", "/api/keys", `{"name":` + jsonString(text) + `}`},
				{"reason", "/api/keys/" + key.Key.ID + "/revoke", `{"reason":` + jsonString(text) + `}`},
			} {
				var bad errBody
				res := e.do("POST", PagePath+tc.path, sess, "application/json", tc.body, &bad)
				if res.StatusCode != http.StatusBadRequest || bad.Error.Code != "bad_request" ||
					!strings.Contains(bad.Error.Message, tc.field) {
					t.Fatalf("%s %q: %d %+v, want 400 bad_request naming %s", tc.field, text, res.StatusCode, bad, tc.field)
				}
			}
		})
	}
	got := e.listKeys(sess, "all")
	if len(got) != 1 || got[0].Status != "active" {
		t.Fatalf("refused requests changed the keys: %+v", got)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// getKeyFails is a store whose GetKey fails, as a store that went away
// between two statements does.
type getKeyFails struct{ keystore.Store }

func (getKeyFails) GetKey(context.Context, string, string) (keystore.Key, error) {
	return keystore.Key{}, errors.New("connection reset")
}

// TestRotateAnswersTheSecretWhenTheOldKeyCannotBeRead: once the store has
// rotated the key, the answer carries the new key and its secret, which
// exist nowhere else; a failure to read the old key back afterwards does
// not turn that into a 503 that loses the secret (and, with grace "0",
// leaves the app with its old key revoked and no new one known).
func TestRotateAnswersTheSecretWhenTheOldKeyCannotBeRead(t *testing.T) {
	e := newEnv(t, envOptions{wrapStore: func(st keystore.Store) keystore.Store { return getKeyFails{st} }})
	e.app("aa_42", "acme", originA)
	sess := e.session("aa_42", "acme", "alice", originA)
	created := e.createKey(sess, `{"name":"worker"}`)

	var raw map[string]json.RawMessage
	res := e.do("POST", PagePath+"/api/keys/"+created.Key.ID+"/rotate", sess, "application/json", `{"grace":"0"}`, &raw)
	var rotated createdKey
	if res.StatusCode == http.StatusOK {
		body, _ := json.Marshal(raw)
		json.Unmarshal(body, &rotated)
		remember(rotated.Secret)
	}
	if res.StatusCode != http.StatusOK || !secretRE.MatchString(rotated.Secret) || rotated.Key.RotatedFrom != created.Key.ID {
		t.Fatalf("rotate, the old key unreadable after: %d %s, want 200 with the new key and its secret", res.StatusCode, raw)
	}
	if string(raw["old_key"]) != "null" {
		t.Fatalf("old_key %s, want null when it could not be read", raw["old_key"])
	}
}
