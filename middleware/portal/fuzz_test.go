package portal

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/safetext"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// The fuzz targets run the portal on a real SQLite store whose sealing keys
// are fixed (fixedSecrets) and whose clock never moves (fuzzNow), so that a
// ticket sealed once stays genuine in every fuzz worker process: the
// genuine tickets below were sealed by this portal with those keys (see
// TestFuzzGenuineTicketsOpen) and are seeds, so the fuzzer mutates real
// tickets. Any other string that opens, or that buys a session, is a
// forgery that got through.
var fuzzNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// genuineTickets were issued by the local issuer with the fixed keys at
// fuzzNow for aa_42 (acme, originA): alice, bob (resource 42), then carol
// with a TTL of one minute. Regenerate with KEYPORTAL_FUZZ_SEAL=1 go test
// -run TestFuzzGenuineTicketsOpen -v ./middleware/portal.
var genuineTickets = []string{
	"kpt1.676ghlvvx0ryaCSpRutEuWT5mYHvDsEIH1h3CVFokgvmZHyHrqCqEPvfia4d_Jzm6kjMOPbaklJkBfN8T6Q1SYl1wj5S4fKff8lKjVNeGl_DzSM4uLUcEn4eJzlo2kBBCtEAcMK51qKkO8Zc8k9IDnbyZEWFSb-HToGh6Ge8iFMy__5zz-l5Nw",
	"kpt1.VQb2ay4qwYnaZroSo60Mhh0gQFuFYHPPa85TdMyTUjGnwKwfPsuH-S5IBMTOhyDk15YhdbdJ5PdfgvhC0DWV0-MIA5NXeE1rraihjPpbCxGcs0KsVIPf9Yedmbfv06GC0y2Otr-Ir2ribyhUVz5e7iicv-j7gthbXgVw_HDa6ASjhWyalBxp4OGU3b1t8CE",
	"kpt1.ZdDpumBUIvn7eGQGhfcoFNibLLvf_w0USDZ1DosKAINEVBZt3HBZ95Vyh3sl8d6Ho8bLjXFRdb-ivPB2NRYddJrJw7QPT4gA8RRiS5-LeUd-SAgsP5PJQJ2LYKkgVKv--JoekpGpVwA75lnc0G4J1oS2hup67tb4EPuWFyAgkIuNCYw2BXIY-A",
}

// fixedSecrets is a Store whose server secrets are fixed test values.
type fixedSecrets struct{ keystore.Store }

func (fixedSecrets) Secret(_ context.Context, name string, size int) ([]byte, error) {
	sum := sha256.Sum256([]byte("keyportal fuzz " + name))
	if size > len(sum) {
		return nil, fmt.Errorf("fixedSecrets: %d bytes asked, have %d", size, len(sum))
	}
	return sum[:size], nil
}

// fuzzPortal is a portal for fuzzing: its gin engine (served in-process),
// its store, and the values it genuinely issued.
type fuzzPortal struct {
	portal *Portal
	store  *sqlite.SQLite
	engine *gin.Engine

	mu       sync.Mutex
	tickets  map[string]bool // genuinely sealed tickets
	sessions map[string]bool // genuinely sealed session tokens
	used     map[string]bool // tickets that already bought a session
}

func newFuzzPortal(tb testing.TB) *fuzzPortal {
	tb.Helper()
	f, err := os.CreateTemp(suiteDir, "fuzz-*.db")
	if err != nil {
		tb.Fatal(err)
	}
	f.Close()
	// The fuzzer's clock stands still and its inputs change keys without
	// end: limits would soon refuse every change before the handler saw it.
	st, err := sqlite.Open(context.Background(), f.Name(), keystore.Options{
		Now: func() time.Time { return fuzzNow }, MaxActiveKeys: keystore.NoKeyLimit,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	p, err := New(Config{
		Store:      fixedSecrets{st},
		BaseURL:    "http://localhost:8081",
		Logger:     zerolog.Nop(),
		Now:        func() time.Time { return fuzzNow },
		ChangeRate: NoChangeLimit,
	})
	if err != nil {
		tb.Fatal(err)
	}
	engine := gin.New()
	if err := p.Mount(engine); err != nil {
		tb.Fatal(err)
	}
	fp := &fuzzPortal{portal: p, store: st, engine: engine,
		tickets: map[string]bool{}, sessions: map[string]bool{}, used: map[string]bool{}}
	for _, tk := range genuineTickets {
		fp.tickets[tk] = true
	}
	ctx := context.Background()
	for _, a := range []keystore.App{
		{Slug: "aa_42", Name: "Acme 42", KeyPrefix: "kp_aa_42", Tenant: "acme", AllowedOrigins: []string{originA}},
		{Slug: "aa_77", Name: "Globex 77", KeyPrefix: "kp_aa_77", Tenant: "globex", AllowedOrigins: []string{originA}},
	} {
		if _, err := st.CreateApp(ctx, a, keystore.Actor{Name: "fuzz"}); err != nil {
			tb.Fatal(err)
		}
	}
	return fp
}

// issue issues a ticket and notes it as genuine.
func (fp *fuzzPortal) issue(tb testing.TB, req ticket.Request) string {
	tb.Helper()
	res, err := fp.portal.Issuer().Issue(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	fp.mu.Lock()
	fp.tickets[res.Ticket] = true
	fp.mu.Unlock()
	remember(res.Ticket)
	return res.Ticket
}

// serve runs one request in-process.
func (fp *fuzzPortal) serve(method, path, bearer, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	fp.engine.ServeHTTP(w, r)
	return w
}

// exchange trades a ticket for a session and notes the session as genuine.
func (fp *fuzzPortal) exchange(tb testing.TB, tk string) string {
	tb.Helper()
	body, _ := json.Marshal(exchangeRequest{Ticket: tk})
	w := fp.serve("POST", PagePath+"/exchange", "", "application/json", string(body))
	var out exchangeResponse
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
		tb.Fatalf("exchange: %d %s", w.Code, w.Body)
	}
	fp.mu.Lock()
	fp.sessions[out.Session] = true
	fp.used[tk] = true
	fp.mu.Unlock()
	remember(out.Session)
	return out.Session
}

func (fp *fuzzPortal) known(set map[string]bool, v string) bool {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return set[v]
}

// checkStatus fails on anything but a 2xx or 4xx with a JSON body.
func checkStatus(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code < 200 || w.Code >= 500 || (w.Code >= 300 && w.Code < 400) {
		t.Fatalf("%s: status %d: %s", what, w.Code, w.Body)
	}
	if w.Code == http.StatusNotFound && w.Body.String() == "404 page not found" {
		return // the router's answer to a path no route matches
	}
	if !json.Valid(w.Body.Bytes()) {
		t.Fatalf("%s: %d with a body that is not JSON: %q", what, w.Code, w.Body)
	}
}

func TestFuzzGenuineTicketsOpen(t *testing.T) {
	fp := newFuzzPortal(t)
	if os.Getenv("KEYPORTAL_FUZZ_SEAL") == "1" {
		for _, req := range []ticket.Request{
			{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA},
			{AppSlug: "aa_42", Tenant: "acme", Subject: "bob", EmbedderOrigin: originA, Resource: "42"},
			{AppSlug: "aa_42", Tenant: "acme", Subject: "carol", EmbedderOrigin: originA, TTL: time.Minute},
		} {
			t.Logf("%q,", fp.issue(t, req))
		}
		return
	}
	for i, tk := range genuineTickets {
		cl, err := fp.portal.tickets.open(context.Background(), tk)
		if err != nil || cl.App != "aa_42" || cl.Tenant != "acme" {
			t.Fatalf("genuine ticket %d does not open: %+v %v", i, cl, err)
		}
		// Each buys exactly one session.
		fp.exchange(t, tk)
		body, _ := json.Marshal(exchangeRequest{Ticket: tk})
		if w := fp.serve("POST", PagePath+"/exchange", "", "application/json", string(body)); w.Code != http.StatusConflict {
			t.Fatalf("second exchange of genuine ticket %d: %d", i, w.Code)
		}
	}
}

// FuzzExchange throws arbitrary bodies at the ticket exchange, and the same
// bytes at the sealers and at the JSON API as a bearer token. It must never
// panic or answer 5xx; no string opens as a ticket or a session unless this
// portal sealed it; and a session is only ever bought with a genuine ticket,
// once.
func FuzzExchange(f *testing.F) {
	for _, tk := range genuineTickets {
		f.Add(`{"ticket":"`+tk+`"}`, "application/json")
		f.Add(`{"ticket":"`+flip(tk, len(tk)/2)+`"}`, "application/json")
		f.Add(`{"ticket":"`+tk[:len(tk)-1]+`"}`, "application/json")
		f.Add(tk, "application/json")
	}
	f.Add(`{"ticket":"`+genuineTickets[0]+`","previous_session":"kps1.AAAA"}`, "application/json")
	f.Add(`{"ticket":"`+genuineTickets[1]+`","previous_session":"`+genuineTickets[0]+`"}`, "application/json; charset=utf-8")
	f.Add(`{"ticket":"kpt1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, "application/json")
	f.Add(`{"ticket":""}`, "application/json")
	f.Add(`{"ticket":null}`, "application/json")
	f.Add(`{"ticket":42}`, "application/json")
	f.Add(`{"ticket":"x","extra":1}`, "application/json")
	f.Add(`{"ticket":"x"} {"ticket":"y"}`, "application/json")
	f.Add(`{"ticket":"\u0000kpt1."}`, "application/json")
	f.Add(`[]`, "application/json")
	f.Add(`{"ticket":"x"}`, "text/plain")
	f.Add(`{"ticket":"x"}`, "application/json; charset=\"")
	f.Add("", "")
	f.Add("\xff\xfe\x00", "application/json")

	fp := newFuzzPortal(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body, contentType string) {
		// The bytes as a sealed value: only what we sealed opens.
		if cl, err := fp.portal.tickets.open(ctx, body); err == nil && !fp.known(fp.tickets, body) {
			t.Fatalf("a forged ticket opened: %q → %+v", body, cl)
		} else if err != nil && !errors.Is(err, errUnopenable) {
			t.Fatalf("opening %q: %v, want errUnopenable", body, err)
		}
		if cl, err := fp.portal.sessions.open(ctx, body); err == nil && !fp.known(fp.sessions, body) {
			t.Fatalf("a forged session token opened: %q → %+v", body, cl)
		} else if err != nil && !errors.Is(err, errUnopenable) {
			t.Fatalf("opening %q: %v, want errUnopenable", body, err)
		}

		// The bytes as a bearer session token.
		w := fp.serve("GET", PagePath+"/api/session", body, "", "")
		checkStatus(t, "session", w)
		if w.Code == http.StatusOK && !fp.known(fp.sessions, body) {
			t.Fatalf("the API accepted a forged session token %q", body)
		}

		// The bytes as an exchange body.
		w = fp.serve("POST", PagePath+"/exchange", "", contentType, body)
		checkStatus(t, "exchange", w)
		if w.Code != http.StatusOK {
			return
		}
		var req exchangeRequest
		if err := json.Unmarshal([]byte(strings.TrimSpace(body)), &req); err != nil {
			t.Fatalf("200 for a body that is not an exchange request: %q", body)
		}
		fp.mu.Lock()
		defer fp.mu.Unlock()
		if !fp.tickets[req.Ticket] {
			t.Fatalf("a session from a forged ticket: %q", req.Ticket)
		}
		if fp.used[req.Ticket] {
			t.Fatalf("a second session from one ticket: %q", req.Ticket)
		}
		fp.used[req.Ticket] = true
		var out exchangeResponse
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Session == "" || out.Tenant != "acme" || out.App.Slug != "aa_42" {
			t.Fatalf("exchange answered %s", w.Body)
		}
		fp.sessions[out.Session] = true
	})
}

// FuzzKeyAPI drives create, rotate and revoke with a valid session and
// arbitrary bodies, content types and key ids: only 2xx and 4xx, a secret
// only in a 2xx and always well-formed, and never a change to a key of
// another tenant's app.
//
// keyRef "#n" names the n-th key of the session's app (ids are random per
// process); "@" names the other tenant's key; anything else is sent as is.
func FuzzKeyAPI(f *testing.F) {
	f.Add(uint8(0), "", `{"name":"billing"}`, "application/json")
	f.Add(uint8(0), "", `{"name":" x ","expires_at":"2027-01-01T00:00:00Z"}`, "application/json")
	f.Add(uint8(0), "", `{"name":"x","expires_at":"2020-01-01T00:00:00Z"}`, "application/json")
	f.Add(uint8(0), "", `{"name":"x","expires_at":"not a time"}`, "application/json")
	f.Add(uint8(0), "", `{"name":"`+strings.Repeat("é", 101)+`"}`, "application/json")
	f.Add(uint8(0), "", `{"name":"x","permissions":["admin"]}`, "application/json")
	f.Add(uint8(0), "", `{"name":"x"}`, "text/plain")
	f.Add(uint8(1), "#0", `{"grace":"1h"}`, "application/json")
	f.Add(uint8(1), "#1", `{"grace":"0"}`, "application/json")
	f.Add(uint8(1), "#0", `{"grace":"2h"}`, "application/json")
	f.Add(uint8(1), "@", `{"grace":"0"}`, "application/json")
	f.Add(uint8(1), "key_does_not_exist", `{"grace":"24h"}`, "application/json")
	f.Add(uint8(2), "#2", `{"reason":"leaked"}`, "application/json")
	f.Add(uint8(2), "#2", `{}`, "application/json")
	f.Add(uint8(2), "@", `{"reason":"cross tenant"}`, "application/json")
	f.Add(uint8(2), "../../keys", `{}`, "application/json")
	f.Add(uint8(1), "", `{"grace":"0"}`, "application/json")
	f.Add(uint8(2), "a/b", `{}`, "application/json")
	f.Add(uint8(2), "%00", `{"reason":"`+strings.Repeat("r", 201)+`"}`, "application/json")
	f.Add(uint8(0), "", `{"name":"cod.\u202eexe"}`, "application/json")
	f.Add(uint8(2), "#1", `{"reason":"red\u001b[31m"}`, "application/json")

	fp := newFuzzPortal(f)
	sess := fp.exchange(f, fp.issue(f, ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA}))
	ctx := context.Background()
	for range 3 {
		if _, _, err := fp.store.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "seed"}, keystore.Actor{Name: "fuzz"}); err != nil {
			f.Fatal(err)
		}
	}
	foreign, _, err := fp.store.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_77", Name: "globex"}, keystore.Actor{Name: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, op uint8, keyRef, body, contentType string) {
		id := keyRef
		switch {
		case keyRef == "@":
			id = foreign.ID
		case strings.HasPrefix(keyRef, "#"):
			page, err := fp.store.ListKeys(ctx, keystore.KeyFilter{AppSlug: "aa_42", Tenant: "acme", Status: keystore.KeyAll})
			if err != nil {
				t.Fatal(err)
			}
			keys := page.Keys
			n, _ := strconv.Atoi(keyRef[1:])
			if len(keys) > 0 && n >= 0 {
				id = keys[n%len(keys)].ID
			}
		}
		path := PagePath + "/api/keys"
		if op%3 != 0 {
			// Escaped as a client would; the router sees the id unescaped.
			path += "/" + url.PathEscape(id) + []string{"", "/rotate", "/revoke"}[op%3]
		}
		w := fp.serve("POST", path, sess, contentType, body)
		checkStatus(t, path, w)

		var out struct {
			Key    keyView `json:"key"`
			Secret string  `json:"secret"`
		}
		json.Unmarshal(w.Body.Bytes(), &out)
		if w.Code >= 300 && out.Secret != "" {
			t.Fatalf("a secret in a %d answer", w.Code)
		}
		if out.Secret != "" && (!apikey.WellFormed(out.Secret) || !strings.HasPrefix(out.Secret, "kp_aa_42_")) {
			t.Fatalf("malformed secret for app aa_42: %q", out.Secret)
		}
		if safetext.Contains(out.Key.Name) || safetext.Contains(out.Key.RevokedReason) {
			t.Fatalf("%d answer with a key holding control or bidi text: %+v", w.Code, out.Key)
		}
		// The other tenant's key is untouched whatever happened.
		k, err := fp.store.GetKey(ctx, "aa_77", foreign.ID)
		if err != nil || !k.IsActive || k.RevokedAt != nil {
			t.Fatalf("the other tenant's key changed: %+v %v", k, err)
		}
	})
}
