-- A browser's ticket request as a page of the same origin sends it: the
-- Express peer's (post.lua in the peers' directory, $PEERS) plus Origin and
-- Sec-Fetch-Site. Arguments after wrk's "--" change what it asks, in this
-- order: the deployment id (31), the user (admin-3), the tenant sent as
-- X-Tenant (none) and the origin (cmd/benchserver's own,
-- http://127.0.0.1:3001); cmd/benchserver-portal takes
-- "-- 42 alice acme http://127.0.0.1:8080".
function init(args)
  wrk.method = "POST"
  wrk.body   = '{"deploymentId":"' .. (args[1] or "31") .. '"}'
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-User"] = args[2] or "admin-3"
  wrk.headers["X-Tenant"] = args[3]
  wrk.headers["Origin"] = args[4] or "http://127.0.0.1:3001"
  wrk.headers["Sec-Fetch-Site"] = "same-origin"
end
