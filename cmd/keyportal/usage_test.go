package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// TestUsage: keyportal usage sums the verification log of an app, from the
// local store and, the same numbers, through the Wacht-compatible API.
func TestUsage(t *testing.T) {
	h := newHarness(t)
	h.acmeApp()
	now := h.clock.Now()
	var events []audit.Access
	add := func(ago time.Duration, key, outcome string, n int) {
		for range n {
			e := audit.Access{AppSlug: "aa_42", Time: now.Add(-ago), KeyID: key, KeyName: "name-" + key, Outcome: outcome, Path: "/v1/x"}
			if outcome == audit.AccessBlocked {
				e.BlockedRule = "revoked"
			}
			events = append(events, e)
		}
	}
	add(50*time.Hour, "key_one", audit.AccessAllowed, 3)
	add(2*time.Hour, "key_one", audit.AccessAllowed, 2)
	add(2*time.Hour, "key_two", audit.AccessAllowed, 1)
	add(2*time.Hour, "", audit.AccessBlocked, 2)
	add(9*24*time.Hour, "key_two", audit.AccessAllowed, 5) // before the default window
	s := h.openStore()
	if err := s.WriteAccess(context.Background(), events, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()

	r := h.run("usage", "--db", "$DB", "--app", "aa_42", "--json")
	expect(t, r, exitOK)
	var local usageReport
	if err := json.Unmarshal([]byte(r.stdout), &local); err != nil {
		t.Fatalf("usage --json printed %q: %v", r.stdout, err)
	}
	var perDay int64
	for _, d := range local.Days {
		perDay += d.Total
	}
	if local.Total != 8 || local.Allowed != 6 || local.Blocked != 2 || local.KeysUsed24h != 2 || local.SuccessRate != 75 ||
		len(local.TopKeys) != 2 || local.TopKeys[0] != (usageKey{"key_one", "name-key_one", 5}) || len(local.Days) != 8 || perDay != 8 {
		t.Fatalf("usage report %+v", local)
	}

	r = h.run("usage", "--db", "$DB", "--app", "aa_42", "--since", "30d", "--top", "1")
	expect(t, r, exitOK)
	for _, want := range []string{"requests 13", "allowed 11", "key_two", "DAY", "REQUESTS"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("usage --since 30d does not print %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "key_one") {
		t.Fatalf("usage --top 1 printed the second key too:\n%s", r.stdout)
	}

	// Through the Wacht-compatible API: the same report.
	const backendKey = "kpb_usage_key_0123456789abcdef"
	h.serveForWacht(backendKey)
	r = h.run("usage", "--wacht", "--app", "aa_42", "--json")
	expect(t, r, exitOK)
	var remote usageReport
	if err := json.Unmarshal([]byte(r.stdout), &remote); err != nil {
		t.Fatalf("usage --wacht --json printed %q: %v", r.stdout, err)
	}
	lj, _ := json.Marshal(local)
	rj, _ := json.Marshal(remote)
	if string(lj) != string(rj) {
		t.Fatalf("usage through the API differs from the local store:\n%s\n%s", rj, lj)
	}

	expect(t, h.run("usage", "--db", "$DB"), exitUsage)
	expect(t, h.run("usage", "--db", "$DB", "--app", "aa_42", "--top", "51"), exitUsage)
	expect(t, h.run("usage", "--db", "$DB", "--app", "aa_42", "--since", "1d", "--until", "2d"), exitUsage)
	expect(t, h.run("usage", "--db", "$DB", "--app", "aa_42", "--since", "2200-01-01"), exitUsage) // until now, before since
	expect(t, h.run("usage", "--db", "$DB", "--app", "aa_404"), exitFindings)
}

// keyportal serve records every /v1/authz/check decision in the store's
// verification log (its store wrapper must not hide the log), and keyportal
// usage counts them.
func TestServeRecordsChecks(t *testing.T) {
	h := newHarness(t)
	h.acmeApp()
	const backendKey = "kpb_usage_key_0123456789abcdef"
	base := h.serveInProcess(backendKey)
	cl, err := wacht.New(wacht.Config{APIKey: backendKey, BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, secret, err := cl.CreateKey(ctx, "aa_42", wacht.CreateKeyRequest{Name: "CI"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, secret, "acme_live_" + strings.Repeat("A", 43)} {
		if _, err := cl.Check(ctx, wacht.CheckRequest{Principal: wacht.Principal{Value: s}, Resource: "/v1/things", Method: "GET"}); err != nil && s == secret {
			t.Fatal(err)
		}
	}
	h.clock.Advance(time.Second) // usage's window ends now, exclusive
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := h.run("usage", "--db", "$DB", "--app", "aa_42", "--json")
		expect(t, r, exitOK)
		var u usageReport
		if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
			t.Fatal(err)
		}
		if u.Total == 2 && u.Allowed == 2 {
			break // the unknown key names no app: it is logged without one
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s usage counts %+v, want the 2 allowed checks", u)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
