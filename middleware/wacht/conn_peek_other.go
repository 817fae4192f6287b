//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package wacht

import "net"

// peekAlive cannot look at the socket on this platform, so a connection idle
// longer than connPool.staleAfter is never trusted.
func peekAlive(net.Conn) bool { return false }
