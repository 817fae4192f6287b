package wacht

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// TestListKeysFollowsPages: a paged answer (keyportal's has_more and
// next_cursor) is followed to its end, so nothing is cut off; a page list
// that does not end is ErrInvalidResponse, not a silent truncation.
func TestListKeysFollowsPages(t *testing.T) {
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		var keys []string
		for i := start; i < start+3 && i < 7; i++ {
			keys = append(keys, fmt.Sprintf(`{"id":"key_%d"}`, i))
		}
		body := `{"keys":[`
		for i, k := range keys {
			if i > 0 {
				body += ","
			}
			body += k
		}
		if start+3 < 7 {
			body += fmt.Sprintf(`],"limit":3,"has_more":true,"next_cursor":"%d"}`, start+3)
		} else {
			body += `],"limit":3,"has_more":false,"next_cursor":null}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, Config{})
	keys, err := c.ListKeys(context.Background(), "aa_42", true)
	if err != nil || len(keys) != 7 || keys[0].ID != "key_0" || keys[6].ID != "key_6" {
		t.Fatalf("ListKeys = %d keys, %v; want all 7 across 3 pages", len(keys), err)
	}
	want := []string{"include_inactive=true", "cursor=3&include_inactive=true", "cursor=6&include_inactive=true"}
	if fmt.Sprint(queries) != fmt.Sprint(want) {
		t.Fatalf("queries %q, want %q", queries, want)
	}

	for name, body := range map[string]string{
		"cursor repeats":        `{"keys":[{"id":"1"}],"has_more":true,"next_cursor":"c1"}`,
		"has_more, no cursor":   `{"keys":[{"id":"1"}],"has_more":true}`,
		"has_more, null cursor": `{"keys":[{"id":"1"}],"has_more":true,"next_cursor":null}`,
	} {
		srv, _ := scripted(t, http.StatusOK, nil, body)
		_, err := newTestClient(t, srv.URL, Config{}).ListKeys(context.Background(), "aa_42", false)
		if !errors.Is(err, ErrInvalidResponse) {
			t.Errorf("%s: err = %v, want ErrInvalidResponse", name, err)
		}
	}
	srv2, hits := scripted(t, http.StatusOK, nil, `{"keys":[{"id":"1"}],"has_more":false,"next_cursor":"ignored"}`)
	if keys, err := newTestClient(t, srv2.URL, Config{}).ListKeys(context.Background(), "aa_42", false); err != nil || len(keys) != 1 || hits.Load() != 1 {
		t.Errorf("has_more false: %d keys, %v, %d requests", len(keys), err, hits.Load())
	}
}
