// Package clientip is keyportal's one rule for the address of the client
// behind a request: what audit events record as client_ip, what logs print
// and what per-IP rate limits (ratelimit.ScopeIP) count.
//
// It is gin's Context.ClientIP, which takes the address from the forwarding
// headers (X-Forwarded-For, X-Real-IP, or those named in the engine's
// RemoteIPHeaders) only when the connection comes from a proxy the engine
// trusts (gin.Engine.SetTrustedProxies, which Trust calls) — except on an
// engine that trusts every address, gin's default: there anyone can write
// those headers, so the address is the connection's own, and the first such
// request in the process logs a warning that names the fix.
package clientip

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"
)

// Of returns the address of the client that sent c's request (see the
// package doc). log receives the one warning about an engine that trusts
// every address.
func Of(c *gin.Context, log *zerolog.Logger) string {
	ip := c.ClientIP()
	peer := c.RemoteIP()
	if ip == peer { // no forwarding header believed: the common case, no allocation
		return ip
	}
	if p := net.ParseIP(peer); p != nil {
		peer = p.String() // the form ClientIP answers in
	}
	if ip == peer || overUnixSocket(c.Request) || !trustsEveryAddress(c) {
		return ip
	}
	if warned.CompareAndSwap(false, true) && log != nil {
		log.Warn().Str("event", "clientip.untrusted_header").Str("client_ip", peer).
			Msg("this gin engine trusts its forwarding headers (X-Forwarded-For, X-Real-IP, RemoteIPHeaders) from every address (gin's default), " +
				"so anyone can claim any client IP: keyportal audits and rate-limits by the connection's address instead. " +
				"Name your proxies with engine.SetTrustedProxies([]string{...}) (nil when there are none)")
	}
	return peer
}

// warned is set once the warning of Of has been logged.
var warned atomic.Bool

// probeForwarded is what a probe request claims in its forwarding headers
// (TEST-NET-1, RFC 5737): as a list of two hops, so that gin, walking it
// from a peer it trusts through hops it trusts, answers probeForwarded,
// while a platform's header (Engine.TrustedPlatform), which gin takes as it
// is, answers the whole list.
const probeForwarded = "192.0.2.2"

var (
	probeList    = []string{probeForwarded + ", " + probeForwarded}
	probePeers   = []string{"0.0.0.0:1", "[::]:1"}
	probeDefault = http.Header{"X-Forwarded-For": probeList, "X-Real-Ip": probeList}
)

// trustsEveryAddress reports whether c's engine believes a forwarding
// header sent from the unspecified address, 0.0.0.0 or ::, which only a
// range covering every address (gin's default 0.0.0.0/0 and ::/0) holds:
// the test gin applies itself before warning in debug mode. The probe
// carries every header of c's request, one of which ClientIP read (the
// engine may read others than X-Forwarded-For and X-Real-IP:
// Engine.RemoteIPHeaders). When one of them is a platform's header, which
// gin believes from any peer, the probe is made again with gin's default
// headers only, as if that one were absent.
func trustsEveryAddress(c *gin.Context) bool {
	h := make(http.Header, len(c.Request.Header)+len(probeDefault))
	for name := range c.Request.Header {
		h[name] = probeList
	}
	maps.Copy(h, probeDefault)
	probe := c.Copy()
	for _, peer := range probePeers {
		probe.Request = &http.Request{RemoteAddr: peer, Header: h}
		ip := probe.ClientIP()
		if ip == probeList[0] {
			probe.Request.Header = probeDefault
			ip = probe.ClientIP()
		}
		if ip == probeForwarded {
			return true
		}
	}
	return false
}

// overUnixSocket reports whether r came over a unix socket, whose peer gin
// always trusts: it is a proxy on the same machine.
func overUnixSocket(r *http.Request) bool {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && strings.HasPrefix(a.Network(), "unix")
}

// ParseProxies reads a list of proxies separated by commas, each an IP
// address or a CIDR range (10.0.0.1, 10.0.0.0/8, fd00::/8), as
// `keyportal serve --trusted-proxies` and the example's -trusted-proxies
// take it. Blank entries are skipped; an empty list means no proxy.
func ParseProxies(list string) ([]string, error) {
	var proxies []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if err := checkProxy(p); err != nil {
			return nil, err
		}
		proxies = append(proxies, p)
	}
	return proxies, nil
}

// Trust makes e take client addresses from the forwarding headers only on
// connections from proxies, each an IP address or a CIDR range; from none
// when proxies is empty.
func Trust(e *gin.Engine, proxies []string) error {
	for _, p := range proxies {
		if err := checkProxy(p); err != nil {
			return err
		}
	}
	if len(proxies) == 0 {
		proxies = nil
	}
	return e.SetTrustedProxies(proxies)
}

// checkProxy accepts an IP address or a CIDR range.
func checkProxy(p string) error {
	if net.ParseIP(p) == nil {
		if _, _, err := net.ParseCIDR(p); err != nil {
			return fmt.Errorf("%q is not an IP address or a CIDR range (e.g. 10.0.0.1 or 10.0.0.0/8)", p)
		}
	}
	return nil
}
