package sqlstore

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyportal/keyportal/internal/safetext"
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
	// maxMessages bounds an app's texts: room for a whole portal.Messages
	// table (128 keys) and the keys later versions add.
	maxMessages = 300
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

// validText is the store's one rule for text a user or a client types
// (names, reasons, tenants, list entries, metadata keys): one line of at
// most max characters of UTF-8, none of them a control, bidi or invisible
// format character (safetext.Unsafe), so that nothing stored can drive an
// operator's terminal or disguise what it shows.
func validText(field, s string, max int) error { return checkText(field, s, max, false) }

// validLines is validText for text that may span lines (a description, a
// metadata string): LF and TAB are allowed, every other character of the
// set is not.
func validLines(field, s string, max int) error { return checkText(field, s, max, true) }

// checkText applies the rule. Its message names the field and the
// character's code point, never the character itself: the message reaches
// HTTP clients and terminals.
func checkText(field, s string, max int, lines bool) error {
	if utf8.RuneCountInString(s) > max {
		return invalid("%s must be at most %d characters", field, max)
	}
	if !utf8.ValidString(s) {
		return invalid("%s must be valid UTF-8", field)
	}
	n := 0
	for _, r := range s {
		n++
		if safetext.Unsafe(r) && !(lines && (r == '\n' || r == '\t')) {
			what := "one line without control characters"
			if lines {
				what = "text without control characters other than line breaks and tabs"
			}
			return invalid("%s must be %s, bidi controls or invisible format characters (%U at character %d)", field, what, r, n)
		}
	}
	return nil
}

func validList(field string, items []string) error {
	if len(items) > maxListItems {
		return invalid("%s must have at most %d entries", field, maxListItems)
	}
	for i, it := range items {
		if strings.TrimSpace(it) == "" || utf8.RuneCountInString(it) > maxListItemLen {
			return invalid("%s entry %q must be 1-%d characters", field, it, maxListItemLen)
		}
		if err := validText(fmt.Sprintf("%s entry %d", field, i+1), it, maxListItemLen); err != nil {
			return err
		}
	}
	return nil
}

// messageKeyRE is the shape of a message key (portal.Messages's json
// names).
var messageKeyRE = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// validMessages checks an app's texts: at most maxMessages, each key of
// messageKeyRE's shape and each text validText of at most maxReasonLen.
// Which keys exist is the portal's to check.
func validMessages(m map[string]string) error {
	if len(m) > maxMessages {
		return invalid("messages must have at most %d entries", maxMessages)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !messageKeyRE.MatchString(k) {
			return invalid("messages key %q must be 1-64 characters of a-z, 0-9 and _", cleanText(k))
		}
		if err := validText("messages."+k, m[k], maxReasonLen); err != nil {
			return err
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

// validApp checks an app to create (prev nil) or an app as UpdateApp would
// store it (prev the stored one). A field UpdateApp leaves as it was is not
// judged again: an app stored before a rule tightened can still be disabled
// or renamed. It serializes the origins it checks.
func validApp(a, prev *keystore.App) error {
	var was keystore.App
	if prev != nil {
		was = *prev
	}
	changed := func(now, before string) bool { return prev == nil || now != before }
	changedList := func(now, before []string) bool { return prev == nil || !slices.Equal(now, before) }
	if changed(a.Slug, was.Slug) {
		if err := validSlug(a.Slug); err != nil {
			return err
		}
	}
	if changed(a.Name, was.Name) {
		if err := validName("name", a.Name); err != nil {
			return err
		}
	}
	if changed(a.KeyPrefix, was.KeyPrefix) && !prefixRE.MatchString(a.KeyPrefix) {
		return invalid("key_prefix %q must be 1-32 characters of a-z, A-Z, 0-9 and _", a.KeyPrefix)
	}
	if changed(a.Tenant, was.Tenant) {
		if err := validName("tenant", a.Tenant); err != nil {
			return err
		}
	}
	if changed(a.Description, was.Description) {
		if err := validLines("description", a.Description, maxDescriptionLen); err != nil {
			return err
		}
	}
	if changed(a.DeploymentID, was.DeploymentID) {
		if err := validText("deployment_id", a.DeploymentID, maxNameLen); err != nil {
			return err
		}
	}
	if changed(a.RateLimitSchemeSlug, was.RateLimitSchemeSlug) {
		if err := validText("rate_limit_scheme_slug", a.RateLimitSchemeSlug, maxNameLen); err != nil {
			return err
		}
	}
	if prev == nil || !slices.EqualFunc(a.RateLimits, was.RateLimits, sameRule) {
		if err := validRules("rate_limits", a.RateLimits); err != nil {
			return err
		}
	}
	if changedList(a.Permissions, was.Permissions) {
		if err := validList("permissions", a.Permissions); err != nil {
			return err
		}
	}
	if changedList(a.Resources, was.Resources) {
		if err := validList("resources", a.Resources); err != nil {
			return err
		}
	}
	if prev == nil || !maps.Equal(a.Messages, was.Messages) {
		if err := validMessages(a.Messages); err != nil {
			return err
		}
	}
	if changedList(a.AllowedOrigins, was.AllowedOrigins) {
		origins, err := normalizeOrigins(a.AllowedOrigins)
		if err != nil {
			return err
		}
		a.AllowedOrigins = origins
	}
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
	if k.ExpiresAt != nil && k.ExpiresAt.After(maxStored) {
		return "", invalid("expires_at %s is after %s, the last time the store can hold", k.ExpiresAt.UTC().Format(time.RFC3339),
			maxStored.UTC().Format(time.RFC3339))
	}
	metadata, err = encodeMetadata(k.Metadata)
	if err != nil {
		return "", err
	}
	var v any
	if err := json.Unmarshal([]byte(metadata), &v); err != nil {
		return "", invalid("metadata is not JSON: %v", err)
	}
	if err := validMetadata("metadata", v); err != nil {
		return "", err
	}
	return metadata, nil
}

// validMetadata applies the text rule to metadata as JSON reads it: object
// keys are one line, strings may span lines. path names the value in the
// error (metadata["notes"][1]).
func validMetadata(path string, v any) error {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := validText(path+" key "+strconv.Quote(k), k, maxMetadataBytes); err != nil {
				return err
			}
			if err := validMetadata(path+"["+strconv.Quote(k)+"]", v[k]); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := validMetadata(path+"["+strconv.Itoa(i)+"]", e); err != nil {
				return err
			}
		}
	case string:
		return validLines(path, v, maxMetadataBytes)
	}
	return nil
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

// cleanText makes text that comes from no form (an audit field, the name
// of whoever acts) storable and harmless, instead of refusing it: Postgres
// TEXT refuses invalid UTF-8 and NUL, an audit event must not fail (its
// caller fails closed) because a header carried garbage, and no control,
// bidi or invisible format character (safetext.Unsafe) may reach an
// operator's terminal. Each becomes U+FFFD, as does a run of invalid bytes.
func cleanText(s string) string {
	if utf8.ValidString(s) && !safetext.Contains(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if safetext.Unsafe(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
}
