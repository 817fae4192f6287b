// Package portal is keyportal's self-hosted key portal: the local ticket
// issuer, the ticket exchange, page sessions, the key-management page and its
// JSON API, mountable on any Gin engine or group.
//
// # Flow
//
// The app's ticket route calls the local issuer (Portal.Issuer), which checks
// the app (creating it on the first ticket the route authorized for it,
// unless Config.NoProvision) and seals a ticket bound to app, tenant, user
// and embedder origin.
// The shell frames BaseURL + "/vanity/api-auth?ticket=…". The page removes the
// ticket from the address bar, exchanges it once (POST …/exchange) for a page
// session token that it keeps in memory only, and calls the JSON API under
// …/api with "Authorization: Bearer <session>". When the session ends it posts
// keyportal:session_expired to the embedder, which answers with a fresh
// ticket by keyportal:ticket; the page exchanges it in place.
//
// # Routes
//
// Under PagePath ("/vanity/api-auth"), on whatever engine or group Mount gets:
//
//	GET  /vanity/api-auth?ticket=…         the page (CSP frame-ancestors = the app's origins)
//	GET  /vanity/api-auth/portal.js|.css   its script and stylesheet
//	POST /vanity/api-auth/exchange         {"ticket", "previous_session"?} → a page session
//	GET  /vanity/api-auth/api/session      what the session is for
//	GET  /vanity/api-auth/api/keys?status=active|revoked|expired|all&limit=&cursor=
//	                                       → {"keys", "next_cursor"}, newest first
//	POST /vanity/api-auth/api/keys         {"name", "expires_at"?} → 201 {"key", "secret"}
//	POST /vanity/api-auth/api/keys/:id/rotate   {"grace": "0"|"1h"|"24h"|"7d"} → {"key", "secret", "old_key" (null if unreadable)}
//	POST /vanity/api-auth/api/keys/:id/revoke   {"reason"?} → {"key"}
//	GET  /vanity/api-auth/api/activity?cursor=&limit=   the app's audit events, newest first
//	GET  /vanity/api-auth/api/overview?from=&to=   the app's recorded verifications (Config.Access):
//	                                       totals, a bar a UTC day, blocked reasons, its rate limits
//	GET  /vanity/api-auth/api/access?from=&to=&outcome=all|allowed|blocked&cursor=
//	                                       → {"recorded", "events", "next_cursor"}, 25 a page, newest first
//
// The API wants "Authorization: Bearer <session>", and re-checks on every call
// that the app is still usable, still the session's tenant's, and still allows
// the session's origin. Bodies are strict JSON objects of at most 16 KiB.
// Errors are {"error": {"code", "message"}}; every answer is Cache-Control:
// no-store. A 401 code says what the page tells the shell: session_expired
// (reason ttl), revoked (reason revoked) or session_invalid.
//
// # Limits
//
// Lists come in pages: limit is 1 to 200 (default 50), and cursor is the
// next_cursor of the page before ("" on the last page); a bad limit or a
// cursor the portal did not issue is 400. Keys are paged newest first by
// (created_at, id), so that following the cursors lists each key once
// while keys are created or revoked meanwhile; the page shows the first
// page and a "Load more" button. The Overview and Access logs ranges are
// whole UTC days, from and to (YYYY-MM-DD, both included; default the last 7
// days, at most 92).
//
// Key changes (create, rotate, revoke) are limited per user and app
// (Config.ChangeRate, ChangeBurst: 30 a minute, 10 at once by default):
// beyond it, 429 rate_limited with Retry-After and a message the page shows.
// The store caps each app's active keys (keystore.Options.MaxActiveKeys, 100
// by default): a create beyond it is 409 key_limit, whose message names the
// cap; rotation is never refused by the cap.
//
// # Tickets and sessions
//
// Both are sealed with AES-256-GCM under keys kept in the store
// (Store.Secret "ticket-key" and "portal-session-key"), so every instance
// sharing a store opens what any other sealed, and nothing but the sealed
// value needs to travel. A ticket carries a 128-bit random id; the exchange
// consumes sha256(id) in the store, atomically, so a ticket works once.
// Neither a ticket nor a session token is ever stored or logged: logs and
// audit events carry ticket.Fingerprint only.
//
// # The embedder origin
//
// The page must know the embedder's origin before its first exchange, so that
// it can post keyportal:ready and keyportal:session_expired with an exact
// targetOrigin even when that exchange fails. The server opens the ticket's
// sealed claims (without consuming it) and renders the origin in the page as
// data-origin; the same origin is returned by the exchange and bound in the
// session. A ticket that cannot be opened yields an error page with
// frame-ancestors 'none' and no origin: it cannot be framed, so it posts
// nothing, and the shell's own load timeout takes over.
package portal
