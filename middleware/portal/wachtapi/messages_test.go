package wachtapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
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
