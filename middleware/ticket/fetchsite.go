package ticket

// SameOriginFetch reports whether a request's Sec-Fetch-Site header value
// (Fetch Metadata, set by the browser and not by the page) lets the request
// be treated as the page's own or the user's: "same-origin", "none" (an
// address typed or pasted, a bookmark, a link opened from outside the
// browser) or absent (a client without Fetch Metadata, which cannot be told
// apart from others). "same-site" (a sibling subdomain, another origin),
// "cross-site" and any value unknown today are not.
//
// The ticket route refuses a request this rejects (403 cross_site), the
// portal's exchange and API refuse it likewise, and middleware/shell serves
// the settings page for such a navigation so that it waits for the user's
// click before it asks for a ticket.
func SameOriginFetch(secFetchSite string) bool {
	switch secFetchSite {
	case "", "same-origin", "none":
		return true
	}
	return false
}
