// Package benchserve runs the HTTP server of the benchmark servers,
// cmd/benchserver and cmd/benchserver-portal, which compare-all.sh starts
// and stops with SIGTERM.
package benchserve

import (
	"context"
	"log"
	"net/http"
	_ "net/http/pprof" // served on pprofAddr only
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Serve serves h on addr until SIGINT or SIGTERM, then shuts the server
// down, waiting at most 5 s for the requests in flight, and returns nil, so
// that the caller's deferred cleanup (an audit log's last lines, a scratch
// store) runs. With pprofAddr set it also serves net/http/pprof there.
func Serve(addr string, h http.Handler, pprofAddr string) error {
	if pprofAddr != "" {
		go func() { log.Println(http.ListenAndServe(pprofAddr, nil)) }()
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	select {
	case err := <-served:
		return err // never http.ErrServerClosed: only Serve shuts srv down
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	return nil
}
