package wacht_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/middleware/wacht"
)

func ExampleNew() {
	client, err := wacht.New(wacht.Config{
		APIKey:  "wk_live_...", // from the environment in real code
		Timeout: 3 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.CloseIdleConnections()

	// A *Client is the ticket.Issuer for Wacht's hosted portal.
	var issuer ticket.Issuer = client
	_ = issuer

	_, err = wacht.New(wacht.Config{BaseURL: "https://api.wacht.dev"})
	fmt.Println(err)
	// Output: wacht: Config.APIKey is required
}

// fakeTickets stands in for Wacht: it answers POST /session/tickets with a
// fixed ticket.
func fakeTickets() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			TicketType string `json:"ticket_type"`
			Slug       string `json:"api_auth_app_slug"`
			ExpiresIn  int64  `json:"expires_in"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if r.Header.Get("Authorization") != "Bearer wk_test_example" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"message":"Unauthorized","code":401}]}`)
			return
		}
		if req.Slug != "aa_42" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"message":"API auth app not found","code":404}]}`)
			return
		}
		fmt.Fprintf(w, `{"ticket":"tk_example","expires_at":%d,"url":"https://example.wacht.services/vanity/api-auth?ticket=tk_example"}`,
			1_800_000_000+req.ExpiresIn)
	}))
}

// fakeClient starts fakeTickets and returns a client of it that sends
// apiKey; stop closes both.
func fakeClient(apiKey string) (client *wacht.Client, stop func()) {
	srv := fakeTickets()
	client, err := wacht.New(wacht.Config{APIKey: apiKey, BaseURL: srv.URL})
	if err != nil {
		panic(err)
	}
	return client, func() {
		client.CloseIdleConnections()
		srv.Close()
	}
}

func ExampleClient_CreateTicket() {
	client, stop := fakeClient("wk_test_example")
	defer stop()

	resp, err := client.CreateTicket(context.Background(), wacht.TicketRequest{
		AppSlug:   "aa_42",
		ExpiresIn: 2 * time.Minute,
		UserID:    "alice",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Never log a real ticket; print its fingerprint instead.
	fmt.Println(resp.ExpiresAt, resp.URL)
	fmt.Println(ticket.Fingerprint(resp.Ticket))
	// Output:
	// 1800000120 https://example.wacht.services/vanity/api-auth?ticket=tk_example
	// 0ba97ba12d04
}

func ExampleClient_Issue() {
	client, stop := fakeClient("wk_test_example")
	defer stop()

	_, err := client.Issue(context.Background(), ticket.Request{AppSlug: "aa_99", Subject: "alice"})
	switch {
	case errors.Is(err, ticket.ErrRejected):
		fmt.Println("403:", err)
	case errors.Is(err, ticket.ErrUnavailable):
		fmt.Println("503:", err)
	case err != nil:
		fmt.Println("502:", err)
	}
	// Output: 403: ticket: issuer rejected the request: wacht: POST /session/tickets: 404 Not Found: API auth app not found
}

func ExampleAPIError() {
	client, stop := fakeClient("wk_test_wrong")
	defer stop()

	_, err := client.GetApp(context.Background(), "aa_42")
	var apiErr *wacht.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Messages, errors.Is(err, wacht.ErrUnauthorized))
	}
	// Output: 401 [Unauthorized] true
}
