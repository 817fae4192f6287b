package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// TestServeKeyLimits: KEYPORTAL_MAX_ACTIVE_KEYS caps the keys of an app on
// both APIs, and --key-change-rate sets the page's limit on key changes.
func TestServeKeyLimits(t *testing.T) {
	const backendKey = "kpb_limits_test_key_0123456789"
	s := startServer(t, "serve", []string{
		"KEYPORTAL_BACKEND_API_KEY=" + backendKey,
		"KEYPORTAL_DB=" + filepath.Join(t.TempDir(), "kp.db"),
		"KEYPORTAL_ALLOWED_ORIGINS=https://app.acme.test",
		"KEYPORTAL_MAX_ACTIVE_KEYS=2",
	}, "--key-change-rate", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := wachtClient(t, backendKey, s.base)
	if _, err := cl.CreateApp(ctx, wacht.CreateAppRequest{AppSlug: "aa_42", Name: "Acme", KeyPrefix: "acme_live", OrganizationID: "acme"}); err != nil {
		t.Fatal(err)
	}
	tk, err := cl.CreateTicket(ctx, wacht.TicketRequest{AppSlug: "aa_42", UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	status, body := s.post("/vanity/api-auth/exchange", "", `{"ticket":"`+tk.Ticket+`"}`)
	var session struct{ Session string }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &session) != nil {
		t.Fatalf("exchange: %d %s", status, body)
	}

	// Through the page: two keys, then the cap (409) until the burst of 10
	// is spent, then 429 with the rate's Retry-After (1 a minute: 60 s).
	var got []string
	retry := ""
	for i := range 11 {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/vanity/api-auth/api/keys", strings.NewReader(fmt.Sprintf(`{"name":"k%d"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+session.Session)
		res, _ := testenv.Do(t, req)
		got = append(got, fmt.Sprint(res.StatusCode))
		retry = res.Header.Get("Retry-After")
	}
	want := "201 201 409 409 409 409 409 409 409 409 429"
	if strings.Join(got, " ") != want || retry != "60" {
		t.Fatalf("page creates answered %s (last Retry-After %q), want %s and 60", strings.Join(got, " "), retry, want)
	}
	// The backend API has the same cap.
	if _, _, err := cl.CreateKey(ctx, "aa_42", wacht.CreateKeyRequest{Name: "backend"}); !errors.Is(err, wacht.ErrConflict) || !strings.Contains(err.Error(), "already has 2 active keys") {
		t.Fatalf("backend create past the cap: %v", err)
	}
}
