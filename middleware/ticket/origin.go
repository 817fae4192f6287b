package ticket

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrNotOrigin is wrapped by every error of ParseOrigin.
var ErrNotOrigin = errors.New("not an origin")

// maxOriginLen bounds an origin: a DNS name has at most 253 bytes, so a
// longer string is no origin, and checking it costs no more than this.
const maxOriginLen = 300

// ParseOrigin checks that s is a web origin, scheme://host[:port], and
// returns it serialized as browsers send it in the Origin header and in
// MessageEvent.origin: scheme and host in lower case, the scheme's default
// port (80 for http, 443 for https) dropped, an IPv6 address in its short
// form. A single trailing "/" (the empty path, as an address bar shows an
// origin) is dropped too.
//
// It refuses, with an error wrapping ErrNotOrigin that says why: a scheme
// other than http and https, user info, a path, query or fragment, a
// wildcard, a host with characters other than letters, digits, '-' and '.'
// (an internationalized name must be written in its xn-- form), an empty
// label, and a port that is not a number from 1 to 65535. Every side (the
// ticket route's AllowedOrigins, the key store, the portal's frame-ancestors
// and message checks, the shell's check of the portal's messages) uses this
// one rule, so an origin one side accepts is one the others match. The
// result is safe to place in a Content-Security-Policy header.
func ParseOrigin(s string) (string, error) {
	o, fault := scanOrigin(s)
	switch {
	case fault == faultScheme:
		scheme, _, _ := strings.Cut(s, "://")
		return "", fmt.Errorf("%w: %q: %s, not %q", ErrNotOrigin, clip(s), fault, clip(scheme))
	case fault == faultTooLong:
		return "", fmt.Errorf("%w: %q: longer than %d bytes", ErrNotOrigin, clip(s), maxOriginLen)
	case fault != "":
		return "", fmt.Errorf("%w: %q: %s", ErrNotOrigin, clip(s), fault)
	case o.serialized:
		return s, nil
	}
	host := strings.ToLower(o.host)
	if o.ip.IsValid() {
		host = "[" + o.ip.String() + "]"
	}
	out := o.scheme + "://" + host
	if o.port != 0 && o.port != o.defaultPort() {
		out += ":" + strconv.Itoa(o.port)
	}
	return out, nil
}

// IsOrigin reports whether s is an origin already serialized, so that
// ParseOrigin(s) returns s itself. It allocates nothing for host names and
// IPv4 addresses: use it to compare an origin a browser sent against stored
// ones without parsing either.
func IsOrigin(s string) bool {
	o, fault := scanOrigin(s)
	return fault == "" && o.serialized
}

// origin is what scanOrigin finds in a string.
type origin struct {
	scheme     string     // "http" or "https"
	host       string     // as written (without brackets for IPv6)
	ip         netip.Addr // the IPv6 address, when the host is one
	port       int        // 0 when absent
	serialized bool       // the string is already the serialization
}

func (o origin) defaultPort() int {
	if o.scheme == "https" {
		return 443
	}
	return 80
}

// originFault says what is wrong with a would-be origin ("" for nothing).
// ParseOrigin completes the scheme's and the length's.
type originFault string

const (
	faultEmpty     originFault = "empty"
	faultTooLong   originFault = "too long" // completed by ParseOrigin
	faultForm      originFault = "want scheme://host[:port]"
	faultScheme    originFault = "the scheme must be http or https"
	faultNoHost    originFault = "no host"
	faultUser      originFault = "user info (user@) is not part of an origin"
	faultPath      originFault = "a path is not part of an origin; write scheme://host[:port]"
	faultQuery     originFault = "a query is not part of an origin; write scheme://host[:port]"
	faultFragment  originFault = "a fragment is not part of an origin; write scheme://host[:port]"
	faultWildcard  originFault = "wildcards are not supported: list each origin"
	faultLabel     originFault = "the host has an empty label"
	faultIDN       originFault = "the host is not ASCII: write an internationalized name in its xn-- form"
	faultHostChar  originFault = "the host may hold only letters, digits, '-' and '.'"
	faultIPv6      originFault = "the host is not an IPv6 address in brackets without a zone"
	faultAfterIPv6 originFault = "want [IPv6 address] or [IPv6 address]:port"
	faultPort      originFault = "the port must be a number from 1 to 65535"
)

// scanOrigin checks s against the rule of ParseOrigin without allocating
// (except, perhaps, for an IPv6 host's canonical check).
func scanOrigin(s string) (origin, originFault) {
	var o origin
	switch {
	case s == "":
		return o, faultEmpty
	case len(s) > maxOriginLen:
		return o, faultTooLong
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return o, faultForm
	}
	o.serialized = true
	switch {
	case scheme == "http" || scheme == "https":
		o.scheme = scheme
	case strings.EqualFold(scheme, "http"):
		o.scheme, o.serialized = "http", false
	case strings.EqualFold(scheme, "https"):
		o.scheme, o.serialized = "https", false
	default:
		return o, faultScheme
	}
	if r, ok := strings.CutSuffix(rest, "/"); ok && !strings.ContainsAny(r, "/?#") {
		rest, o.serialized = r, false
	}
	if i := strings.IndexAny(rest, "/?#@"); i >= 0 {
		switch rest[i] {
		case '/':
			return o, faultPath
		case '?':
			return o, faultQuery
		case '#':
			return o, faultFragment
		default:
			return o, faultUser
		}
	}
	if rest == "" {
		return o, faultNoHost
	}
	var port string
	var hasPort bool
	if rest[0] == '[' {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return o, faultIPv6
		}
		o.host = rest[1:end]
		after := rest[end+1:]
		if after != "" {
			if after[0] != ':' {
				return o, faultAfterIPv6
			}
			port, hasPort = after[1:], true
		}
		ip, err := netip.ParseAddr(o.host)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return o, faultIPv6
		}
		o.ip = ip
		if o.serialized {
			var buf [64]byte
			o.serialized = string(ip.AppendTo(buf[:0])) == o.host
		}
	} else {
		o.host, port, hasPort = strings.Cut(rest, ":")
		if f := checkHost(o.host); f != "" {
			return o, f
		}
		for i := range len(o.host) {
			if c := o.host[i]; 'A' <= c && c <= 'Z' {
				o.serialized = false
				break
			}
		}
	}
	if hasPort {
		if port == "" { // "http://h:" is "http://h", as browsers read it
			o.serialized = false
			return o, ""
		}
		n := 0
		for i := range len(port) {
			c := port[i]
			if c < '0' || c > '9' || n > 65535 {
				return o, faultPort
			}
			n = n*10 + int(c-'0')
		}
		if n < 1 || n > 65535 {
			return o, faultPort
		}
		o.port = n
		if port[0] == '0' || n == o.defaultPort() {
			o.serialized = false
		}
	}
	return o, ""
}

// checkHost checks a host name or IPv4 address: letters, digits, '-' and
// '.', no empty label (a final '.' is allowed: "example.com." is a name of
// its own).
func checkHost(h string) originFault {
	if h == "" {
		return faultNoHost
	}
	prev := byte('.')
	for i := range len(h) {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		case c == '.':
			if prev == '.' {
				return faultLabel
			}
		case c == '*':
			return faultWildcard
		case c >= 0x80:
			return faultIDN
		default:
			return faultHostChar
		}
		prev = c
	}
	return ""
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// ContainsOrigin reports whether origin, serialized, is one of origins,
// whichever way they are spelled ("HTTPS://App.Example:443/" matches
// "https://app.example"); entries ParseOrigin refuses match nothing. It
// allocates nothing when the entries are serialized already, as the key
// store keeps them.
func ContainsOrigin(origins []string, origin string) bool {
	if origin == "" {
		return false
	}
	for _, o := range origins {
		if IsOrigin(o) {
			if o == origin {
				return true
			}
		} else if n, err := ParseOrigin(o); err == nil && n == origin {
			return true
		}
	}
	return false
}
