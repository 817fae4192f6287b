// Package wachtapi serves the subset of Wacht's backend API that keyportal's
// self-hosted portal implements, with Wacht's paths, fields, status codes and
// error shape, so that middleware/wacht (and Wacht's own SDKs) work against
// keyportal by changing only the base URL:
//
//	POST   /session/tickets
//	GET    /api-auth/apps                          ?include_inactive=true
//	POST   /api-auth/apps
//	GET    /api-auth/apps/{slug}
//	PATCH  /api-auth/apps/{slug}
//	DELETE /api-auth/apps/{slug}                   (soft: deleted_at)
//	GET    /api-auth/apps/{slug}/keys              ?include_inactive=true&limit=&cursor=
//	POST   /api-auth/apps/{slug}/keys              (at the cap on active keys: 409)
//	POST   /api-auth/apps/{slug}/keys/{id}/rotate
//	POST   /api-auth/apps/{slug}/keys/{id}/revoke  (already inactive: 404)
//	GET    /api-auth/apps/{slug}/audit/logs        verifications; cursor paging, limit ≤ 1000
//	GET    /api-auth/apps/{slug}/audit/analytics   totals, top lists on request (top_limit ≤ 50)
//	GET    /api-auth/apps/{slug}/audit/timeseries  interval minute|hour|day|week|month
//	GET    /api-auth/apps/{slug}/audit/events      key lifecycle and tickets (extension)
//	POST   /v1/authz/check
//	GET    /api-auth/rate-limit-schemes            {"schemes": [...]}
//	POST   /api-auth/rate-limit-schemes
//	GET    /api-auth/rate-limit-schemes/{slug}
//	PATCH  /api-auth/rate-limit-schemes/{slug}
//	DELETE /api-auth/rate-limit-schemes/{slug}     (named by an app: 409)
//
// Every request carries "Authorization: Bearer <backend API key>"; several
// keys may be configured (to rotate them), and they are compared in constant
// time over their SHA-256, so neither content nor length leaks. A missing or
// wrong key gets 401 and changes nothing. Errors are
// {"errors":[{"message": "...", "code": <status>}]}. Responses are
// "Cache-Control: no-store": some carry secrets.
//
// # How Wacht's fields map to keyportal
//
// Wacht has no tenant; keyportal binds every app to one. The mapping:
//
//   - Tenant = organization_id. POST /api-auth/apps takes the app's tenant
//     from organization_id (or Config.DefaultTenant when absent; with
//     neither, 400). Apps and keys answer with organization_id = tenant.
//     GET /api-auth/apps?organization_id=acme lists one tenant's apps.
//     user_id and workspace_id are accepted and ignored.
//   - deployment_id: Wacht derives it from the backend API key; keyportal
//     takes the extension field deployment_id on app creation, else the
//     part after "aa_" of an app_slug of the form aa_<deploymentId> (the
//     guide's convention), else none. It cannot change: a PATCH naming
//     another deployment_id is 400.
//   - allowed_origins (extension): the origins that may frame the app's
//     portal page (frame-ancestors) and receive its messages. Set on create
//     and PATCH; answered on every app.
//   - messages (extension): the app's texts of the portal page, an object
//     by key (portal.Messages's json names, "lang" their language). Set on
//     create and PATCH ({} removes them); an unknown key or a text the page
//     may not show is 400; answered on every app that has some.
//   - is_active on create (extension): an app is created active, so true
//     is accepted and false is 400 (PATCH is_active false disables it).
//   - POST /session/tickets: the ticket's tenant is the app's tenant; its
//     user is user_id (at most 128 characters, one line without control,
//     bidi or invisible characters, else 400), or "backend-api" when absent
//     (Wacht's guide sends none); its embedder origin is the extension
//     field embedder_origin, which must be one of the app's
//     allowed_origins, else the app's first allowed origin; an app without
//     allowed_origins cannot be embedded, so its tickets are refused with
//     400. expires_in is clamped by the portal
//     (default 2 minutes, at most 10). With Config.Tenants, an app whose
//     tenant is suspended or deleted gets 403 and no ticket.
//   - Rotation: Wacht ends the old key at once; so does keyportal, unless
//     the body carries the extension field grace_period_seconds (at most 30
//     days), which keeps the old key working until then (grace_until).
//   - Key lists are paged (extension). Wacht answers {"keys": [...]};
//     keyportal keeps that member and adds those of Wacht's paginated lists
//     and of its audit logs: {"keys", "limit", "has_more", "next_cursor"}.
//     limit is 1..1000 (default 100, keystore.DefaultKeyLimit: an app's
//     active keys at the default cap fit one page); cursor is the
//     next_cursor of the page before; a bad limit or cursor is 400, and so
//     is Wacht's offset, cursor_ts or cursor_id, as on /audit/logs. Pages
//     are newest first by (created_at, id), so following next_cursor lists
//     each key once while keys are created or revoked meanwhile. A client
//     that ignores has_more gets the first page only; middleware/wacht's
//     ListKeys follows the pages.
//   - The store caps each app's active keys (keystore.Options.MaxActiveKeys;
//     serve's --max-active-keys): POST …/keys beyond it is 409 with a
//     message naming the cap. Rotation replaces a key one for one and is
//     never refused by the cap.
//   - Keys answer Wacht's fields plus created_by, rotated_from,
//     grace_until and status (active, revoked, expired) as extensions. A
//     key with its secret (create, rotate) carries the flat key fields, the
//     secret, and the same key again under "key", so readers of either
//     Wacht shape find it.
//   - Audit logs, analytics and time series are the verification log:
//     every decision of middleware.RequireAPIKey and of POST /v1/authz/check
//     (Config.AccessLog records them), as Wacht logs its gateway's checks.
//     /audit/logs answers Wacht's fields (request_id, deployment_id,
//     app_slug, key_id, key_name, outcome, blocked_by_rule, client_ip,
//     path, user_agent, rate_limits, timestamp) plus method, latency_ms and
//     organization_id; filters outcome (allowed, blocked), key_id,
//     start_date, end_date (RFC 3339 or 2006-01-02); Wacht's offset,
//     cursor_ts and cursor_id are refused (400): page with cursor.
//     /audit/analytics answers total_requests, allowed_requests,
//     blocked_requests, success_rate (percent), keys_used_24h and the
//     extension shed_events (verifications not recorded under overload);
//     include_top_keys, include_top_paths, include_blocked_reasons and
//     include_rate_limits add top_keys, top_paths, blocked_reasons and
//     rate_limit_stats, each of top_limit rows (1..50, default 10).
//     /audit/timeseries answers {data: [{timestamp, total_requests,
//     allowed_requests, blocked_requests, success_rate}], interval}, one
//     point per interval (UTC; weeks from Monday) from start_date (default:
//     7 days before end_date, default now) to end_date, empty ones
//     included; key_id restricts both. A store without a verification log
//     answers 501.
//   - /audit/events (extension) is keyportal's audit trail of the app: the
//     key lifecycle (key.created, key.rotated, key.revoked, app.*,
//     ticket.*), in the entry shape of /audit/logs plus id, action, actor,
//     organization_id, reason and detail. Filters: start_date, end_date,
//     key_id, outcome, and action (e.g. "key." for every key event); paged
//     with cursor, offset, cursor_ts and cursor_id refused as on /audit/logs.
//   - POST /v1/authz/check verifies with the same code as
//     middleware.RequireAPIKey (package apikey) and agrees with it on every
//     case: valid → 200 allowed; valid without a required permission → 200
//     allowed=false, reason "permission_denied"; any invalid key → 401 with
//     allowed=false (Wacht's gateway does the same). The extension field
//     detail names keyportal's reason (revoked, expired, app_inactive...).
//     Config.RateLimits, and the rules of the key's app (its
//     rate_limit_scheme_slug's scheme, its own rate_limits), are counted
//     for allowed keys as RequireAPIKey counts them (ratelimit.Decide,
//     endpoints matched against resource): over one, allowed=false, reason
//     "rate_limited", blocked_rule (the rule's name, "<scheme>[i]" or
//     "rate_limits[i]"), retry_after, rate_limits and headers.
//   - Rate-limit schemes and apps' rate_limits take Wacht's rules
//     (ratelimit.SchemeRule: unit, duration, max_requests, mode,
//     endpoints, priority), each field checked (400 naming it). An app may
//     name only an existing scheme (else 400); a scheme named by an app
//     that is not deleted cannot be deleted (409 naming the apps).
//   - Unsupported inputs are refused with 400 rather than dropped: a
//     changed key_prefix, organization_id or deployment_id in PATCH, a scheme's changed
//     slug, membership ids on keys, ticket types other than
//     api_auth_access.
package wachtapi
