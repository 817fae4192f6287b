// Command keyportal is the tool of keyportal's policy authors, operators and
// support: it lints, tests and explains Casbin policies, serves the
// self-hosted key portal, provisions API auth apps, and reads keys and the
// audit trail. Run `keyportal --help` for the commands and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The first SIGINT or SIGTERM asks the command to stop (serve drains its
	// requests, audit --follow returns); a second one kills it as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := newCLI(os.Stdin, os.Stdout, os.Stderr, os.Getenv).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
