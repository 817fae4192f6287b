// Package browser starts the headless Chromium that keyportal's browser tests
// drive with chromedp, with the flags this machine needs (no background
// networking, no sandbox as root, no GPU). It skips the test when Chromium is
// absent, unless services are required (see package testenv).
package browser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyportal/keyportal/internal/testenv"
)

// Start launches Chromium for t with a width×height window and returns a
// context for its first tab; every tab opened from it shares one profile (one
// cookie jar). The browser is stopped at the end of the test.
func Start(t testing.TB, width, height int, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(testenv.ChromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.WindowSize(width, height),
	}, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // start the browser without a deadline
		t.Fatal(err)
	}
	return ctx
}

// Within runs a in ctx with a deadline of d and returns its result; an error
// fails t.
func Within[T any](t testing.TB, ctx context.Context, d time.Duration, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// AttachFrame attaches to the cross-site iframe loaded from origin, a
// target of its own that chromedp's DOM queries of the page do not reach,
// and returns a context for it; the attachment ends with the test. It
// reports false when no such frame is among the browser's targets (yet).
func AttachFrame(t testing.TB, ctx context.Context, origin string) (context.Context, bool) {
	t.Helper()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.Type == "iframe" && strings.HasPrefix(info.URL, origin+"/") {
			fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID))
			t.Cleanup(cancel)
			// Attach on a context without deadline: the first Run's
			// context is the attachment's lifetime.
			if err := chromedp.Do(fctx); err != nil {
				t.Fatal(err)
			}
			return fctx, true
		}
	}
	return nil, false
}

// ScreenshotsEnv, when "1", makes the browser tests write the README's
// screenshots (Screenshot).
const ScreenshotsEnv = "KEYPORTAL_SCREENSHOTS"

// Screenshot writes the viewport of ctx's tab (frames composited in) as a
// PNG to dir/name when KEYPORTAL_SCREENSHOTS=1, and does nothing otherwise.
func Screenshot(t testing.TB, ctx context.Context, dir, name string) {
	t.Helper()
	if os.Getenv(ScreenshotsEnv) != "1" {
		return
	}
	png := Within(t, ctx, 30*time.Second, chromedp.CaptureScreenshot())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(png))
}
