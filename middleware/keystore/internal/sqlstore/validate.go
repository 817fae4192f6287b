package sqlstore

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// Limits on input, enforced with ErrInvalid.
const (
	maxNameLen        = 200
	maxDescriptionLen = 2000
	maxReasonLen      = 500
	maxListItems      = 100
	maxListItemLen    = 200
	maxMetadataBytes  = 16 << 10
)

var (
	slugRE   = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	prefixRE = regexp.MustCompile(`^[a-zA-Z0-9_]{1,32}$`)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", keystore.ErrInvalid, fmt.Sprintf(format, args...))
}

func validSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return invalid("app_slug %q must be 1-64 characters of a-z, 0-9, _ and -", slug)
	}
	return nil
}

// validName is validText for a required field of at most maxNameLen.
func validName(field, s string) error {
	if strings.TrimSpace(s) == "" {
		return invalid("%s must not be empty", field)
	}
	return validText(field, s, maxNameLen)
}

func validText(field, s string, max int) error {
	if strings.ContainsRune(s, 0) {
		return invalid("%s must not contain NUL", field)
	}
	if utf8.RuneCountInString(s) > max {
		return invalid("%s must be at most %d characters", field, max)
	}
	if !utf8.ValidString(s) {
		return invalid("%s must be valid UTF-8", field)
	}
	return nil
}

func validList(field string, items []string) error {
	if len(items) > maxListItems {
		return invalid("%s must have at most %d entries", field, maxListItems)
	}
	for _, it := range items {
		if strings.TrimSpace(it) == "" || utf8.RuneCountInString(it) > maxListItemLen || !utf8.ValidString(it) ||
			strings.ContainsRune(it, 0) {
			return invalid("%s entry %q must be 1-%d characters", field, it, maxListItemLen)
		}
	}
	return nil
}

// normalizeOrigins checks every origin with the one rule the ticket route,
// the portal and the shell use (ticket.ParseOrigin) and returns them
// serialized, as browsers send them in the Origin header.
func normalizeOrigins(origins []string) ([]string, error) {
	if len(origins) > maxListItems {
		return nil, invalid("allowed_origins must have at most %d entries", maxListItems)
	}
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		n, err := ticket.ParseOrigin(o)
		if err != nil {
			return nil, invalid("allowed origin: %v", err)
		}
		out = append(out, n)
	}
	return out, nil
}

func validApp(a *keystore.App) error {
	if err := validSlug(a.Slug); err != nil {
		return err
	}
	if err := validName("name", a.Name); err != nil {
		return err
	}
	if !prefixRE.MatchString(a.KeyPrefix) {
		return invalid("key_prefix %q must be 1-32 characters of a-z, A-Z, 0-9 and _", a.KeyPrefix)
	}
	if err := validName("tenant", a.Tenant); err != nil {
		return err
	}
	if err := validText("description", a.Description, maxDescriptionLen); err != nil {
		return err
	}
	if err := validText("deployment_id", a.DeploymentID, maxNameLen); err != nil {
		return err
	}
	if err := validText("rate_limit_scheme_slug", a.RateLimitSchemeSlug, maxNameLen); err != nil {
		return err
	}
	if err := validList("permissions", a.Permissions); err != nil {
		return err
	}
	if err := validList("resources", a.Resources); err != nil {
		return err
	}
	origins, err := normalizeOrigins(a.AllowedOrigins)
	if err != nil {
		return err
	}
	a.AllowedOrigins = origins
	return nil
}

func validNewKey(k keystore.NewKey, now time.Time) (metadata string, err error) {
	if err := validSlug(k.AppSlug); err != nil {
		return "", err
	}
	if err := validName("name", k.Name); err != nil {
		return "", err
	}
	if err := validList("permissions", k.Permissions); err != nil {
		return "", err
	}
	if k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
		return "", invalid("expires_at %s is not in the future", k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	metadata, err = encodeMetadata(k.Metadata)
	if err != nil {
		return "", err
	}
	return metadata, nil
}

func encodeMetadata(m map[string]any) (string, error) {
	if m == nil {
		m = map[string]any{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", invalid("metadata is not JSON: %v", err)
	}
	if len(b) > maxMetadataBytes {
		return "", invalid("metadata must be at most %d bytes of JSON", maxMetadataBytes)
	}
	return string(b), nil
}

func encodeList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // []string always encodes
	return string(b)
}

// cleanText makes an audit field storable everywhere: Postgres TEXT refuses
// invalid UTF-8 and NUL, and an audit event must not fail (its caller fails
// closed) because a header carried garbage.
func cleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
