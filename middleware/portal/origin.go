package portal

import (
	"net/url"
	"strings"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// normalizeOrigin returns the serialized origin of s as a browser reports it
// (lower-case scheme and host, default port dropped), or "" if s is not a
// plain http(s) origin. The result is safe inside a CSP header.
func normalizeOrigin(s string) string {
	if s == "" || len(s) > 300 {
		return ""
	}
	if isSerializedOrigin(s) {
		return s // the common case, an origin as browsers send it: no parse
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':') {
			return ""
		}
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	for _, r := range port {
		if r < '0' || r > '9' {
			return ""
		}
	}
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host
}

// isSerializedOrigin reports whether s is already what normalizeOrigin
// would make of it: "http://" or "https://", a lower-case host of letters,
// digits, '.' and '-', and an optional port of digits other than the
// scheme's default.
func isSerializedOrigin(s string) bool {
	rest, defaultPort := s, ""
	switch {
	case strings.HasPrefix(s, "https://"):
		rest, defaultPort = s[len("https://"):], "443"
	case strings.HasPrefix(s, "http://"):
		rest, defaultPort = s[len("http://"):], "80"
	default:
		return false
	}
	host, port, hasPort := strings.Cut(rest, ":")
	if host == "" || (hasPort && (port == "" || port == defaultPort)) {
		return false
	}
	for i := range len(host) {
		if c := host[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	for i := range len(port) {
		if c := port[i]; c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// allowedOrigins returns the app's allowed embedder origins, normalized;
// malformed entries are dropped.
func allowedOrigins(app keystore.App) []string {
	out := make([]string, 0, len(app.AllowedOrigins))
	for _, o := range app.AllowedOrigins {
		if n := normalizeOrigin(o); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// originAllowed reports whether origin (normalized) is one of the app's.
func originAllowed(app keystore.App, origin string) bool {
	if origin == "" {
		return false
	}
	for _, o := range app.AllowedOrigins {
		if normalizeOrigin(o) == origin {
			return true
		}
	}
	return false
}
