package middleware_test

import (
	"os"

	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/middleware"
)

// The ticket route's audit lines go to a log file (here os.Stdout) in
// batches: one write(2) per 100 ms instead of one per ticket. Close it after
// the server has shut down, so that no line is lost.
func ExampleNewBufferedLog() {
	lines := middleware.NewBufferedLog(os.Stdout, 0) // DefaultFlushInterval
	logger := zerolog.New(lines)
	_ = middleware.Config{Logger: logger} // with the rest of the route's Config

	logger.Info().Str("event", "ticket.issued").Msg("") // as the route writes one
	if err := lines.Close(); err != nil {               // after http.Server.Shutdown
		panic(err)
	}
	// Output: {"level":"info","event":"ticket.issued"}
}
