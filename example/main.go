// Command example is Acme, a demo Gin app that embeds keyportal: sign in as a
// demo user, open a deployment's API-keys settings page, and manage keys in
// the self-hosted portal framed from a second origin; keys made there work on
// Acme's public API (GET /v1/whoami) at once.
//
//	go run ./example
//
// Flags: -addr (app, default 127.0.0.1:8080), -portal-addr (portal, default
// 127.0.0.1:8081, served as http://localhost:8081 so the frame is another
// site), -data (state directory, default ./keyportal-data), -ticket-rate
// (tickets a minute per user; 0 lifts the limit), -trusted-proxies (the
// proxies whose X-Forwarded-For is believed; none by default, so the audit
// trail records the connection's address). Remote mode: set
// WACHT_BACKEND_API_KEY (and WACHT_BASE_URL) to use Wacht's hosted portal.
// KEYPORTAL_BACKEND_API_KEY sets the local portal's backend API key (else one
// is generated and printed).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/middleware/keystore"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	flag.StringVar(&o.AppAddr, "addr", "127.0.0.1:8080", "listen address of the Acme app")
	flag.StringVar(&o.PortalAddr, "portal-addr", "127.0.0.1:8081", "listen address of the self-hosted portal (served as http://localhost:PORT)")
	flag.StringVar(&o.DataDir, "data", "./keyportal-data", "state directory (SQLite database, session key, built shell)")
	flag.Float64Var(&o.TicketRate, "ticket-rate", 10, "tickets a minute per user; 0 lifts the limit (load tests)")
	flag.DurationVar(&o.AuditMaxAge, "audit-max-age", keystore.DefaultAuditMaxAge, "how long audit events are kept (older ones are deleted hourly); negative keeps them forever")
	flag.StringVar(&o.ShellWasm, "shell-wasm", "", "prebuilt shell wasm (default: build it from source into -data on first start)")
	flag.StringVar(&o.PolicyPath, "policy", "", "policy file, watched for edits (default: the built-in demo policy)")
	flag.Func("trusted-proxies", "proxies whose X-Forwarded-For names the client, IP addresses or CIDR ranges, comma-separated (default none)", func(v string) (err error) {
		o.TrustedProxies, err = clientip.ParseProxies(v)
		return err
	})
	flag.Parse()

	gin.SetMode(gin.ReleaseMode)
	o.Logger = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	o.WachtAPIKey = os.Getenv("WACHT_BACKEND_API_KEY")
	o.WachtBaseURL = os.Getenv("WACHT_BASE_URL")
	o.BackendAPIKey = os.Getenv("KEYPORTAL_BACKEND_API_KEY")
	generatedKey := false
	if o.WachtAPIKey == "" && o.BackendAPIKey == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		o.BackendAPIKey, generatedKey = "kp_backend_"+hex.EncodeToString(b), true
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	acme, err := newAcme(ctx, o)
	if err != nil {
		return err
	}
	defer acme.Close()

	servers := acme.servers(o)
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if err := s.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	printWelcome(acme, o, generatedKey)

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	return err
}

func printWelcome(a *acme, o options, generatedKey bool) {
	w := os.Stdout
	fmt.Fprintf(w, "\nAcme is running.\n\n")
	fmt.Fprintf(w, "  App:     %s/login   (sign in as alice, the owner of acme)\n", a.AppURL)
	if a.Remote {
		fmt.Fprintf(w, "  Portal:  Wacht's hosted page (WACHT_BACKEND_API_KEY is set)\n")
	} else {
		fmt.Fprintf(w, "  Portal:  %s (self-hosted, another site than the app)\n", a.PortalURL)
		if generatedKey {
			fmt.Fprintf(w, "  Backend API key (Wacht-compatible API on the portal): %s\n", o.BackendAPIKey)
		}
	}
	fmt.Fprintf(w, "  State:   %s\n\n", o.DataDir)
	fmt.Fprintf(w, "Try:\n")
	fmt.Fprintf(w, "  1. Sign in as alice, open %s/settings/api-keys/42 and create a key.\n", a.AppURL)
	fmt.Fprintf(w, "  2. curl -H 'Authorization: Bearer <the secret>' %s/v1/whoami\n", a.AppURL)
	fmt.Fprintf(w, "  3. Revoke it in the portal; the same curl now answers 401.\n")
	fmt.Fprintf(w, "  4. Sign in as dave (viewer): no permission. As frank (globex): no ticket for 42.\n")
	fmt.Fprintf(w, "  5. Sign in as erin (support): %s/settings/audit/42 shows the audit trail.\n\n", a.AppURL)
}
