package wacht_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/keyportal/keyportal/middleware/wacht"
)

// A scheme with two rules; an app applies it by naming it in
// rate_limit_scheme_slug (CreateApp, UpdateApp).
func ExampleClient_CreateRateLimitScheme() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // a real server stores it; this one echoes it
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"rls_1",%s`, body[1:])
	}))
	defer srv.Close()
	client, err := wacht.New(wacht.Config{APIKey: "wk_test_example", BaseURL: srv.URL})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.CloseIdleConnections()

	s, err := client.CreateRateLimitScheme(context.Background(), wacht.CreateRateLimitSchemeRequest{
		Slug: "standard", Name: "Standard",
		Rules: []wacht.RateLimit{
			{Unit: "minute", Duration: 1, MaxRequests: 600, Mode: "per_key"},
			{Unit: "second", Duration: 1, MaxRequests: 5, Mode: "per_key_and_ip", Endpoints: []string{"/v1/admin/*"}, Priority: 10},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.ID, s.Slug, len(s.Rules), s.Rules[1].Endpoints)
	// Output:
	// rls_1 standard 2 [/v1/admin/*]
}
