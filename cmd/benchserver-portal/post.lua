-- One ticket request by alice (owner in tenant acme) for deployment 42, from
-- the allowed embedder origin.
wrk.method = "POST"
wrk.body   = '{"deploymentId":"42"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "http://127.0.0.1:8080"
wrk.headers["X-User"] = "alice"
wrk.headers["X-Tenant"] = "acme"
