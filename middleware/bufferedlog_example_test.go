package middleware_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/middleware"
)

// The ticket route's audit lines go to a log file in batches: one write(2)
// per 100 ms instead of one per ticket. Close it after the server has shut
// down, so that no line is lost.
func ExampleNewBufferedLog() {
	file, err := os.CreateTemp("", "audit-*.log")
	if err != nil {
		panic(err)
	}
	defer os.Remove(file.Name())
	defer file.Close()

	lines := middleware.NewBufferedLog(file, 0) // DefaultFlushInterval
	logger := zerolog.New(lines)
	_ = middleware.Config{Logger: logger} // with the rest of the route's Config

	logger.Info().Str("event", "ticket.issued").Msg("") // as the route writes one
	if err := lines.Close(); err != nil {               // after http.Server.Shutdown
		panic(err)
	}
	b, _ := os.ReadFile(file.Name())
	fmt.Println(strings.TrimSpace(string(b)))
	// Output: {"level":"info","event":"ticket.issued"}
}
