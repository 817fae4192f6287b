// keyportal eager ticket request: starts the first ticket request while the
// WebAssembly shell is still downloading, so the time to the iframe is the
// slower of the two rather than their sum. Served as a same-origin file (no
// inline script, for CSP) and loaded with defer, after the prerendered shell
// markup is parsed. The shell adopts window.keyportalTicketRequest once.
(function () {
  "use strict";
  var el = document.querySelector("[data-keyportal-resource]");
  if (!el || typeof fetch !== "function") return;
  var path = el.getAttribute("data-keyportal-ticket-path");
  var field = el.getAttribute("data-keyportal-field");
  var resource = el.getAttribute("data-keyportal-resource");
  if (!path || !field || !resource) return;
  var body = {};
  body[field] = resource;
  var promise = fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body)
  }).then(function (r) {
    return r.text().then(function (text) {
      return {
        status: r.status,
        retryAfter: r.headers.get("Retry-After"),
        date: r.headers.get("Date"),
        body: text
      };
    });
  });
  // An unadopted rejection must not be reported as unhandled; the shell
  // attaches its own handlers when it adopts the promise.
  promise.catch(function () {});
  window.keyportalTicketRequest = {
    path: path,
    field: field,
    resource: resource,
    promise: promise
  };
})();
