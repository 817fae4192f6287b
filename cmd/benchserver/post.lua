-- The Express peer's request (post.lua in the peers' directory, $PEERS) as a
-- browser page of the same origin sends it: plus Origin and Sec-Fetch-Site.
wrk.method = "POST"
wrk.body   = '{"deploymentId":"31"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-User"] = "admin-3"
wrk.headers["Origin"] = "http://127.0.0.1:3001"
wrk.headers["Sec-Fetch-Site"] = "same-origin"
