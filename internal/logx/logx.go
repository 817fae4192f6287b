// Package logx holds keyportal's one rule for the Logger field of every
// Config: the zero zerolog.Logger means JSON lines with timestamps, at info
// level, on os.Stderr, so that an error an operator must see (a broken
// policy edit, a failing store) is never silenced by default. zerolog.Nop()
// silences a component explicitly; any other Logger is used as given.
package logx

import (
	"os"
	"reflect"

	"github.com/rs/zerolog"
)

// Or returns l, or when l is the zero Logger, the default: JSON lines with
// a timestamp and component (when not empty) at info level on os.Stderr (as
// it is when Or is called).
func Or(l zerolog.Logger, component string) zerolog.Logger {
	if !IsZero(l) {
		return l
	}
	c := zerolog.New(os.Stderr).Level(zerolog.InfoLevel).With().Timestamp()
	if component != "" {
		c = c.Str("component", component)
	}
	return c.Logger()
}

// IsZero reports whether l is the zero Logger, which zerolog would let drop
// every event, as opposed to one the caller built (zerolog.Nop() included).
// zerolog offers no other way to tell them apart.
func IsZero(l zerolog.Logger) bool { return reflect.ValueOf(l).IsZero() }
