// Calls Wacht's own backend SDK (@wacht/backend) against a base URL and
// prints what it read as one JSON object: the compatibility check of
// keyportal's Wacht-compatible backend API (see RunWachtSDK in jstest.go).
//
//   node wacht_sdk.mjs <baseURL> <backend API key> <app slug>
import { WachtClient } from "@wacht/backend";

const [baseUrl, apiKey, app] = process.argv.slice(2);
const client = new WachtClient({ baseUrl, apiKey });
const out = {};
try {
  // The SDK binds the client as the last argument: pass the options always.
  const first = await client.apiKeys.getApiAuditLogs(app, { limit: 5 });
  const second = await client.apiKeys.getApiAuditLogs(app, { limit: 5, cursor: first.next_cursor });
  const blocked = await client.apiKeys.getApiAuditLogs(app, { outcome: "blocked", limit: 1000 });
  out.logs = { first, second, blocked };
  out.analytics = await client.apiKeys.getApiAuditAnalytics(app, {
    include_top_keys: true, include_top_paths: true, include_blocked_reasons: true, include_rate_limits: true, top_limit: 3,
  });
  out.timeseries = await client.apiKeys.getApiAuditTimeseries(app, { interval: "hour" });
} catch (err) {
  out.error = String(err && err.stack || err);
}
process.stdout.write(JSON.stringify(out));
