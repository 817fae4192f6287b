// Command shelltime times embed shells in headless Chromium from navigation
// to the iframe, with the same criterion as the Node timing tool among the
// benchmark peers (the directory PEERS names): an iframe whose src carries a
// ticket, or that has data-keyportal-ready. It breaks the time down with the
// Performance API: the page, the ticket request, the wasm download, its
// compile and instantiation, Go's start (go.run until main blocks) and
// go-app's first renders.
//
//	go run ./cmd/shelltime -n 7 -cookie acme_session=VALUE \
//	    http://127.0.0.1:8080/settings/api-keys/42 \
//	    "http://127.0.0.1:8091/?host=http://127.0.0.1:8091"
//
// With two URLs it alternates them (A B A B …) after one warm-up load each,
// and prints the medians and the median of the per-pair ratios A/B. Each
// load runs in a fresh browser context: an empty cache, as on a first visit.
// Loopback only; a measurement tool, not part of the product.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// recorder runs before any page script: it marks the iframe, and wraps
// WebAssembly's instantiation and wasm_exec.js's Go.run to time them.
//
// A URL ending in #no-service-worker loads without go-app's service worker
// registration (to measure what it costs).
const recorder = `(() => {
  const T = window.__kp = {};
  if (location.hash === '#no-service-worker' && navigator.serviceWorker) {
    navigator.serviceWorker.register = () => new Promise(() => {});
  }
  const now = () => performance.now();
  const mark = () => {
    const f = document.querySelector('iframe[src*="ticket="], iframe[data-keyportal-ready]');
    if (f && !T.iframe) T.iframe = now();
  };
  new MutationObserver(mark).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['src'] });
  document.addEventListener('DOMContentLoaded', () => { T.dcl = now(); });
  for (const name of ['instantiateStreaming', 'instantiate']) {
    const orig = WebAssembly[name];
    if (!orig) continue;
    WebAssembly[name] = function (...a) {
      T[name + 'Start'] = T[name + 'Start'] || now();
      return orig.apply(this, a).then((r) => { T[name + 'End'] = T[name + 'End'] || now(); return r; });
    };
  }
  let G;
  Object.defineProperty(globalThis, 'Go', { configurable: true, get() { return G; }, set(v) {
    const run = v.prototype.run;
    v.prototype.run = function (inst) {
      T.goRun = now();
      // go-app's first call into the page is main's first steps: the Go
      // runtime and package initialisation are done by then.
      const getenv = window.goappGetenv;
      if (getenv) window.goappGetenv = function (k) { T.goMain = T.goMain || now(); return getenv(k); };
      const p = run.call(this, inst);
      T.goBlocked = now(); // main ran until every goroutine waited
      return p;
    };
    G = v;
  } });
})();`

// collect reads the marks and the resource timings.
const collect = `(() => {
  const T = window.__kp || {};
  const nav = performance.getEntriesByType('navigation')[0] || {};
  const res = performance.getEntriesByType('resource');
  const find = (re) => res.filter((e) => re.test(e.name));
  const wasm = find(/\.wasm(\?|$)/);
  const ticket = find(/embed-ticket/);
  const js = res.filter((e) => /\.js(\?|$)/.test(e.name));
  const fcp = (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime;
  const r = Object.assign({}, T, {
    htmlEnd: nav.responseEnd, fcp,
    jsEnd: js.length ? Math.max(...js.map((e) => e.responseEnd)) : undefined,
    wasmFetches: wasm.length,
    wasmStart: wasm.length ? wasm[0].startTime : undefined,
    wasmEnd: wasm.length ? Math.max(...wasm.map((e) => e.responseEnd)) : undefined,
    wasmBytes: wasm.reduce((s, e) => s + (e.transferSize || 0), 0),
    ticketStart: ticket.length ? ticket[0].startTime : undefined,
    ticketEnd: ticket.length ? ticket[0].responseEnd : undefined,
    bytes: res.reduce((s, e) => s + (e.transferSize || 0), 0) + (nav.transferSize || 0),
  });
  window.__waterfall = res.map((e) => e.startTime.toFixed(0).padStart(6) + ' ' + e.responseEnd.toFixed(0).padStart(6) + ' ' +
    e.initiatorType.padEnd(14) + ' ' + String(e.transferSize).padStart(8) + ' ' + e.renderBlockingStatus + ' ' + e.name.replace(location.origin, '')).join('\n');
  return JSON.stringify(r);
})()`

// phases are printed in this order, those a page lacks are left out.
var phases = []struct{ key, label string }{
	{"htmlEnd", "HTML received"},
	{"dcl", "DOMContentLoaded"},
	{"fcp", "first contentful paint"},
	{"jsEnd", "last script received"},
	{"ticketStart", "ticket request sent"},
	{"ticketEnd", "ticket response received"},
	{"wasmStart", "wasm request sent"},
	{"instantiateStreamingStart", "instantiateStreaming called"},
	{"wasmEnd", "wasm received"},
	{"instantiateStreamingEnd", "wasm compiled and instantiated"},
	{"goRun", "go.run called"},
	{"goMain", "Go main started (runtime, package init)"},
	{"goBlocked", "Go main blocked (go-app start, first render)"},
	{"iframe", "iframe with the ticket in the DOM"},
}

var verbose = flag.Bool("v", false, "print each load's resource timings")

func main() {
	runs := flag.Int("n", 7, "measured loads per URL (after one warm-up each)")
	cookie := flag.String("cookie", "", "name=value cookie set for each URL's host")
	chrome := flag.String("chromium", "/usr/bin/chromium", "Chromium binary")
	flag.Parse()
	urls := flag.Args()
	if len(urls) < 1 || len(urls) > 2 {
		fmt.Fprintln(os.Stderr, "usage: shelltime [-n RUNS] [-cookie name=value] URL_A [URL_B]")
		os.Exit(2)
	}
	if err := measure(*chrome, *runs, *cookie, urls); err != nil {
		fmt.Fprintln(os.Stderr, "shelltime:", err)
		os.Exit(1)
	}
}

func measure(chrome string, runs int, cookie string, urls []string) error {
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.Headless, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx); err != nil {
		return err
	}
	results := make([][]map[string]float64, len(urls))
	for i := -1; i < runs; i++ {
		for u, target := range urls {
			r, err := once(bctx, target, cookie)
			if err != nil {
				return fmt.Errorf("%s: %w", target, err)
			}
			if i >= 0 { // the first round warms the browser and the servers
				results[u] = append(results[u], r)
			}
		}
	}
	for u, target := range urls {
		fmt.Printf("%s (medians of %d loads, ms since navigation start)\n", target, runs)
		for _, p := range phases {
			if v, ok := median(results[u], p.key); ok {
				fmt.Printf("  %-42s %6.0f\n", p.label, v)
			}
		}
		if v, ok := median(results[u], "wasmFetches"); ok && v > 1 {
			fmt.Printf("  warning: the wasm was fetched %.0f times per load\n", v)
		}
		b, _ := median(results[u], "bytes")
		fmt.Printf("  %-42s %6.0f KiB\n", "transferred", b/1024)
	}
	if len(urls) == 2 {
		var ratios []float64
		for i := range results[0] {
			ratios = append(ratios, results[0][i]["iframe"]/results[1][i]["iframe"])
		}
		slices.Sort(ratios)
		fmt.Printf("ratio A/B time to iframe: median %.2f (min %.2f, max %.2f)\n", ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
	}
	return nil
}

// once loads target in a fresh browser context and returns its marks.
func once(bctx context.Context, target, cookie string) (map[string]float64, error) {
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		return nil, err
	}
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()
	if name, value, ok := strings.Cut(cookie, "="); ok {
		u, err := url.Parse(target)
		if err != nil {
			return nil, err
		}
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: name, Value: value, Domain: u.Hostname(), Path: "/"}); err != nil {
			return nil, err
		}
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recorder}); err != nil {
		return nil, err
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(target)); err != nil {
		return nil, err
	}
	pctx, cancelP := context.WithTimeout(ctx, 30*time.Second)
	defer cancelP()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](`!!(window.__kp && window.__kp.iframe)`, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + ': ' + document.body.innerText.slice(0, 300) + ' ' + JSON.stringify(window.__kp)`))
		return nil, fmt.Errorf("no iframe with a ticket within 30 s (%v); the page shows %s", err, shown)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](collect))
	if err != nil {
		return nil, err
	}
	if *verbose {
		w, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__waterfall`))
		fmt.Printf("%s\n start    end initiator         bytes blocking name\n%s\n", target, w)
	}
	m := map[string]float64{}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func median(rs []map[string]float64, key string) (float64, bool) {
	var xs []float64
	for _, r := range rs {
		if v, ok := r[key]; ok {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return 0, false
	}
	slices.Sort(xs)
	return xs[len(xs)/2], true
}
