package portal

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	testbrowser "github.com/keyportal/keyportal/internal/testenv/browser"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// TestBrowserActivityListsEachEventOnce: the Activity tab shows each event
// once, however often it is asked to load: a second click on the tab while
// the first list is on its way replaces that list, it does not add a copy
// of it (which would say each key was created twice).
func TestBrowserActivityListsEachEventOnce(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOptions{listen: "127.0.0.1:0", realClock: true})
	allowed := embedder(t, "127.0.0.1:0")
	e.app("aa_42", "acme", allowed)
	e.seedKeys(t, "aa_42", "key 0", "key 1", "key 2")
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: allowed})
	f := openPortal(t, ctx, e, allowed, tk)

	items := `document.querySelectorAll('[data-testid="activity-item"]').length`
	click(t, f, tid("tab-activity"))
	waitJS(t, f, items+` > 0 && document.getElementById('activity-status').textContent === ''`)
	once := testbrowser.Within(t, f, 5*time.Second, chromedp.Evaluate[int](items))

	evalJS(t, f, q(tid("tab-activity"))+`.click(); `+q(tid("tab-activity"))+`.click()`)
	waitJS(t, f, items+` >= `+fmt.Sprint(once))
	time.Sleep(500 * time.Millisecond) // the second answer, if it were appended
	if got := testbrowser.Within(t, f, 5*time.Second, chromedp.Evaluate[int](items)); got != once {
		t.Fatalf("the Activity tab lists %d events after two quick clicks, want %d (each once)", got, once)
	}
}
