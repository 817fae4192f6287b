// Package middleware is keyportal's Gin face: the guarded ticket route that
// lets a signed-in user open the API-key portal for a resource of their tenant,
// an Authorize guard for any other route, and security headers for the app's
// own pages.
//
// The ticket route runs its checks in a fixed order, each failure answered
// with its own status and audited with its own reason:
//
//	content type (415) and size (413), one strict JSON object (400)
//	→ same-origin check: Origin and Sec-Fetch-Site (403, cross_site)
//	→ Identify (401)
//	→ input shape: the id's presence, charset and length (400)
//	→ tenant status and the policy decision (403, the decider's reason)
//	→ per-user rate limit (429 + Retry-After)
//	→ Issuer.Issue with a deadline (503 unavailable, 502 failed, 403 rejected)
//
// On success it answers 200 {"ticket","expires_at","url"}; every answer,
// refusals included, carries Cache-Control: no-store. Every attempt that gets
// past Identify leaves exactly one audit event in the log (and in the
// optional audit.Auditor); the refusals before it, which anyone can send, are
// counted in the metrics and logged at most a few times a minute per client
// IP, not audited. The ticket itself is never logged, only its fingerprint.
//
// # Client IP behind proxies
//
// The client_ip of audit events, logs and RequireAPIKey's per-IP rate limits
// (ratelimit.ScopeIP) is the client's address as the gin engine sees it
// (gin's Context.ClientIP): the X-Forwarded-For or X-Real-IP a proxy sent,
// when the engine trusts that proxy, else the connection's address. Name
// your proxies, or none, before serving:
//
//	engine.SetTrustedProxies([]string{"10.0.0.0/8"}) // your load balancers
//	engine.SetTrustedProxies(nil)                     // no proxy in front
//
// Gin's default is to trust every address, which lets any client claim any
// IP. keyportal does not follow it: on an engine that still trusts every
// address it ignores those headers, uses the connection's address, and logs
// one warning that names the fix.
package middleware
