package ticket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestRequestID(t *testing.T) {
	for _, id := range []string{"req-123", "a", "r1.b_c:d-E", strings.Repeat("x", MaxRequestIDLen)} {
		if got := RequestID(id); got != id {
			t.Errorf("RequestID(%q) = %q, want it kept", id, got)
		}
	}
	fresh := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for _, id := range []string{"", "has space", "semi;colon", "quote\"", "new\nline", "ünï", "a/b", strings.Repeat("x", MaxRequestIDLen+1)} {
		got := RequestID(id)
		if !fresh.MatchString(got) || seen[got] {
			t.Errorf("RequestID(%q) = %q, want a fresh 32-hex id", id, got)
		}
		seen[got] = true
	}
}

func TestClampTTL(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		0:                DefaultTTL,
		-time.Second:     DefaultTTL,
		time.Second:      MinTTL,
		MinTTL:           MinTTL,
		90 * time.Second: 90 * time.Second,
		MaxTTL:           MaxTTL,
		12 * time.Hour:   MaxTTL,
	} {
		if got := ClampTTL(in); got != want {
			t.Errorf("ClampTTL(%v) = %v, want %v", in, got, want)
		}
	}
	if DefaultTTL != 120*time.Second || MinTTL != 30*time.Second || MaxTTL != 600*time.Second {
		t.Errorf("TTL bounds %v %v %v changed: the shell, the portal and the docs say 120 s in 30-600 s", DefaultTTL, MinTTL, MaxTTL)
	}
}

func TestCheckPathAndField(t *testing.T) {
	for _, p := range []string{DefaultPath, "/", "/api/keys/ticket", "/a-b_c.d~e"} {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "tickets", "//evil.example/t", `/\evil.example`, "/t?x=1", "/t#x", "/a b", "/a\x00"} {
		if err := CheckPath(p); err == nil {
			t.Errorf("CheckPath(%q) accepted", p)
		}
	}
	for _, f := range []string{DefaultField, "projectId", "deployment_id", "deployment-id", "a.b", "_", strings.Repeat("f", 64)} {
		if err := CheckField(f); err != nil {
			t.Errorf("CheckField(%q) = %v", f, err)
		}
	}
	for _, f := range []string{"", "a b", `a"b`, `a\b`, "é", strings.Repeat("f", 65)} {
		if err := CheckField(f); err == nil {
			t.Errorf("CheckField(%q) accepted", f)
		}
	}
}

// TestProtocolJSON pins the wire shapes the portal page, the shell and
// Wacht's clients read: a renamed field or a lost omitempty breaks them.
func TestProtocolJSON(t *testing.T) {
	for want, v := range map[string]any{
		`{"type":"keyportal:ready","v":1,"session":"none"}`:                                   Message{Type: MsgReady, V: ProtocolVersion, Session: SessionNone},
		`{"type":"keyportal:session_expired","v":1,"reason":"ticket_used"}`:                   Message{Type: MsgSessionExpired, V: ProtocolVersion, Reason: ReasonTicketUsed},
		`{"type":"keyportal:resize","v":1,"height":640}`:                                      Message{Type: MsgResize, V: ProtocolVersion, Height: 640},
		`{"type":"keyportal:event","v":1,"name":"key.created"}`:                               Message{Type: MsgEvent, V: ProtocolVersion, Name: EventKeyCreated},
		`{"type":"keyportal:ticket","v":1,"ticket":"tk"}`:                                     Message{Type: MsgTicket, V: ProtocolVersion, Ticket: "tk"},
		`{"type":"keyportal:theme","v":1,"theme":"dark"}`:                                     Message{Type: MsgTheme, V: ProtocolVersion, Theme: ThemeDark},
		`{"ticket":"tk","expires_at":1700000000,"url":"https://portal.test/embed?ticket=tk"}`: Response{Ticket: "tk", ExpiresAt: 1700000000, URL: "https://portal.test/embed?ticket=tk"},
	} {
		if b, err := json.Marshal(v); err != nil || string(b) != want {
			t.Errorf("json = %s, %v; want %s", b, err, want)
		}
	}
	// A message from a newer frame, with a field this side does not know,
	// still reads.
	var m Message
	if err := json.Unmarshal([]byte(`{"type":"keyportal:resize","v":1,"height":12,"extra":true}`), &m); err != nil || m.Height != 12 || m.Type != MsgResize {
		t.Errorf("Unmarshal = %+v, %v", m, err)
	}
}

func TestIssuerFuncAndFingerprint(t *testing.T) {
	var got Request
	var iss Issuer = IssuerFunc(func(_ context.Context, req Request) (Response, error) {
		got = req
		return Response{}, fmt.Errorf("%w: app gone", ErrRejected)
	})
	_, err := iss.Issue(context.Background(), Request{AppSlug: "aa_42"})
	if got.AppSlug != "aa_42" || !errors.Is(err, ErrRejected) {
		t.Errorf("IssuerFunc passed %+v and returned %v", got, err)
	}
	if Fingerprint("") != "" {
		t.Error("Fingerprint of nothing is not empty")
	}
	fp := Fingerprint("secret-ticket")
	if len(fp) != 12 || strings.Contains("secret-ticket", fp) || fp != Fingerprint("secret-ticket") || fp == Fingerprint("secret-ticket2") {
		t.Errorf("Fingerprint = %q", fp)
	}
}
