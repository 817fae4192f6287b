package wacht

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is the Client's default sender: a small HTTP/1.1 keep-alive
// connection pool. net/http's Transport costs a writeLoop and a readLoop
// goroutine handoff, a header clone, a URL parse and an httptrace per call;
// here a call runs entirely on the caller's goroutine: take an idle
// connection (or dial one), one Write of the whole request, then
// http.ReadResponse on the connection's bufio.Reader. Knowing directly
// whether a byte was written also replaces httptrace for the retry rule.

// Pool defaults (net/http's defaultHTTPClient used the same numbers).
const (
	poolMaxIdle     = 128
	poolIdleTimeout = 90 * time.Second
	// poolStaleAfter is how long a connection may sit idle before it is
	// checked for a close from the server before reuse. Without a
	// per-connection reader goroutine nothing notices that close earlier;
	// a connection reused within this time skips the (one syscall) check.
	poolStaleAfter = time.Second
	// maxBufKeep is the largest request buffer kept with a connection.
	maxBufKeep = 64 << 10
	// max1xx bounds the interim responses skipped before the final one, as
	// net/http does.
	max1xx = 5
	// The default net/http client's limits, kept for a Config.Timeout
	// longer than them.
	dialTimeout           = 5 * time.Second
	tlsHandshakeTimeout   = 5 * time.Second
	responseHeaderTimeout = 10 * time.Second
)

// aLongTimeAgo is a deadline in the past, to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// connPool holds the idle connections to one origin. It is safe for
// concurrent use; a connection taken from it belongs to one call until it is
// put back or closed.
type connPool struct {
	addr      string      // host:port to dial
	tlsConfig *tls.Config // nil for http; tests replace it to trust their server
	header    string      // "Host: …\r\n…Accept: application/json\r\n", built once
	// dial opens the TCP connection; tests replace it to count or script
	// dials.
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle       int
	idleTimeout   time.Duration
	staleAfter    time.Duration
	headerTimeout time.Duration // from the request's write to the response head

	mu   sync.Mutex
	idle []*poolConn // most recently used last
}

// poolConn is one keep-alive connection.
type poolConn struct {
	p   *connPool
	nc  net.Conn      // requests go through it (TLS or TCP)
	raw net.Conn      // the TCP connection under nc, for the liveness peek
	cw  *countingConn // under a TLS nc: counts bytes that reached the socket
	br  *bufio.Reader
	buf []byte // request bytes, reused
	// interrupt sets a past deadline; bound once so that registering it
	// with context.AfterFunc does not allocate a method value per call.
	interrupt func()
	idleAt    time.Time
}

// newConnPool returns the pool for base (an http or https URL with an ASCII
// host), sending header (the request headers every call shares) with each
// request.
func newConnPool(base *url.URL, header string) *connPool {
	port := base.Port()
	if port == "" {
		port = "80"
		if base.Scheme == "https" {
			port = "443"
		}
	}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	p := &connPool{
		addr:          net.JoinHostPort(base.Hostname(), port),
		header:        header,
		dial:          dialer.DialContext,
		maxIdle:       poolMaxIdle,
		idleTimeout:   poolIdleTimeout,
		staleAfter:    poolStaleAfter,
		headerTimeout: responseHeaderTimeout,
	}
	if base.Scheme == "https" {
		p.tlsConfig = clientTLSConfig(nil, base.Hostname())
	}
	return p
}

// clientTLSConfig returns a copy of base (nil: the defaults, system roots)
// for serverName, speaking only HTTP/1.1 and at least TLS 1.2.
func clientTLSConfig(base *tls.Config, serverName string) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	// The pool writes HTTP/1.1; a server must not pick h2.
	cfg.NextProtos = []string{"http/1.1"}
	return cfg
}

// poolUsable reports whether the pool may send for base instead of net/http:
// no proxy applies (proxy is http.ProxyFromEnvironment outside tests; an
// error from it is left to net/http to report, as today), the host needs no
// IDNA conversion, and the precomputed header values are ones net/http
// would send as they are (otherwise net/http's validation keeps reporting
// them per call, as it always has).
func poolUsable(base *url.URL, proxy func(*http.Request) (*url.URL, error), headerValues ...string) bool {
	if pu, err := proxy(&http.Request{Method: http.MethodPost, URL: base, Header: http.Header{}}); pu != nil || err != nil {
		return false
	}
	if !validHost(base.Host) {
		return false
	}
	for _, v := range headerValues {
		if !validHeaderValue(v) {
			return false
		}
	}
	return true
}

// validHost accepts the printable ASCII hosts url.Parse lets through;
// anything else (IDNA names) is left to net/http.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"<>\^`+"`{|}/?#@", c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue is net/http's rule: no control bytes other than tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// hostHeader is base's Host header as net/http writes it: no empty port, no
// IPv6 zone.
func hostHeader(base *url.URL) string {
	h := base.Host
	if strings.LastIndex(h, ":") > strings.LastIndex(h, "]") {
		h = strings.TrimSuffix(h, ":")
	}
	if strings.HasPrefix(h, "[") {
		if i := strings.LastIndex(h, "]"); i > 0 {
			if j := strings.LastIndex(h[:i], "%"); j >= 0 {
				h = h[:j] + h[i:]
			}
		}
	}
	return h
}

// roundTrip sends one request (target is the request-target: escaped path
// and query) and reads the response's head. wrote reports whether any byte
// of the request reached the connection; when it is false the request
// provably never left this process. On success the caller must Close the
// response body, which puts the connection back when it can be reused.
func (p *connPool) roundTrip(ctx context.Context, method, target string, body []byte) (resp *http.Response, wrote bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	pc, err := p.get(ctx)
	if err != nil {
		return nil, false, ctxErr(ctx, err)
	}
	// Until the response head is in, the deadline is the earlier of the
	// context's and headerTimeout; then the context's for the body.
	dl, hasDL := ctx.Deadline()
	headDL, extend := dl, false
	if hd := time.Now().Add(p.headerTimeout); !hasDL || hd.Before(dl) {
		headDL, extend = hd, true
	}
	if err := pc.nc.SetDeadline(headDL); err != nil {
		pc.close()
		return nil, false, err
	}
	stop := context.AfterFunc(ctx, pc.interrupt)

	var before int64
	if pc.cw != nil {
		before = pc.cw.n
	}
	n, err := pc.nc.Write(pc.request(method, target, body))
	if err != nil {
		wrote = n > 0 || (pc.cw != nil && pc.cw.n != before)
		stop()
		pc.close()
		return nil, wrote, ctxErr(ctx, err)
	}
	resp, err = pc.readResponse()
	if err == nil && extend {
		// A zero dl (no context deadline) clears the deadline. The context
		// may have ended, and its func set a past deadline, just before:
		// then this must not stand.
		if err = pc.nc.SetDeadline(dl); err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		stop()
		pc.close()
		return nil, true, ctxErr(ctx, err)
	}
	resp.Body = &poolBody{
		pc:   pc,
		src:  resp.Body,
		ctx:  ctx,
		stop: stop,
		// Reuse only a final response on an HTTP/1.1 connection the server
		// keeps open (no 101: the protocol would have changed).
		reuse: !resp.Close && resp.ProtoAtLeast(1, 1) && resp.StatusCode >= 200,
	}
	return resp, true, nil
}

// ctxErr returns the context's error in place of err once the context is
// done, so a timeout or cancellation reads (and matches errors.Is) as such
// whichever of the connection deadline and the context timer fired first.
func ctxErr(ctx context.Context, err error) error {
	if e := ctx.Err(); e != nil {
		return e
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return context.DeadlineExceeded
		}
	}
	return err
}

// get returns an idle connection that is still usable, or dials a new one.
func (p *connPool) get(ctx context.Context) (*poolConn, error) {
	now := time.Now()
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		pc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()

		idle := now.Sub(pc.idleAt)
		if idle > p.idleTimeout || (idle > p.staleAfter && !peekAlive(pc.raw)) {
			pc.close()
			continue
		}
		return pc, nil
	}
	return p.dialConn(ctx)
}

// dialConn opens a connection (and for https completes the handshake) within
// ctx.
func (p *connPool) dialConn(ctx context.Context) (*poolConn, error) {
	raw, err := p.dial(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	pc := &poolConn{p: p, nc: raw, raw: raw, buf: make([]byte, 0, 512)}
	if p.tlsConfig != nil {
		pc.cw = &countingConn{Conn: raw}
		tc := tls.Client(pc.cw, p.tlsConfig)
		hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = raw.Close()
			return nil, err
		}
		pc.nc = tc
	}
	pc.br = bufio.NewReaderSize(pc.nc, 4<<10)
	pc.interrupt = func() { _ = pc.nc.SetDeadline(aLongTimeAgo) }
	return pc, nil
}

// put returns a connection whose response was read to its end to the idle
// list, dropping it instead when the list is full or the server sent more
// than the response. It also drops the oldest idle connection once it has
// been idle too long: with fewer callers than idle connections, those at the
// bottom of the stack are never taken, and would otherwise stay open.
func (p *connPool) put(pc *poolConn) {
	// The connection keeps its last deadline while idle: nothing reads it
	// then, and roundTrip sets a new one before its next use.
	if pc.br.Buffered() > 0 {
		pc.close()
		return
	}
	if cap(pc.buf) > maxBufKeep {
		pc.buf = make([]byte, 0, 512)
	}
	now := time.Now()
	pc.idleAt = now
	var expired *poolConn
	p.mu.Lock()
	if len(p.idle) > 0 && now.Sub(p.idle[0].idleAt) > p.idleTimeout {
		expired = p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
	}
	full := len(p.idle) >= p.maxIdle
	if !full {
		p.idle = append(p.idle, pc)
	}
	p.mu.Unlock()
	if expired != nil {
		expired.close()
	}
	if full {
		pc.close()
	}
}

// closeIdle closes every idle connection. Connections in use are pooled
// again afterwards, as with net/http's CloseIdleConnections.
func (p *connPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

// idleCount is the number of idle connections (for tests).
func (p *connPool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func (pc *poolConn) close() { _ = pc.nc.Close() }

// request builds the request in pc's buffer: request line, the shared
// headers, the body's headers, then the body, for one Write.
func (pc *poolConn) request(method, target string, body []byte) []byte {
	b := append(pc.buf[:0], method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\n"...)
	b = append(b, pc.p.header...)
	switch {
	case body != nil:
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n\r\n"...)
		b = append(b, body...)
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		// As net/http does: some servers refuse a POST without a length.
		b = append(b, "Content-Length: 0\r\n\r\n"...)
	default:
		b = append(b, "\r\n"...)
	}
	pc.buf = b
	return b
}

// readResponse reads the head of the final response, skipping interim 1xx
// responses (but not 101, which is final).
func (pc *poolConn) readResponse() (*http.Response, error) {
	// A connection closed before any byte of a response is "EOF", as net/http
	// reports it, rather than ReadResponse's "unexpected EOF".
	if _, err := pc.br.Peek(1); err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		resp, err := http.ReadResponse(pc.br, nil)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		if i == max1xx {
			return nil, errors.New("too many 1xx informational responses")
		}
	}
}

// poolBody is a pooled response's body. It puts the connection back on Close
// when the body was read to its end and the connection may be reused, and
// closes it otherwise.
type poolBody struct {
	pc    *poolConn
	src   io.Reader // net/http's body reader, over pc.br
	ctx   context.Context
	stop  func() bool // stops the context.AfterFunc
	reuse bool
	eof   bool
}

func (b *poolBody) Read(p []byte) (int, error) {
	if b.pc == nil {
		return 0, errors.New("read on closed response body")
	}
	n, err := b.src.Read(p)
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		err = ctxErr(b.ctx, err)
	}
	return n, err
}

// Close never closes src: net/http's body would read the rest of the body,
// however long or stalled, to find its end.
func (b *poolBody) Close() error {
	pc := b.pc
	if pc == nil {
		return nil
	}
	b.pc = nil
	// stop reports false when the context's func already ran (or is
	// running): the deadline may be in the past now, or become so.
	if b.stop() && b.eof && b.reuse {
		pc.p.put(pc)
	} else {
		pc.close()
	}
	return nil
}

// countingConn counts the bytes written to the connection under TLS, where
// tls.Conn.Write's count says nothing about a record cut short.
type countingConn struct {
	net.Conn
	n int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n += int64(n)
	return n, err
}
