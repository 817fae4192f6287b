package apikey

import (
	"context"
	"time"
)

// Request is one presented key and the request it came with, as a verifier
// that judges whole requests (a remote gateway, such as Wacht's
// /v1/authz/check) needs it.
type Request struct {
	// Secret is the presented key; empty when none was presented.
	Secret string
	// Required are the permissions the key must all hold.
	Required []string
	// Method, Path, ClientIP and UserAgent describe the request, for the
	// gateway's rules, rate limits and audit. The local Verifier ignores
	// them.
	Method, Path, ClientIP, UserAgent string
}

// Verdict is a verifier's answer to a Request beyond the error: who the key
// is, and the rate-limit state of a verifier that counts limits itself.
type Verdict struct {
	// Identity is the key's identity: set when the key is valid (also with
	// ErrPermissionDenied), nil otherwise.
	Identity *Identity
	// Headers are response headers the verifier asks to be set on the
	// answer, such as RateLimit-Limit, RateLimit-Remaining and
	// RateLimit-Reset from a gateway's check; nil for none.
	Headers map[string]string
	// RetryAfter, when positive, means the key is over a rate limit the
	// verifier counts: the request is refused with 429 and Retry-After.
	RetryAfter time.Duration
}

// VerifyRequest is Verify for a Request, so that a Verifier and a remote
// gateway's verifier can stand behind the same guard
// (middleware.KeyVerifier). It reports no headers and no rate limit: the
// guard counts its own.
func (v *Verifier) VerifyRequest(ctx context.Context, req Request) (Verdict, error) {
	id, err := v.Verify(ctx, req.Secret, req.Required)
	return Verdict{Identity: id}, err
}
