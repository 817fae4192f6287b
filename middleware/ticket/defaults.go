package ticket

import (
	"fmt"
	"time"
)

// Defaults shared by the ticket route (middleware.Config), the shell that
// calls it (wasmui.Shell, shell.Config) and the issuers.
const (
	// DefaultPath is the ticket route's path, where the shell POSTs.
	DefaultPath = "/api/settings/api-keys/embed-ticket"
	// DefaultField is the name of the ticket request body's one field, the
	// resource (deployment) id: {"deploymentId": "42"}.
	DefaultField = "deploymentId"
	// DefaultTTL is how long a ticket may wait to be exchanged when nobody
	// asked for another lifetime.
	DefaultTTL = 120 * time.Second
	// MinTTL and MaxTTL bound the lifetime the ticket route gives a ticket:
	// it must outlive a slow page load, and stay short-lived.
	MinTTL = 30 * time.Second
	MaxTTL = 600 * time.Second
)

// ClampTTL returns the lifetime of a ticket asked to live d: DefaultTTL for
// zero or less, else d brought into [MinTTL, MaxTTL].
func ClampTTL(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTTL
	}
	return min(max(d, MinTTL), MaxTTL)
}

// CheckPath checks a ticket route path: a path on the page's own origin,
// starting with "/" but not "//" (which would name another host), without
// query, fragment, spaces or control characters.
func CheckPath(p string) error {
	if len(p) == 0 || p[0] != '/' || (len(p) > 1 && (p[1] == '/' || p[1] == '\\')) {
		return fmt.Errorf("ticket path %q must be a same-origin path: /… but not //…", p)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f || c == '?' || c == '#' {
			return fmt.Errorf("ticket path %q must be a plain path, without query, fragment, spaces or control characters", p)
		}
	}
	return nil
}

// maxFieldLen bounds the ticket request's field name.
const maxFieldLen = 64

// CheckField checks the name of the ticket request's field: 1 to 64 ASCII
// letters, digits, '_', '-' and '.', a name every JSON encoder writes as it
// is and every page can put in an attribute.
func CheckField(f string) error {
	if f == "" || len(f) > maxFieldLen {
		return fmt.Errorf("ticket field %q must be 1 to %d characters", f, maxFieldLen)
	}
	for i := 0; i < len(f); i++ {
		switch c := f[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.':
		default:
			return fmt.Errorf("ticket field %q may hold only letters, digits, _, - and .", f)
		}
	}
	return nil
}
