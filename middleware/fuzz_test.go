package middleware

import (
	"github.com/keyportal/keyportal/internal/logthrottle"

	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"
)

// FuzzTicketRoute throws arbitrary bodies and content types at the route
// with an issuer that always succeeds: it must never panic, answer only 2xx
// or 4xx with a JSON body, and audit each attempt exactly once.
func FuzzTicketRoute(f *testing.F) {
	seeds := []struct{ body, ct string }{
		{`{"deploymentId":"42"}`, "application/json"},
		{`{"deploymentId":42}`, "application/json; charset=utf-8"},
		{`{"deploymentId":"` + strings.Repeat("a", 64) + `"}`, "application/json"},
		{`{"deploymentId":4.2e1}`, "application/json"},
		{`{"deploymentId":"42"} {}`, "application/json"},
		{`{"deploymentId":"42","deploymentId":"43"}`, "application/json"},
		{`{"deploymentId":"\ud800"}`, "application/json"},
		{`{"deploymentId":null}`, "application/json"},
		{`[{"deploymentId":"42"}]`, "application/json"},
		{`{"a":{"b":{"c":[[[[1]]]]}}}`, "application/json"},
		{"\xff\xfe{}", "application/json"},
		{`deploymentId=42`, "application/x-www-form-urlencoded"},
		{``, ""},
		{`{}`, "application/json; charset"},
		{`{}`, `application/json; charset="utf-8`},
	}
	for _, s := range seeds {
		f.Add(s.body, s.ct)
	}
	log := &lineCounter{}
	route, err := NewTicketRoute(Config{
		Identify: identifyByHeader, Decider: allowAll, Issuer: &fakeIssuer{},
		Logger: zerolog.New(log), RateLimit: NoRateLimit,
	})
	if err != nil {
		f.Fatal(err)
	}
	// Every refusal logged, none throttled, so that each attempt is one line.
	route.refusals = logthrottle.New(1e9, 1e9, 1e9, 0)
	engine := gin.New()
	if err := route.Mount(engine); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body, contentType string) {
		r := httptest.NewRequest(http.MethodPost, route.Path(), strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Origin", testOrigin)
		r.Header.Set("X-User", "alice@acme")
		w := httptest.NewRecorder()
		before := log.events.Load()
		engine.ServeHTTP(w, r)

		if w.Code < 200 || w.Code >= 500 || (w.Code >= 300 && w.Code < 400) {
			t.Fatalf("status %d for body %q, content type %q", w.Code, body, contentType)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("body is not JSON: %q", w.Body)
		}
		if w.Code == 200 && !strings.Contains(w.Body.String(), `"ticket":"tk_`) {
			t.Fatalf("200 without a ticket: %s", w.Body)
		}
		if after := log.events.Load(); after != before+1 {
			t.Fatalf("%d audit events for one attempt", after-before)
		}
	})
}

// lineCounter counts the audit events written to it and keeps nothing.
type lineCounter struct{ events atomic.Int64 }

func (l *lineCounter) Write(p []byte) (int, error) {
	l.events.Add(int64(bytes.Count(p, []byte(`"event":"ticket.issue"`))))
	return len(p), nil
}
