package sqlstore

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// TestAppOriginRule: the store keeps allowed origins in the form the portal
// compares (ticket.ParseOrigin) and refuses, saying why, what the portal
// would never match, such as a wildcard.
func TestAppOriginRule(t *testing.T) {
	a := keystore.App{Slug: "aa_1", Name: "n", KeyPrefix: "p", Tenant: "acme",
		AllowedOrigins: []string{"HTTPS://App.Acme.test:443", "http://localhost:8080/"}}
	if err := validApp(&a, nil); err != nil {
		t.Fatalf("valid origins refused: %v", err)
	}
	if got := strings.Join(a.AllowedOrigins, " "); got != "https://app.acme.test http://localhost:8080" {
		t.Errorf("stored origins %q, want them serialized", got)
	}
	a.AllowedOrigins = []string{"http://*.example"}
	err := validApp(&a, nil)
	if !errors.Is(err, keystore.ErrInvalid) || !strings.Contains(err.Error(), "wildcard") {
		t.Fatalf("http://*.example: err = %v, want ErrInvalid saying wildcards are not origins", err)
	}
}

// TestUpdateJudgesOnlyWhatChanges: an app whose text predates the rule on
// control and bidi characters (or was written by another tool) can still be
// disabled, and renamed to something clean, but not given new such text.
func TestUpdateJudgesOnlyWhatChanges(t *testing.T) {
	stored := keystore.App{Slug: "aa_1", Name: "red\x1b[31m", KeyPrefix: "p", Tenant: "acme", Description: "\u202e",
		Permissions: []string{"a\ab"}, AllowedOrigins: []string{"https://app.acme.test"}}
	if err := validApp(&stored, nil); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("creating it: err = %v, want ErrInvalid", err)
	}
	disabled := stored
	disabled.IsActive = false
	if err := validApp(&disabled, &stored); err != nil {
		t.Fatalf("disabling it: %v", err)
	}
	renamed := stored
	renamed.Name = "Acme"
	if err := validApp(&renamed, &stored); err != nil {
		t.Fatalf("renaming it: %v", err)
	}
	renamed.Name = "Acme\u202e"
	if err := validApp(&renamed, &stored); !errors.Is(err, keystore.ErrInvalid) || !strings.Contains(err.Error(), "name") {
		t.Fatalf("a new name with U+202E: err = %v, want ErrInvalid naming name", err)
	}
	// A list that changes is judged whole, as the caller sent it.
	perms := stored
	perms.Permissions = []string{"read", "a\ab"}
	if err := validApp(&perms, &stored); !errors.Is(err, keystore.ErrInvalid) || !strings.Contains(err.Error(), "permissions entry 2") {
		t.Fatalf("a changed list keeping the BEL entry: err = %v, want ErrInvalid naming permissions entry 2", err)
	}
}

func TestCheckTextMessage(t *testing.T) {
	err := validText("reason", "leaked \x1b[2J", maxReasonLen)
	if want := "reason must be one line without control characters, bidi controls or invisible format characters (U+001B at character 8)"; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("err = %v, want it to end %q", err, want)
	}
	if err := validLines("description", "two\n\tlines", maxDescriptionLen); err != nil {
		t.Errorf("a description on two lines: %v", err)
	}
	if err := validLines("description", "over\rwrite", maxDescriptionLen); err == nil || !strings.Contains(err.Error(), "U+000D") {
		t.Errorf("a description with CR: err = %v, want U+000D refused", err)
	}
	if got := cleanText("ok \x1b[2J\u202e\xff"); got != "ok \uFFFD[2J\uFFFD\uFFFD" {
		t.Errorf("cleanText = %q", got)
	}
}

// TestAppMessagesBound: an app holds a whole table of portal texts (more
// keys than a list may have), up to maxMessages.
func TestAppMessagesBound(t *testing.T) {
	a := keystore.App{Slug: "aa_1", Name: "n", KeyPrefix: "p", Tenant: "acme", Messages: map[string]string{}}
	for i := range maxMessages {
		a.Messages["text_"+strconv.Itoa(i)] = "Texte"
	}
	if err := validApp(&a, nil); err != nil {
		t.Fatalf("%d texts refused: %v", maxMessages, err)
	}
	a.Messages["one_more"] = "Texte"
	if err := validApp(&a, nil); !errors.Is(err, keystore.ErrInvalid) || !strings.Contains(err.Error(), "messages must have at most 300 entries") {
		t.Fatalf("%d texts: err = %v, want ErrInvalid with the bound", maxMessages+1, err)
	}
}
