package sqlstore

import (
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/logx"
)

// Reporter returns fn, or when fn is nil, a function that logs the error
// with event at error level through the default Logger (internal/logx: JSON
// on os.Stderr): a background failure an operator must see (a lost change
// feed, a failing audit prune) is never silenced by default.
func Reporter(fn func(error), event string) func(error) {
	if fn != nil {
		return fn
	}
	log := logx.Or(zerolog.Logger{}, "keystore")
	return func(err error) { log.Error().Err(err).Str("event", event).Msg("keystore background failure") }
}
