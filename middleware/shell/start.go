package shell

import (
	"net/http"

	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/wasmui"
)

// startMode decides, for one page request, whether the page asks for the
// first ticket as it loads (wasmui.StartAtOnce) or waits for the user's
// click (wasmui.StartOnClick). The page carries the answer in one place, the
// eager script's data-keyportal-start attribute (see eagerTag), which the
// eager script and the wasm both read.
//
// A navigation from another site (a link, a form, a script on any page)
// carries the user's Lax session cookie: were the page to ask at once,
// every such visit would spend one of the user's tickets (5 visits empty the
// burst, and the user gets 429) and write an audit row in the user's name.
// So the page asks at once only when the navigation passes the ticket
// route's own Sec-Fetch-Site rule (ticket.SameOriginFetch):
//
//   - same-origin (the app's own pages, the sign-in redirect) and none (an
//     address typed or pasted, a bookmark, a link opened from outside the
//     browser): at once, as before.
//   - cross-site: waits for the click.
//   - same-site: waits too. A sibling subdomain is another origin, which
//     may host other people's content; the ticket route refuses same-site
//     requests for the same reason. It costs a click to users who come from
//     another subdomain of the product.
//   - no header: at once. Browsers send Sec-Fetch-Site since Chrome 76,
//     Firefox 90 and Safari 16.4, and a page cannot remove it (it is a
//     forbidden header name), so its absence means an older browser (or no
//     browser at all). Holding there would make those users click on every
//     visit, including from the app's own pages; for them a link from
//     another site still costs a ticket, as before, within the per-user
//     rate limit and in the audit trail. The Referer is no substitute: the
//     linking page can suppress it.
//   - any other value: waits (an unknown value is not trusted).
func startMode(r *http.Request) string {
	if ticket.SameOriginFetch(r.Header.Get("Sec-Fetch-Site")) {
		return wasmui.StartAtOnce
	}
	return wasmui.StartOnClick
}
