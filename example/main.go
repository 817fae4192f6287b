// Command example is Acme, a demo Gin app that embeds keyportal: sign in as a
// demo user, open a deployment's API-keys settings page, and manage keys in
// the self-hosted portal framed from a second origin; keys made there work on
// Acme's public API (GET /v1/whoami) at once.
//
//	go run ./example
//
// Flags: -addr (app, default 127.0.0.1:8080), -portal-addr (portal, default
// 127.0.0.1:8081, served as http://localhost:8081 so the frame is another
// site), -data (state directory, default ./keyportal-data; one Acme at a
// time uses it), -ticket-rate (tickets a minute per user; 0 lifts the
// limit), -audit-max-age, -shell-wasm, -policy, -trusted-proxies (the
// proxies whose X-Forwarded-For is believed; none by default, so the audit
// trail records the connection's address); any other argument is a usage
// error (exit 2), and an address in use is reported before anything starts
// (exit 1). Remote mode: set WACHT_BACKEND_API_KEY (and WACHT_BASE_URL) to
// use Wacht's hosted portal. KEYPORTAL_BACKEND_API_KEY sets the local
// portal's backend API key (else one is generated and printed).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// errUsage is run's answer to flags it cannot parse, once it has printed
// what is wrong and the usage.
var errUsage = errors.New("bad usage")

// run is the demo's main: it parses args, starts Acme and serves it until
// ctx ends (SIGINT, SIGTERM) or a server fails. The welcome goes to stdout,
// logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.AppAddr, "addr", "127.0.0.1:8080", "listen address of the Acme app")
	fs.StringVar(&o.PortalAddr, "portal-addr", "127.0.0.1:8081", "listen address of the self-hosted portal (served as http://localhost:PORT)")
	fs.StringVar(&o.DataDir, "data", "./keyportal-data", "state directory (SQLite database, session key, built shell)")
	fs.Float64Var(&o.TicketRate, "ticket-rate", 10, "tickets a minute per user; 0 lifts the limit (load tests)")
	fs.DurationVar(&o.AuditMaxAge, "audit-max-age", keystore.DefaultAuditMaxAge, "how long audit events are kept (older ones are deleted hourly); negative keeps them forever")
	fs.StringVar(&o.ShellWasm, "shell-wasm", "", "prebuilt shell wasm (default: build it from source into -data on first start)")
	fs.StringVar(&o.PolicyPath, "policy", "", "policy file, watched for edits (default: the built-in demo policy)")
	fs.Func("trusted-proxies", "proxies whose X-Forwarded-For names the client, IP addresses or CIDR ranges, comma-separated (default none)", func(v string) (err error) {
		o.TrustedProxies, err = clientip.ParseProxies(v)
		return err
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	switch {
	case o.AuditMaxAge == 0:
		fmt.Fprintln(stderr, "-audit-max-age must be positive, or negative to keep audit events forever")
		return errUsage
	case math.IsNaN(o.TicketRate) || math.IsInf(o.TicketRate, 0):
		fmt.Fprintln(stderr, "-ticket-rate must be a number of tickets a minute (0 lifts the limit)")
		return errUsage
	}
	if fs.NArg() > 0 {
		// Parsing stops at the first non-flag: it and all after it would be
		// dropped without a word.
		fmt.Fprintf(stderr, "unexpected argument %q: the demo takes flags only\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}

	gin.SetMode(gin.ReleaseMode)
	o.Logger = zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
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

	listeners, err := listenAll(o)
	if err != nil {
		return err
	}
	acme, err := newAcme(ctx, o)
	if err != nil {
		for _, l := range listeners {
			l.Close()
		}
		return err
	}
	defer acme.Close()

	servers := acme.servers(o)
	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() {
			if err := s.Serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	printWelcome(stdout, acme, o, generatedKey)

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

// listenAll listens on the app's address and, in local mode, the portal's
// (the order of acme.servers) before anything else starts, so that an
// address in use is reported alone, with its flag, and not after the
// provisioning, the shell's build and the welcome.
func listenAll(o options) ([]net.Listener, error) {
	addrs := [][2]string{{"-addr", o.AppAddr}}
	if o.WachtAPIKey == "" {
		addrs = append(addrs, [2]string{"-portal-addr", o.PortalAddr})
	}
	var listeners []net.Listener
	for _, a := range addrs {
		l, err := net.Listen("tcp", a[1])
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("%s %s: %w (stop what listens there, another Acme perhaps, or choose another address with %s)", a[0], a[1], err, a[0])
			}
			return nil, fmt.Errorf("%s %s: %w", a[0], a[1], err)
		}
		listeners = append(listeners, l)
	}
	return listeners, nil
}

func printWelcome(w io.Writer, a *acme, o options, generatedKey bool) {
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
