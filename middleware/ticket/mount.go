package ticket

import "errors"

// ErrMount is what every Mount of keyportal (middleware.TicketRoute, shell,
// portal, wachtapi) wraps when it cannot register its routes: a route the
// host already has, a pattern Gin refuses, a bad prefix or page path. Gin
// panics on those; Mount returns this error instead.
var ErrMount = errors.New("keyportal: cannot mount")
