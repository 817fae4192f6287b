// Package httpservertest attacks a server the way slow clients do
// (slowloris and its kin), for the tests of every server built with
// internal/httpserver: each attack holds one connection as an attacker
// would and fails the test unless the server cuts it off within a bound.
// Give the server Short limits; Bound is many times longer, so that a loaded
// machine does not fail the test: it checks that the connection is closed,
// not how fast.
package httpservertest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/httpserver"
)

// Short are limits a test can wait out.
var Short = httpserver.Limits{
	ReadHeaderTimeout: 300 * time.Millisecond,
	ReadTimeout:       500 * time.Millisecond,
	WriteTimeout:      time.Second,
	IdleTimeout:       300 * time.Millisecond,
	MaxHeaderBytes:    8 << 10,
}

// Bound is how long an attack on a server with Short limits may hold its
// connection before the test fails.
const Bound = 8 * time.Second

// Attack runs every attack against the server at addr, which has Short
// limits, as parallel subtests of t: headers and a body (POSTed to post)
// trickled in, an idle keep-alive connection after a GET of get, and a
// header twice the bound (431).
func Attack(t *testing.T, addr, get, post string) {
	t.Run("slow headers", func(t *testing.T) { t.Parallel(); SlowHeaders(t, addr, Bound) })
	t.Run("slow body", func(t *testing.T) { t.Parallel(); SlowBody(t, addr, post, Bound) })
	t.Run("idle connection", func(t *testing.T) { t.Parallel(); IdleConnection(t, addr, get, Bound) })
	t.Run("huge header", func(t *testing.T) {
		t.Parallel()
		if code := HugeHeader(t, addr, get, 2*Short.MaxHeaderBytes); code != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("a %d KiB header over a %d KiB bound got %d, want 431", 2*Short.MaxHeaderBytes>>10, Short.MaxHeaderBytes>>10, code)
		}
	})
}

// trickle is how often an attack sends its next byte or header line.
const trickle = 50 * time.Millisecond

// SlowHeaders connects to addr and sends a request's header lines one every
// 50 ms, never ending them. It fails t unless the server closes the
// connection within bound.
func SlowHeaders(t testing.TB, addr string, bound time.Duration) {
	t.Helper()
	n := 0
	attack(t, addr, bound, "slow headers", "GET / HTTP/1.1\r\nHost: "+addr+"\r\n", func() string {
		n++
		return fmt.Sprintf("X-Slow-%d: 1\r\n", n)
	})
}

// SlowBody connects to addr and POSTs to path a JSON body of 1000 bytes
// (announced in Content-Length) one byte every 50 ms. It fails t unless the
// server closes the connection within bound; an answer before the close
// must be an error status, not a success.
func SlowBody(t testing.TB, addr, path string, bound time.Duration) {
	t.Helper()
	head := "POST " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
	attack(t, addr, bound, "slow body", head, func() string { return " " })
}

// IdleConnection makes one GET of path on a keep-alive connection to addr
// and then sends nothing. It fails t unless the server closes the connection
// within bound.
func IdleConnection(t testing.TB, addr, path string, bound time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("idle connection: %v", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatalf("idle connection: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(bound))
	r := bufio.NewReader(conn)
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("idle connection: no answer to its first request: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.Close {
		t.Fatalf("idle connection: the server closed the connection after its first answer (%s); want keep-alive", res.Status)
	}
	start := time.Now()
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("idle connection: the server sent more than its answer")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("idle connection: still open after %v idle", bound)
	}
	t.Logf("idle connection closed after %v", time.Since(start).Round(time.Millisecond))
}

// HugeHeader sends a GET of path to addr with a header of size bytes and
// returns the status of the answer.
func HugeHeader(t testing.TB, addr, path string, size int) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Huge", strings.Repeat("a", size))
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("huge header: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// attack sends head, then next() every 50 ms, until the server closes the
// connection or bound passes.
func attack(t testing.TB, addr string, bound time.Duration, name, head string, next func() string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer conn.Close()
	var answer bytes.Buffer
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_, _ = io.Copy(&answer, conn) // until the server closes (or resets) the connection
	}()
	start := time.Now()
	_, err = io.WriteString(conn, head)
	tick := time.NewTicker(trickle)
	defer tick.Stop()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	// Trickle until the server closes; once a write fails (the server has
	// closed its side), only wait for the reader to see the close.
	for open := true; open; {
		select {
		case <-closed:
			open = false
		case <-deadline.C:
			t.Fatalf("%s: the connection is still open after %v", name, bound)
		case <-tick.C:
			if err == nil {
				_, err = io.WriteString(conn, next())
			}
		}
	}
	if answer.Len() > 0 {
		res, err := http.ReadResponse(bufio.NewReader(&answer), nil)
		if err != nil {
			t.Fatalf("%s: the server answered something that is not HTTP: %q", name, answer.String())
		}
		if res.StatusCode < 400 {
			t.Fatalf("%s: the server answered %s to a request it never fully received", name, res.Status)
		}
	}
	t.Logf("%s: cut off after %v", name, time.Since(start).Round(time.Millisecond))
}
