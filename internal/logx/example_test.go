package logx_test

import (
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/logx"
)

// A Config's Logger field goes through Or once, in the constructor.
func ExampleOr() {
	type Config struct{ Logger zerolog.Logger }
	cfg := Config{Logger: zerolog.Nop()} // silenced on purpose
	log := logx.Or(cfg.Logger, "example")
	log.Error().Msg("not written: Nop was chosen")
	// Output:
}
