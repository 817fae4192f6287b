package wacht

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Sentinel errors, usable with errors.Is on any error a Client returns.
var (
	// ErrUnauthorized means Wacht refused the backend API key (401) or the
	// key may not do this (403). It never stands for an API key that a
	// gateway check refused: Check answers that as a CheckResponse with
	// Allowed false.
	ErrUnauthorized = errors.New("wacht: unauthorized")
	// ErrBadRequest means the request was refused as invalid (400, 422), or
	// was invalid before being sent (an empty slug, a missing field).
	ErrBadRequest = errors.New("wacht: bad request")
	// ErrNotFound means the app or key does not exist (404); Wacht also
	// answers 404 when revoking a key that is already inactive.
	ErrNotFound = errors.New("wacht: not found")
	// ErrConflict means the app already exists, or (keyportal) the app
	// already has as many active keys as its server allows (409).
	ErrConflict = errors.New("wacht: conflict")
	// ErrRateLimited means Wacht asked to slow down (429); see
	// APIError.RetryAfter.
	ErrRateLimited = errors.New("wacht: rate limited")
	// ErrUnavailable means no answer came: the connection failed, the call
	// timed out or was cancelled, or Wacht answered 503.
	ErrUnavailable = errors.New("wacht: unavailable")
	// ErrServer means Wacht failed with a 5xx status other than 503.
	ErrServer = errors.New("wacht: server error")
	// ErrInvalidResponse means a success status came with a body that is not
	// the contract: not JSON, truncated, too large, or missing what the call
	// returns (a ticket, an app slug, a key id, a secret).
	ErrInvalidResponse = errors.New("wacht: invalid response")
)

// APIError is an error status from the API, with the messages of Wacht's error
// body {"errors": [{"message": string, "code": int}]}.
type APIError struct {
	// Method and Path name the call ("POST", "/session/tickets").
	Method string
	Path   string
	// Status is the HTTP status code.
	Status int
	// Messages are the "message" fields of the error body, or a short,
	// printable excerpt of a body that was not in Wacht's shape. The API
	// key is removed from them.
	Messages []string
	// Code is the "code" field of the first error (0 when absent).
	Code int
	// RetryAfter is the delay from the Retry-After header (0 when absent).
	RetryAfter time.Duration
}

// Error returns "wacht: METHOD PATH: STATUS TEXT: messages".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("wacht: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.Status))
	if t := http.StatusText(e.Status); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	if len(e.Messages) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Messages, "; "))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is matches the sentinel error of e's status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable
	case ErrServer:
		return e.Status >= 500 && e.Status != http.StatusServiceUnavailable
	}
	return false
}

// InvalidResponseError is a success status with a body that is not the
// contract. It matches ErrInvalidResponse.
type InvalidResponseError struct {
	// Op names the call ("POST /session/tickets").
	Op string
	// Status is the HTTP status code of the response.
	Status int
	// Reason says what is wrong, never quoting secrets or tickets.
	Reason string
}

// Error returns "wacht: OP: invalid response (STATUS): reason".
func (e *InvalidResponseError) Error() string {
	return fmt.Sprintf("wacht: %s: invalid response (%d): %s", e.Op, e.Status, e.Reason)
}

// Is matches ErrInvalidResponse.
func (e *InvalidResponseError) Is(target error) bool { return target == ErrInvalidResponse }

// unavailableError is a call that got no response. It matches ErrUnavailable
// and unwraps to the transport's error (context.DeadlineExceeded and
// context.Canceled among them).
type unavailableError struct {
	op  string
	err error
}

func (e *unavailableError) Error() string { return "wacht: " + e.op + ": " + e.err.Error() }
func (e *unavailableError) Unwrap() []error {
	return []error{ErrUnavailable, e.err}
}

// inputError is a request refused before it was sent. It matches
// ErrBadRequest.
type inputError struct{ msg string }

func (e *inputError) Error() string        { return "wacht: " + e.msg }
func (e *inputError) Is(target error) bool { return target == ErrBadRequest }

// errorBody is Wacht's error shape, plus the shapes of simpler servers (such
// as {"error": "..."}), so their messages are not lost.
type errorBody struct {
	Errors []struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	} `json:"errors"`
	Error   json.RawMessage `json:"error"`
	Message string          `json:"message"`
}

const (
	maxMessages   = 5
	maxMessageLen = 300
)

func (c *Client) apiError(resp *http.Response, data []byte, k call) *APIError {
	e := &APIError{Method: k.method, Path: k.path, Status: resp.StatusCode}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		e.RetryAfter = parseRetryAfter(ra, time.Now())
	}
	var eb errorBody
	if json.Unmarshal(data, &eb) == nil {
		for i, m := range eb.Errors {
			if i == 0 {
				e.Code = m.Code
			}
			if m.Message != "" && len(e.Messages) < maxMessages {
				e.Messages = append(e.Messages, c.clean(m.Message, k.secrets))
			}
		}
		if len(e.Messages) == 0 {
			var s string
			var o struct {
				Message string `json:"message"`
			}
			switch {
			case len(eb.Error) > 0 && json.Unmarshal(eb.Error, &s) == nil && s != "":
				e.Messages = []string{c.clean(s, k.secrets)}
			case len(eb.Error) > 0 && json.Unmarshal(eb.Error, &o) == nil && o.Message != "":
				e.Messages = []string{c.clean(o.Message, k.secrets)}
			case eb.Message != "":
				e.Messages = []string{c.clean(eb.Message, k.secrets)}
			}
		}
		return e
	}
	if s := strings.TrimSpace(string(data)); s != "" {
		e.Messages = []string{c.clean(s, k.secrets)}
	}
	return e
}

// clean makes a server-supplied message safe to print: no secrets, no control
// characters, bounded length.
func (c *Client) clean(s string, secrets []string) string {
	s = c.redact(s, secrets)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxMessageLen {
		cut := maxMessageLen
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}
