package shell

import (
	"context"
	"errors"
	"html"
	"io"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/wasmui"
)

// french overrides the texts a page shows before the wasm is up.
var french = wasmui.Messages{
	Lang:            "fr",
	PageTitle:       "Clés API",
	Loading:         "Chargement du gestionnaire de clés API…",
	FrameTitle:      "Gestionnaire de clés API",
	FromAnotherSite: "Vous avez ouvert cette page depuis un autre site.",
	Open:            "Ouvrir les clés API",
	SignedOut:       "Votre session a pris fin — reconnectez-vous.",
}

// TestPageInFrench: the page a French table renders says its language in
// <html lang>, shows the French loading state and start panel, gives the
// eager script the French iframe title and hands the table to the wasm;
// no English text of an overridden key is on the page.
func TestPageInFrench(t *testing.T) {
	s := newTestShell(t, Config{Messages: french})
	r := gin.New()
	mount(t, s, r)
	w := serve(t, r, "GET", "/settings/api-keys/42", nil)
	if w.Code != 200 {
		t.Fatalf("status %d\n%s", w.Code, w.Body)
	}
	page := html.UnescapeString(w.Body.String())
	for _, want := range []string{
		`<html lang="fr"`,
		`<title>Clés API</title>`,
		// go-app writes an element's attributes in map order.
		`>` + french.Loading + `</p>`,
		french.FromAnotherSite,
		`<button type="button">` + french.Open + `</button>`,
		`data-keyportal-title="` + french.FrameTitle + `"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s\n%s", want, page)
		}
	}
	en := wasmui.English()
	for _, leak := range []string{`lang="en"`, en.PageTitle, en.Loading, en.FrameTitle, en.FromAnotherSite, en.Open} {
		if strings.Contains(page, leak) {
			t.Errorf("English %q leaks into the French page", leak)
		}
	}
	js := serve(t, r, "GET", at("app.js"), nil).Body.String()
	if !strings.Contains(js, `"KEYPORTAL_MESSAGES":`) || !strings.Contains(js, `Votre session a pris fin`) {
		t.Errorf("app.js does not hand the table to the wasm")
	}
}

// TestBadMessagesRefused: New refuses a table with a text that could
// disguise what the page shows, or a lang that would break out of its
// attribute, with ErrConfig naming the key.
func TestBadMessagesRefused(t *testing.T) {
	path, _ := fakeWasm(t)
	for _, m := range []wasmui.Messages{
		{Forbidden: "Ask \u202eadmin"},
		{Lang: `fr" onload="alert(1)`},
		{Loading: strings.Repeat("x", 501)},
	} {
		_, err := New(context.Background(), Config{WasmPath: path, CacheDir: t.TempDir(), Progress: io.Discard, Messages: m})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "Messages") {
			t.Errorf("%+v: New = %v, want ErrConfig about Messages", m, err)
		}
	}
}
