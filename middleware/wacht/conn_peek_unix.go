//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package wacht

import (
	"net"
	"syscall"
)

// peekAlive reports whether an idle connection still looks usable: the server
// has neither closed it (EOF), nor reset it, nor sent bytes nobody asked for.
// It peeks at the socket without blocking and without consuming anything.
func peekAlive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	alive := false
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read yet is the only healthy answer; n == 0 is EOF.
		alive = n <= 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true // never wait for readability
	})
	return err == nil && alive
}
