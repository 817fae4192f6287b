package portal

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	testbrowser "github.com/keyportal/keyportal/internal/testenv/browser"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// TestBrowserKeyListLoadsMore: with more keys than a page, the page shows
// the first page and a "Load more" button that brings the rest, each key
// once; a user over the limit on key changes sees the API's message in the
// create dialog.
func TestBrowserKeyListLoadsMore(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOptions{listen: "127.0.0.1:0", realClock: true, changeRate: 1, changeBurst: 1})
	allowed := embedder(t, "127.0.0.1:0")
	e.app("aa_42", "acme", allowed)
	const n = defaultPageSize + 12
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("key %02d", i)
	}
	e.seedKeys(t, "aa_42", names...)
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: allowed})
	f := openPortal(t, ctx, e, allowed, tk)

	rows := `document.querySelectorAll('tr[data-testid="key-row"]')`
	distinct := `new Set([...` + rows + `].map((r) => r.dataset.keyId)).size`
	more := q(tid("keys-more"))
	waitJS(t, f, rows+`.length === `+fmt.Sprint(defaultPageSize)+` && !`+more+`.hidden && `+more+`.getClientRects().length > 0`)
	if got := text(t, f, tid("keys-more")); got != "Load more" {
		t.Fatalf("the button says %q", got)
	}
	if !strings.Contains(text(t, f, row("key 61")), "key 61") || testbrowser.Within(t, f, 5*time.Second, chromedp.Evaluate[bool](q(row("key 00"))+` !== null`)) {
		t.Fatal("the first page is not the newest keys")
	}
	click(t, f, tid("keys-more"))
	waitJS(t, f, rows+`.length === `+fmt.Sprint(n)+` && `+distinct+` === `+fmt.Sprint(n)+` && `+more+`.hidden`)

	// Over the limit on key changes (1 a minute here), the dialog says so.
	click(t, f, tid("create-key"))
	typeInto(t, f, tid("create-name"), "first")
	click(t, f, tid("create-submit"))
	waitJS(t, f, dialogOpen(tid("secret-dialog"))+` && `+q(tid("secret-output"))+`.value !== ''`)
	remember(value(t, f, tid("secret-output")))
	click(t, f, tid("secret-done"))
	waitJS(t, f, q(row("first"))+` !== null`)
	click(t, f, tid("create-key"))
	typeInto(t, f, tid("create-name"), "second")
	click(t, f, tid("create-submit"))
	waitJS(t, f, `!document.getElementById('create-error').hidden`)
	if msg := text(t, f, "#create-error"); !strings.Contains(msg, "Too many key changes") || !strings.Contains(msg, "Try again in") {
		t.Fatalf("the create dialog says %q, want the rate limit's message", msg)
	}
}
