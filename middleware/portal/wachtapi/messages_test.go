package wachtapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// TestAppMessages: an app's portal texts are set with its create and
// PATCH, shown with it, and refused with a 400 that says what is wrong when
// a key is unknown or a text could disguise what the page shows; a refused
// request changes nothing.
func TestAppMessages(t *testing.T) {
	w := newWorld(t)
	slug := apikeytest.AppSlug
	fr := map[string]any{"lang": "fr", "title": "Clés d’API", "create_key": "Créer une clé"}
	status, body, _ := w.do("PATCH", "/api-auth/apps/"+slug, "Bearer "+backendKey, map[string]any{"messages": fr})
	var got struct {
		Messages map[string]string `json:"messages"`
	}
	if status != 200 || json.Unmarshal(body, &got) != nil || got.Messages["title"] != "Clés d’API" || got.Messages["lang"] != "fr" {
		t.Fatalf("PATCH messages: %d %s", status, body)
	}
	if app, err := w.env.Store.GetApp(context.Background(), slug); err != nil || app.Messages["create_key"] != "Créer une clé" {
		t.Fatalf("stored messages %v, %v", app.Messages, err)
	}

	for _, tc := range []struct {
		name, method, path string
		body               map[string]any
		want               string
	}{
		{"unknown key", "PATCH", "/api-auth/apps/" + slug, map[string]any{"messages": map[string]string{"titel": "x"}}, `unknown key "titel"`},
		{"bidi control", "PATCH", "/api-auth/apps/" + slug, map[string]any{"messages": map[string]string{"title": "Cl\u202eés"}}, "title must be one line"},
		{"lang not a tag", "PATCH", "/api-auth/apps/" + slug, map[string]any{"messages": map[string]string{"lang": "fr<"}}, "must be a language tag"},
		{"too long", "PATCH", "/api-auth/apps/" + slug, map[string]any{"messages": map[string]string{"revoke": strings.Repeat("x", 501)}}, "revoke must be at most 500"},
		{"not strings", "PATCH", "/api-auth/apps/" + slug, map[string]any{"messages": map[string]any{"title": 5}}, "messages"},
		{"create with an unknown key", "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_5", "name": "x", "key_prefix": "x", "organization_id": "acme", "messages": map[string]string{"nope": "x"}}, `unknown key "nope"`},
	} {
		status, body, _ := w.do(tc.method, tc.path, "Bearer "+backendKey, tc.body)
		wantError(t, tc.name, status, body, 400)
		var e wachtErrors
		if json.Unmarshal(body, &e) != nil || len(e.Errors) != 1 || !strings.Contains(e.Errors[0].Message, tc.want) {
			t.Errorf("%s: %s does not say %q", tc.name, body, tc.want)
		}
	}
	if app, err := w.env.Store.GetApp(context.Background(), slug); err != nil || app.Messages["title"] != "Clés d’API" || len(app.Messages) != 3 {
		t.Fatalf("a refused request changed the messages: %v, %v", app.Messages, err)
	}
	if status, _, _ := w.do("GET", "/api-auth/apps/aa_5", "Bearer "+backendKey, nil); status != 404 {
		t.Fatalf("a refused create stored the app: %d", status)
	}
}

// TestAppExtensionsWithTheGoClient: wacht.Client sets an app's messages on
// create and PATCH, and its allowed origins on PATCH, and reads them back;
// the server's refusal of an unknown key reaches it as ErrBadRequest.
func TestAppExtensionsWithTheGoClient(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, backendKey)
	ctx := context.Background()

	de := map[string]string{"lang": "de", "title": "API-Schlüssel"}
	app, err := c.CreateApp(ctx, wacht.CreateAppRequest{
		AppSlug: "aa_88", Name: "Initech", KeyPrefix: "initech", OrganizationID: "acme", Messages: de,
	})
	if err != nil || !reflect.DeepEqual(app.Messages, de) {
		t.Fatalf("CreateApp with messages: %+v, %v", app, err)
	}
	if got, err := c.GetApp(ctx, "aa_88"); err != nil || !reflect.DeepEqual(got.Messages, de) || len(got.AllowedOrigins) != 0 {
		t.Fatalf("GetApp: %+v, %v; want the messages and no allowed origins", got, err)
	}

	fr, origins := map[string]string{"lang": "fr", "title": "Clés d’API"}, []string{"https://initech.example"}
	upd, err := c.UpdateApp(ctx, "aa_88", wacht.UpdateAppRequest{Messages: &fr, AllowedOrigins: &origins})
	if err != nil || !reflect.DeepEqual(upd.Messages, fr) || !reflect.DeepEqual(upd.AllowedOrigins, origins) {
		t.Fatalf("UpdateApp messages and origins: %+v, %v", upd, err)
	}
	bad := map[string]string{"titel": "x"}
	if _, err := c.UpdateApp(ctx, "aa_88", wacht.UpdateAppRequest{Messages: &bad}); !errors.Is(err, wacht.ErrBadRequest) ||
		!strings.Contains(err.Error(), `unknown key "titel"`) {
		t.Errorf("UpdateApp with an unknown key: %v, want ErrBadRequest naming it", err)
	}
	none := map[string]string{}
	if upd, err := c.UpdateApp(ctx, "aa_88", wacht.UpdateAppRequest{Messages: &none}); err != nil || upd.Messages != nil ||
		!reflect.DeepEqual(upd.AllowedOrigins, origins) {
		t.Fatalf("UpdateApp with no messages: %+v, %v; want none, the origins kept", upd, err)
	}
}

// TestIssueBindsThePagesOrigin: the Go client's Issue (a Gin app's ticket
// route in Wacht mode pointed at keyportal) passes the page's origin, so an
// app embedded on several sites gets a ticket for the site asking, not for
// its first allowed origin (whose page would never hear the portal).
func TestIssueBindsThePagesOrigin(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, backendKey)
	ctx := context.Background()
	origins := []string{"https://a.initech.example", "https://b.initech.example"}
	if _, err := c.CreateApp(ctx, wacht.CreateAppRequest{AppSlug: "aa_88", Name: "Initech", KeyPrefix: "initech",
		OrganizationID: "acme", AllowedOrigins: origins}); err != nil {
		t.Fatal(err)
	}
	tk, err := c.Issue(ctx, ticket.Request{AppSlug: "aa_88", Tenant: "acme", Subject: "alice", EmbedderOrigin: origins[1]})
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ := w.do("POST", portal.PagePath+"/exchange", "", map[string]string{"ticket": tk.Ticket})
	var ex struct{ Origin string }
	if err := json.Unmarshal(body, &ex); status != http.StatusOK || err != nil || ex.Origin != origins[1] {
		t.Fatalf("exchange: %d, session for %q; want one for %s", status, ex.Origin, origins[1])
	}
}
