// Package wacht is a client for Wacht's backend API: session tickets, API auth
// apps, API keys, the gateway check and the per-app audit logs. keyportal's
// self-hosted portal serves the same API, so the same client works against
// the hosted service and the portal by changing BaseURL.
//
// A *Client implements ticket.Issuer, so the ticket route can hand out
// tickets for Wacht's hosted portal page.
//
// A Client sends with net/http: by default over a transport of its own (a
// keep-alive pool sized for a gateway that sends every ticket request to one
// host, HTTP/2 when the server offers it, the proxy from the environment), or
// over Config.HTTPClient when one is given.
//
// Every call is bounded by Config.Timeout and retried at most once, and only
// when the request provably never left this process: the transport failed
// before it began writing the request (httptrace's WroteRequest never fired),
// as when the dial is refused. A timeout or a cancelled context is never
// retried. (net/http itself may resend on another connection when a reused
// idle one was found closed before anything was written; that is equally
// safe.) Errors can be classified with errors.Is against the sentinel errors
// of this package; status errors are *APIError. No error string ever contains
// the backend API key.
package wacht

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyportal/keyportal/internal/jsonx"
)

// Defaults applied to zero fields of Config.
const (
	// DefaultBaseURL is Wacht's hosted backend API.
	DefaultBaseURL = "https://api.wacht.dev"
	// DefaultTimeout bounds one call, including its retry.
	DefaultTimeout = 5 * time.Second
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "keyportal-wacht/1"
)

// maxBodyBytes caps what is read of any response body.
const maxBodyBytes = 1 << 20

// Config configures a Client. The zero value of every field but APIKey means
// its default.
type Config struct {
	// APIKey is the backend API key sent as "Authorization: Bearer <key>".
	// Required. It never appears in an error message.
	APIKey string

	// BaseURL is the API root: an absolute http or https URL, optionally with
	// a path prefix where the API is mounted under one. keyportal's own
	// Wacht-compatible API (keyportal serve, the Acme demo's portal) answers
	// at its server's root, e.g. "http://localhost:8081". No query, fragment
	// or credentials. Default DefaultBaseURL.
	BaseURL string

	// HTTPClient sends the requests. Default: a client of the Client's own
	// over an http.Transport with a keep-alive pool for one busy host (up to
	// 128 idle connections, each closed after 90 s idle), dial, TLS-handshake
	// and response-header timeouts, HTTP/2 when the server offers it and the
	// proxy from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY),
	// following no redirects. A caller-supplied client is used as is.
	HTTPClient *http.Client

	// Timeout bounds each call from the first dial to the last byte of the
	// response, retry included. Default DefaultTimeout; the caller's context
	// may end it sooner.
	Timeout time.Duration

	// UserAgent is sent as the User-Agent header. Default DefaultUserAgent.
	UserAgent string
}

// Client calls Wacht's backend API. It is safe for concurrent use.
type Client struct {
	apiKey    string
	auth      string // "Bearer " + apiKey, built once
	base      string // BaseURL without a trailing slash
	http      *http.Client
	ownHTTP   bool // http was built by New, so CloseIdleConnections may close it
	timeout   time.Duration
	userAgent string
}

// New returns a Client for cfg, or an error starting with "wacht: " when cfg
// is unusable.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("wacht: Config.APIKey is required")
	}
	if strings.ContainsAny(cfg.APIKey, "\r\n\t ") {
		return nil, errors.New("wacht: Config.APIKey contains whitespace")
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("wacht: Config.Timeout must not be negative, got %s", cfg.Timeout)
	}
	c := &Client{
		apiKey:    cfg.APIKey,
		auth:      "Bearer " + cfg.APIKey,
		base:      base,
		http:      cfg.HTTPClient,
		timeout:   cmp.Or(cfg.Timeout, DefaultTimeout),
		userAgent: cmp.Or(cfg.UserAgent, DefaultUserAgent),
	}
	if c.http == nil {
		c.http = defaultHTTPClient()
		c.ownHTTP = true
	}
	return c, nil
}

func parseBaseURL(raw string) (string, error) {
	if raw == "" {
		return DefaultBaseURL, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("wacht: Config.BaseURL %q is not a URL", raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("wacht: Config.BaseURL %q must be an absolute http or https URL", raw)
	case u.Host == "":
		return "", fmt.Errorf("wacht: Config.BaseURL %q has no host", raw)
	case u.User != nil:
		return "", errors.New("wacht: Config.BaseURL must not carry credentials; use Config.APIKey")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("wacht: Config.BaseURL %q must not have a query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// defaultHTTPClient is the client New builds when Config.HTTPClient is nil.
func defaultHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			ExpectContinueTimeout: time.Second,
			MaxIdleConns:          256,
			// The ticket route talks to one host; keep enough warm
			// connections for bursts instead of redialing.
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     90 * time.Second,
		},
		// A redirect from the API is not part of the contract: surface it
		// as an unexpected status rather than re-sending the request.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CloseIdleConnections closes the idle keep-alive connections of the client's
// own transport. It does nothing to a Config.HTTPClient supplied by the
// caller.
func (c *Client) CloseIdleConnections() {
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
}

// call is one API call: what to send and where to put the answer.
type call struct {
	method string
	path   string     // already escaped, starting with "/"
	query  url.Values // may be nil
	in     any        // request body, JSON-encoded; nil for none
	out    any        // decoded from a 2xx body; nil to ignore the body
	// secrets are extra strings (besides the API key) that must never
	// appear in an error, such as a key secret being checked.
	secrets []string
	// answer, when set, is offered the body of an error status first; it
	// reports whether the body was the call's answer after all (the
	// gateway's verdict on a refused key), decoded into out.
	answer func(status int, header http.Header, data []byte) bool
	// refused, when set, is why the call may not be made (a path segment
	// or a field the caller got wrong); exec returns it and sends nothing.
	refused error
}

func (c call) op() string { return c.method + " " + c.path }

// at returns k aimed at path, refused with err when the path could not be
// built: call{...}.at(appPath(slug, "/keys")).
func (k call) at(path string, err error) call {
	k.path = path
	return k.refuse(err)
}

// refuse returns k refused with err, unless err is nil or k is refused
// already (the first reason stands).
func (k call) refuse(err error) call {
	if k.refused == nil {
		k.refused = err
	}
	return k
}

// exec makes the call k unless it is refused.
func (c *Client) exec(ctx context.Context, k call) error {
	if k.refused != nil {
		return k.refused
	}
	return c.do(ctx, k)
}

// fetch makes the call k and returns its answer, decoded into a T (and
// checked by T's validate method when it has one).
func fetch[T any](ctx context.Context, c *Client, k call) (T, error) {
	var out T
	k.out = &out
	err := c.exec(ctx, k)
	return out, err
}

// field is a request field that must not be empty.
type field struct{ name, value string }

// required refuses the request of op when a field is empty, naming the
// first ("CreateApp: Name is required"); it returns nil when none is.
func required(op string, fields ...field) error {
	for _, f := range fields {
		if f.value == "" {
			return &inputError{msg: op + ": " + f.name + " is required"}
		}
	}
	return nil
}

// do runs one call: encode, send (retrying once if nothing was written),
// then turn the response into out or an error.
func (c *Client) do(ctx context.Context, k call) error {
	var body []byte
	if k.in != nil {
		b, err := json.Marshal(k.in)
		if err != nil {
			return fmt.Errorf("wacht: %s: encode request: %w", k.op(), err)
		}
		body = b
	}
	target := c.base + k.path
	if len(k.query) > 0 {
		target += "?" + k.query.Encode()
	}

	// Bound the call by Config.Timeout, unless the caller's deadline comes
	// first anyway (the ticket route's does): then a second timer would
	// only cost.
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > c.timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}

	var resp *http.Response
	for attempt := 0; ; attempt++ {
		var wrote bool
		var err error
		if resp, wrote, err = c.send(ctx, k.method, target, body); err == nil {
			break
		}
		if attempt == 0 && !wrote && retryable(ctx, err) {
			continue
		}
		return &unavailableError{op: k.op(), err: c.redactErr(err, k.secrets)}
	}
	defer resp.Body.Close()
	return c.read(ctx, resp, k)
}

// send makes one attempt at target (an absolute URL). wrote reports whether
// the transport began writing the request, after which the server may have
// seen it and it must not be sent again.
func (c *Client) send(ctx context.Context, method, target string, body []byte) (*http.Response, bool, error) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		// Called (with or without an error) once the transport started
		// writing this request to a connection; never before.
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, target, rd)
	if err != nil {
		// Only a programming error (bad method or path) gets here; nothing
		// was sent, but retrying would fail the same way.
		return nil, true, err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	return resp, wrote.Load(), err
}

// retryable reports whether a failure to get a response may be retried: not a
// timeout and not a cancelled context (both mean the caller's time is up), and
// the caller has checked that nothing was written.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true
}

// read turns a response into k.out or an error.
func (c *Client) read(ctx context.Context, resp *http.Response, k call) error {
	data, err := readBody(resp.Body, resp.ContentLength)
	if err == nil && len(data) > maxBodyBytes {
		// Let the connection be reused when the body was not read to its end.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if err == nil && len(data) <= maxBodyBytes && k.answer != nil && k.answer(resp.StatusCode, resp.Header, data) {
			return nil
		}
		// The status is the answer; a cut or oversized error body only
		// costs its messages.
		return c.apiError(resp, data, k)
	}
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return &unavailableError{op: k.op(), err: fmt.Errorf("reading response: %w", c.redactErr(err, k.secrets))}
		}
		return &InvalidResponseError{Op: k.op(), Status: resp.StatusCode, Reason: "response body cut short: " + c.redact(err.Error(), k.secrets)}
	}
	if len(data) > maxBodyBytes {
		return &InvalidResponseError{Op: k.op(), Status: resp.StatusCode, Reason: "response body over 1 MiB"}
	}
	if k.out == nil {
		return nil
	}
	// Wacht may add fields: a client must not break on them.
	if err := jsonx.Decode(data, k.out, true); err != nil {
		return &InvalidResponseError{Op: k.op(), Status: resp.StatusCode, Reason: "body is not the expected JSON: " + jsonx.Describe(err)}
	}
	if v, ok := k.out.(validator); ok {
		if problem := v.validate(); problem != "" {
			return &InvalidResponseError{Op: k.op(), Status: resp.StatusCode, Reason: problem}
		}
	}
	return nil
}

// readBody reads r to its end, or to the first byte past maxBodyBytes,
// like io.ReadAll(io.LimitReader(r, maxBodyBytes+1)) but in one buffer of the
// declared length (when there is one) instead of a growing one.
func readBody(r io.Reader, length int64) ([]byte, error) {
	size := 512
	if length >= 0 && length <= maxBodyBytes {
		size = int(length) + 1 // room to see EOF without growing
	}
	b := make([]byte, 0, size)
	for len(b) <= maxBodyBytes {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow
		}
		n, err := r.Read(b[len(b):min(cap(b), maxBodyBytes+1)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// validator is implemented by response shapes that check themselves after
// decoding; validate returns "" or what is wrong (never a secret).
type validator interface{ validate() string }

// redact removes the API key and any call secrets from s.
func (c *Client) redact(s string, secrets []string) string {
	s = strings.ReplaceAll(s, c.apiKey, "[redacted]")
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// redactErr returns err unchanged unless its message holds a secret; then an
// error with the redacted message that still unwraps to err.
func (c *Client) redactErr(err error, secrets []string) error {
	msg := err.Error()
	if red := c.redact(msg, secrets); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// pathSegment escapes one path segment (an app slug or key id), refusing the
// empty string and dot segments, which would name another endpoint.
func pathSegment(what, v string) (string, error) {
	if v == "" || v == "." || v == ".." {
		return "", &inputError{msg: fmt.Sprintf("%s %q is not a valid path segment", what, v)}
	}
	return url.PathEscape(v), nil
}
