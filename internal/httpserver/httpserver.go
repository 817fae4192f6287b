// Package httpserver builds the http.Server every keyportal program listens
// with (`keyportal serve`, its metrics listener, and the Acme example's app
// and portal), so that all of them bound slow, idle and oversized clients
// the same way: a client that sends its headers or body slowly, or keeps an
// idle connection open, is cut off instead of holding a connection for ever.
package httpserver

import (
	"net/http"
	"time"
)

// The limits New applies. They are generous for a browser or an API client
// on a slow link and short for a client that trickles bytes on purpose.
const (
	// DefaultReadHeaderTimeout bounds reading a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds a request from the end of its headers to
	// the end of its answer.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a keep-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultMaxHeaderBytes bounds the request line and headers (net/http's
	// own default is 1 MiB); a larger request is answered 431.
	DefaultMaxHeaderBytes = 64 << 10
)

// Limits are the timeouts and header bound of a server. Tests shorten them;
// programs use New, which applies the defaults. A negative field means its
// default too, never "no limit".
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers. Zero means
	// DefaultReadHeaderTimeout (10 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request. Zero means
	// DefaultReadTimeout (30 s).
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its answer. Zero means DefaultWriteTimeout (30 s).
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request. Zero means DefaultIdleTimeout (120 s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers. Zero means
	// DefaultMaxHeaderBytes (64 KiB).
	MaxHeaderBytes int
}

// New returns a server for h on addr with the default limits.
func New(addr string, h http.Handler) *http.Server { return Limits{}.New(addr, h) }

// New returns a server for h on addr with l's limits, the zero ones
// replaced by the defaults.
func (l Limits) New(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: or(l.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       or(l.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      or(l.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       or(l.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    or(l.MaxHeaderBytes, DefaultMaxHeaderBytes),
	}
}

func or[T time.Duration | int](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
