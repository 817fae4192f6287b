package wacht

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// scripted starts a server answering every request with status, header and
// body, and counts the requests.
func scripted(t *testing.T, status int, header http.Header, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// apiCall is one method of the client, called with valid arguments.
type apiCall struct {
	name string
	run  func(ctx context.Context, c *Client) error
	// ignoresBody says the call returns nothing, so any 2xx body will do.
	ignoresBody bool
	// emptyOK says a 2xx "{}" or "null" is a valid (empty) answer.
	emptyOK bool
}

var allCalls = []apiCall{
	{name: "CreateTicket", run: func(ctx context.Context, c *Client) error {
		_, err := c.CreateTicket(ctx, TicketRequest{AppSlug: "aa_42", ExpiresIn: time.Minute})
		return err
	}},
	{name: "Issue", run: func(ctx context.Context, c *Client) error {
		_, err := c.Issue(ctx, ticket.Request{AppSlug: "aa_42", Subject: "alice"})
		return err
	}},
	{name: "CreateApp", run: func(ctx context.Context, c *Client) error {
		_, err := c.CreateApp(ctx, CreateAppRequest{AppSlug: "aa_42", Name: "n", KeyPrefix: "p"})
		return err
	}},
	{name: "GetApp", run: func(ctx context.Context, c *Client) error { _, err := c.GetApp(ctx, "aa_42"); return err }},
	{name: "ListApps", run: func(ctx context.Context, c *Client) error { _, err := c.ListApps(ctx, true); return err }},
	{name: "UpdateApp", run: func(ctx context.Context, c *Client) error {
		on := true
		_, err := c.UpdateApp(ctx, "aa_42", UpdateAppRequest{IsActive: &on})
		return err
	}},
	{name: "DeleteApp", ignoresBody: true, run: func(ctx context.Context, c *Client) error { return c.DeleteApp(ctx, "aa_42") }},
	{name: "ListKeys", run: func(ctx context.Context, c *Client) error { _, err := c.ListKeys(ctx, "aa_42", false); return err }},
	{name: "CreateKey", run: func(ctx context.Context, c *Client) error {
		_, _, err := c.CreateKey(ctx, "aa_42", CreateKeyRequest{Name: "ci"})
		return err
	}},
	{name: "RotateKey", run: func(ctx context.Context, c *Client) error {
		_, _, err := c.RotateKey(ctx, "aa_42", "7", RotateKeyRequest{})
		return err
	}},
	{name: "RevokeKey", ignoresBody: true, run: func(ctx context.Context, c *Client) error { return c.RevokeKey(ctx, "aa_42", "7", "r") }},
	{name: "Check", run: func(ctx context.Context, c *Client) error {
		_, err := c.Check(ctx, CheckRequest{Principal: Principal{Value: "acme_secret"}, Resource: "/", Method: "GET"})
		return err
	}},
	{name: "AuditLogs", emptyOK: true, run: func(ctx context.Context, c *Client) error {
		_, err := c.AuditLogs(ctx, "aa_42", AuditQuery{Limit: 10})
		return err
	}},
}

var sentinels = []error{ErrUnauthorized, ErrBadRequest, ErrNotFound, ErrConflict, ErrRateLimited, ErrUnavailable, ErrServer, ErrInvalidResponse}

// TestErrorStatuses runs every call against every error status in Wacht's
// error shape: each gives an *APIError with the server's message, matching
// exactly its sentinel, and the Issuer's class.
func TestErrorStatuses(t *testing.T) {
	tests := []struct {
		status      int
		sentinel    error // nil: none
		issuerClass error
	}{
		{http.StatusBadRequest, ErrBadRequest, ticket.ErrRejected},
		{http.StatusUnauthorized, ErrUnauthorized, ticket.ErrUpstream},
		{http.StatusForbidden, ErrUnauthorized, ticket.ErrRejected},
		{http.StatusNotFound, ErrNotFound, ticket.ErrRejected},
		{http.StatusConflict, ErrConflict, ticket.ErrUpstream},
		{http.StatusUnprocessableEntity, ErrBadRequest, ticket.ErrRejected},
		{http.StatusTooManyRequests, ErrRateLimited, ticket.ErrUnavailable},
		{http.StatusInternalServerError, ErrServer, ticket.ErrUpstream},
		{http.StatusBadGateway, ErrServer, ticket.ErrUpstream},
		{http.StatusServiceUnavailable, ErrUnavailable, ticket.ErrUnavailable},
		{http.StatusMethodNotAllowed, nil, ticket.ErrUpstream},
		{http.StatusFound, nil, ticket.ErrUpstream},
	}
	for _, tt := range tests {
		body := fmt.Sprintf(`{"errors":[{"message":"boom %d","code":%d},{"message":"second","code":%d}]}`, tt.status, tt.status, tt.status)
		srv, hits := scripted(t, tt.status, http.Header{"Location": {"https://elsewhere.example/"}}, body)
		c := newTestClient(t, srv.URL, Config{})
		for _, call := range allCalls {
			t.Run(fmt.Sprintf("%d/%s", tt.status, call.name), func(t *testing.T) {
				before := hits.Load()
				err := call.run(context.Background(), c)
				var ae *APIError
				if !errors.As(err, &ae) {
					t.Fatalf("err = %v (%T), want *APIError", err, err)
				}
				if ae.Status != tt.status || ae.Code != tt.status || len(ae.Messages) != 2 ||
					ae.Messages[0] != fmt.Sprintf("boom %d", tt.status) || ae.Messages[1] != "second" {
					t.Errorf("APIError = %+v", ae)
				}
				want := fmt.Sprintf("wacht: %s %s: %d %s: boom %d; second", ae.Method, ae.Path, tt.status, http.StatusText(tt.status), tt.status)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message = %q, want it to contain %q", err, want)
				}
				for _, s := range sentinels {
					if got := errors.Is(err, s); got != (s == tt.sentinel) {
						t.Errorf("errors.Is(err, %v) = %v", s, got)
					}
				}
				if call.name == "Issue" {
					for _, class := range []error{ticket.ErrUnavailable, ticket.ErrUpstream, ticket.ErrRejected} {
						if got := errors.Is(err, class); got != (class == tt.issuerClass) {
							t.Errorf("errors.Is(err, %v) = %v", class, got)
						}
					}
				}
				if n := hits.Load() - before; n != 1 {
					t.Errorf("server saw %d requests, want 1 (no retry after an answer)", n)
				}
			})
		}
	}
}

func TestErrorBodies(t *testing.T) {
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   []string
	}{
		{name: "wacht shape", body: `{"errors":[{"message":"app not found","code":404}]}`, want: []string{"app not found"}},
		{name: "stub-wacht shape", body: `{"error":"bad request"}` + "\n", want: []string{"bad request"}},
		{name: "error object", body: `{"error":{"message":"nope"}}`, want: []string{"nope"}},
		{name: "message field", body: `{"message":"slow down"}`, want: []string{"slow down"}},
		{name: "plain text", body: "upstream connect error\n", want: []string{"upstream connect error"}},
		{name: "empty body", body: "", want: nil},
		{name: "empty json", body: `{}`, want: nil},
		{name: "control characters", body: "line1\r\nSet-Cookie: x\x00", want: []string{"line1  Set-Cookie: x"}},
		{name: "long message cut", body: `{"errors":[{"message":"` + long + `"}]}`, want: []string{strings.Repeat("x", maxMessageLen) + "…"}},
		{name: "many messages capped", body: `{"errors":[{"message":"1"},{"message":"2"},{"message":"3"},{"message":"4"},{"message":"5"},{"message":"6"}]}`,
			want: []string{"1", "2", "3", "4", "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := scripted(t, http.StatusNotFound, tt.header, tt.body)
			c := newTestClient(t, srv.URL, Config{})
			_, err := c.GetApp(context.Background(), "aa_42")
			var ae *APIError
			if !errors.As(err, &ae) || !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
			if !jsonEqual(ae.Messages, tt.want) {
				t.Errorf("Messages = %q, want %q", ae.Messages, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		header string
		want   time.Duration
	}{
		{"seconds", "30", 30 * time.Second},
		{"http date", now.Add(2 * time.Minute).UTC().Format(http.TimeFormat), 2 * time.Minute},
		{"date in the past", now.Add(-time.Minute).UTC().Format(http.TimeFormat), 0},
		{"negative", "-5", 0},
		{"garbage", "soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseRetryAfter(tt.header, now)
			if d := got - tt.want; d < -time.Second || d > time.Second {
				t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.header, got, tt.want)
			}
		})
	}

	srv, _ := scripted(t, http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}, `{"errors":[{"message":"Too many requests","code":429}]}`)
	c := newTestClient(t, srv.URL, Config{})
	_, err := c.Issue(context.Background(), ticket.Request{AppSlug: "aa_42"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.RetryAfter != 7*time.Second || !errors.Is(err, ErrRateLimited) || !errors.Is(err, ticket.ErrUnavailable) {
		t.Fatalf("err = %v (%+v)", err, ae)
	}
	if !strings.Contains(err.Error(), "(retry after 7s)") {
		t.Errorf("message %q does not say when to retry", err)
	}
}

// TestInvalidSuccessBodies: a success status whose body is not the contract
// is ErrInvalidResponse (and ticket.ErrUpstream for the Issuer), never a
// zero value taken for an answer.
func TestInvalidSuccessBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
		// emptyish bodies are valid empty answers for calls with emptyOK.
		emptyish bool
	}{
		{name: "not json", body: "<html>Service Temporarily Unavailable</html>"},
		{name: "truncated json", body: `{"ticket":"abc","expires_at":17`},
		{name: "empty object", body: `{}`, emptyish: true},
		{name: "null", body: `null`, emptyish: true},
		{name: "wrong types", body: `{"ticket":5,"expires_at":"soon","url":true,"apps":"x","keys":1,"allowed":"yes","app_slug":[],"id":{},"data":3}`},
		{name: "trailing garbage", body: `{"ticket":"t","expires_at":1,"url":"https://x/"} trailing`},
		{name: "empty body", body: ``},
	}
	for _, tt := range tests {
		srv, _ := scripted(t, http.StatusOK, http.Header{"Content-Type": {"application/json"}}, tt.body)
		c := newTestClient(t, srv.URL, Config{})
		for _, call := range allCalls {
			t.Run(tt.name+"/"+call.name, func(t *testing.T) {
				err := call.run(context.Background(), c)
				if call.ignoresBody || (call.emptyOK && tt.emptyish) {
					if err != nil {
						t.Fatalf("err = %v, want nil", err)
					}
					return
				}
				if !errors.Is(err, ErrInvalidResponse) {
					t.Fatalf("err = %v, want ErrInvalidResponse", err)
				}
				if call.name == "Issue" && !errors.Is(err, ticket.ErrUpstream) {
					t.Errorf("Issue err = %v, want ticket.ErrUpstream", err)
				}
			})
		}
	}
}

func TestTicketResponseValidation(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		reason string
	}{
		{"no ticket", `{"expires_at":1893456000,"url":"https://w.example/vanity/api-auth?ticket=x"}`, "no ticket"},
		{"no expiry", `{"ticket":"tk_9f2","url":"https://w.example/vanity/api-auth?ticket=tk_9f2"}`, "no expires_at"},
		{"no url", `{"ticket":"tk_9f2","expires_at":1893456000}`, "no url"},
		{"javascript url", `{"ticket":"tk_9f2","expires_at":1893456000,"url":"javascript:alert(1)//tk_9f2"}`, "not an absolute http(s) URL"},
		{"relative url", `{"ticket":"tk_9f2","expires_at":1893456000,"url":"/vanity/api-auth?ticket=tk_9f2"}`, "not an absolute http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := scripted(t, http.StatusOK, nil, tt.body)
			c := newTestClient(t, srv.URL, Config{})
			_, err := c.Issue(context.Background(), ticket.Request{AppSlug: "aa_42"})
			if !errors.Is(err, ticket.ErrUpstream) || !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %v, want ticket.ErrUpstream saying %q", err, tt.reason)
			}
			if strings.Contains(err.Error(), "tk_9f2") {
				t.Errorf("error %q quotes the ticket", err)
			}
		})
	}
}

func TestOversizedAndCutBodies(t *testing.T) {
	t.Run("over 1 MiB", func(t *testing.T) {
		big := `{"ticket":"` + strings.Repeat("a", maxBodyBytes) + `","expires_at":1,"url":"https://x/"}`
		srv, _ := scripted(t, http.StatusOK, nil, big)
		c := newTestClient(t, srv.URL, Config{})
		_, err := c.CreateTicket(context.Background(), TicketRequest{AppSlug: "aa_42"})
		if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), "over 1 MiB") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("shorter than Content-Length", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "200")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"ticket":"abc",`))
		}))
		t.Cleanup(srv.Close)
		c := newTestClient(t, srv.URL, Config{})
		_, err := c.Issue(context.Background(), ticket.Request{AppSlug: "aa_42"})
		if !errors.Is(err, ErrInvalidResponse) || !errors.Is(err, ticket.ErrUpstream) || !strings.Contains(err.Error(), "cut short") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestAPIKeyNeverInErrors: a server that echoes the Authorization header back
// (in each error shape, and as a success garbage body) never gets the key
// into an error string.
func TestAPIKeyNeverInErrors(t *testing.T) {
	shapes := map[string]string{
		"wacht shape": `{"errors":[{"message":"bad credentials: %s","code":401}]}`,
		"error field": `{"error":"bad credentials: %s"}`,
		"plain text":  `bad credentials: %s`,
	}
	for name, shape := range shapes {
		for _, status := range []int{http.StatusOK, http.StatusUnauthorized, http.StatusInternalServerError} {
			t.Run(fmt.Sprintf("%s/%d", name, status), func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(status)
					fmt.Fprintf(w, shape, r.Header.Get("Authorization"))
				}))
				t.Cleanup(srv.Close)
				c := newTestClient(t, srv.URL, Config{})
				for _, call := range allCalls {
					err := call.run(context.Background(), c)
					if err == nil {
						continue // DeleteApp and RevokeKey ignore a 200 body
					}
					if strings.Contains(err.Error(), testAPIKey) || strings.Contains(fmt.Sprintf("%+v", err), testAPIKey) {
						t.Errorf("%s: error %q contains the API key", call.name, err)
					}
					if status != http.StatusOK && !strings.Contains(err.Error(), "Bearer [redacted]") {
						t.Errorf("%s: error %q lost the redacted message", call.name, err)
					}
				}
			})
		}
	}
	t.Run("unreachable", func(t *testing.T) {
		c := newTestClient(t, refusedURL(t), Config{})
		for _, call := range allCalls {
			if err := call.run(context.Background(), c); err == nil || strings.Contains(err.Error(), testAPIKey) {
				t.Errorf("%s: error %v", call.name, err)
			}
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTransportErrorRedacted: a transport (or proxy) whose error quotes the
// request's Authorization header and body does not leak the API key or the
// checked secret through the client,
// and the original error stays reachable.
func TestTransportErrorRedacted(t *testing.T) {
	cause := errors.New("proxy refused")
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		body, _ := io.ReadAll(r.Body)
		return nil, fmt.Errorf("%w: %s %s", cause, r.Header.Get("Authorization"), body)
	})}
	c := newTestClient(t, "http://wacht.test", Config{HTTPClient: hc})
	_, err := c.Check(context.Background(), CheckRequest{Principal: Principal{Value: "acme_checked_secret"}, Resource: "/", Method: "GET"})
	if err == nil || strings.Contains(err.Error(), testAPIKey) || !strings.Contains(err.Error(), "Bearer [redacted]") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "acme_checked_secret") || !strings.Contains(err.Error(), `"value":"[redacted]"`) {
		t.Errorf("err = %v quotes the checked secret", err)
	}
	if !errors.Is(err, cause) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v lost its cause or class", err)
	}
}

// TestListAndKeyShapes: lists come as {"apps"|"keys": [...]} (Wacht) or as a
// bare array (what the npm SDK's types describe); entries without their
// identifier are not the contract.
func TestListAndKeyShapes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		call    func(*Client) (int, error)
		want    int
		invalid bool
	}{
		{name: "apps object", body: `{"apps":[{"app_slug":"a"},{"app_slug":"b"}],"total":2}`, call: listAppsN, want: 2},
		{name: "apps bare array", body: ` [{"app_slug":"a"}]`, call: listAppsN, want: 1},
		{name: "apps empty", body: `{"apps":[]}`, call: listAppsN, want: 0},
		{name: "apps null list", body: `{"apps":null}`, call: listAppsN, want: 0},
		{name: "app without slug", body: `{"apps":[{"name":"x"}]}`, call: listAppsN, invalid: true},
		{name: "apps under another name", body: `{"data":[{"app_slug":"a"}]}`, call: listAppsN, invalid: true},
		{name: "keys object", body: `{"keys":[{"id":"1"}]}`, call: listKeysN, want: 1},
		{name: "keys bare array", body: `[{"id":"1"},{"id":"2"}]`, call: listKeysN, want: 2},
		{name: "key without id", body: `{"keys":[{"name":"ci"}]}`, call: listKeysN, invalid: true},
		{name: "keys not a list", body: `{"keys":{"id":"1"}}`, call: listKeysN, invalid: true},
		{name: "secret without key id", body: `{"secret":"acme_x","name":"ci"}`, call: createKeyN, invalid: true},
		{name: "nested key without id", body: `{"key":{"name":"ci"},"secret":"acme_x"}`, call: createKeyN, invalid: true},
		{name: "key with null nested key is flat", body: `{"key":null,"id":"9","secret":"acme_x"}`, call: createKeyN, want: 1},
		{name: "get app without slug", body: `{"name":"x"}`, call: getAppN, invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := scripted(t, http.StatusOK, nil, tt.body)
			c := newTestClient(t, srv.URL, Config{})
			n, err := tt.call(c)
			if tt.invalid {
				if !errors.Is(err, ErrInvalidResponse) {
					t.Fatalf("err = %v, want ErrInvalidResponse", err)
				}
				return
			}
			if err != nil || n != tt.want {
				t.Fatalf("got %d, %v; want %d", n, err, tt.want)
			}
		})
	}
}

func listAppsN(c *Client) (int, error) {
	apps, err := c.ListApps(context.Background(), false)
	return len(apps), err
}

func listKeysN(c *Client) (int, error) {
	keys, err := c.ListKeys(context.Background(), "aa_42", false)
	return len(keys), err
}

func createKeyN(c *Client) (int, error) {
	k, secret, err := c.CreateKey(context.Background(), "aa_42", CreateKeyRequest{Name: "ci"})
	if err != nil || k.ID == "" || secret == "" {
		return 0, err
	}
	return 1, nil
}

func getAppN(c *Client) (int, error) {
	_, err := c.GetApp(context.Background(), "aa_42")
	return 1, err
}

// TestCutErrorBody: an error status whose body is cut short is still that
// status.
func TestCutErrorBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "200")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[{"message":"app not f`))
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, Config{})
	_, err := c.Issue(context.Background(), ticket.Request{AppSlug: "aa_42"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("err = %v", err)
	}
}
