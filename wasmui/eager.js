// keyportal eager script: starts the first ticket request while the
// WebAssembly shell is still downloading and, when a ticket comes back,
// shows the portal at once, so the time to the iframe is the ticket's alone.
//
// Served as a same-origin file (no inline script, for CSP). middleware/shell
// loads it first in the head with the shell's settings as data- attributes
// on the script element; without them (loaded some other way, e.g. defer)
// it reads them from the prerendered shell element.
//
// It leaves window.keyportalTicketRequest (wasmui.EagerGlobal) for the
// shell, which adopts it once:
//   path, field, resource  what was requested;
//   promise                resolves to {status, retryAfter, date, body};
//   frame, origin          the iframe it inserted for a 200 (or null) and
//                          the portal origin its messages must come from;
//   settled                resolves when the script is done with the
//                          response (the frame shown, or nothing to show):
//                          the wasm waits for it before Go takes the main
//                          thread, so Go's start does not delay the portal;
//   listening              whether it still queues the frame's messages;
//   adopt()                the shell takes the frame: returns the queued
//                          messages and stops listening;
//   discard()              the shell does not want it: removes the frame.
// Anything but a usable 200 (401, 403, 429, failures) is left to the shell,
// which renders those states.
//
// A page opened from another site (data-keyportal-start is not "auto": the
// server decides it per request, see middleware/shell) asks for nothing
// until the user clicks: the script shows the prerendered shell's hidden
// panel (.keyportal-start) with its button, and starts the request on its
// click, after marking the page "auto" (the click is the user's consent for
// this page). Until then it leaves keyportalTicketRequest undefined, so the
// wasm loads at once; once the shell is up it renders its own button, and
// whichever is clicked first asks, once.
//
// The frame goes in a slot after the shell element, never inside it: go-app
// replaces its root element when the wasm mounts, and an iframe taken out of
// the document reloads, which would spend the single-use ticket twice.
//
// A page that issued its first ticket while it rendered (middleware/shell
// with Config.Tickets) carries the ticket route's answer on the script
// element (data-keyportal-answer-status, -retry-after, -date, -body) and,
// for a 200, the frame already in its slot: the script asks for nothing,
// leaves that answer for the shell as if it had fetched it, and takes the
// server's frame as its own.
//
// A page restored from the back/forward cache would show a frame whose
// single-use ticket is spent: on pageshow with persisted set, a page that
// shows a portal frame is reloaded, which renders it with a fresh ticket.
(function () {
  "use strict";
  var PREFIX = "data-keyportal-";
  var doc = document;
  var script = doc.currentScript;
  var shellSelector = "[" + PREFIX + "resource]:not(script)";
  var from = script && script.hasAttribute(PREFIX + "resource") ? script : doc.querySelector(shellSelector);
  if (!from || typeof fetch !== "function") return;
  var attr = function (name) { return from.getAttribute(PREFIX + name) || ""; };
  window.addEventListener("pageshow", function (ev) {
    if (ev.persisted && doc.querySelector(".keyportal-shell iframe")) location.reload();
  });
  var path = attr("ticket-path");
  var field = attr("field");
  var resource = attr("resource");
  if (!path || !field || !resource) return;
  // null: the shell is already up and asked for its own ticket (a script
  // loaded async may run that late).
  if (window.keyportalTicketRequest !== undefined) return;
  // The iframe's accessible title, in the page's language (wasmui.Messages).
  var title = attr("title");
  var minHeight = parseInt(attr("min-height"), 10);
  if (!(minHeight > 0)) minHeight = 480;
  var MAX_HEIGHT = 20000;
  var MAX_QUEUE = 16;

  // The frame goes in once the document is parsed and has shown its
  // loading state: at DOMContentLoaded, which usually comes before the ticket.
  var contentLoaded = new Promise(function (resolve) {
    if (doc.readyState === "complete" || domContentLoadedFired()) return resolve();
    doc.addEventListener("DOMContentLoaded", function () { resolve(); });
  });

  // domContentLoadedFired tells a script run late (async) that the event
  // it would wait for has passed.
  function domContentLoadedFired() {
    var nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    return !!(nav && nav.domContentLoadedEventStart > 0);
  }

  var slot = null;
  var done = false; // adopted or discarded
  var req = null;

  var start = attr("start");
  if (start !== "" && start !== "auto") {
    contentLoaded.then(waitForClick);
    return;
  }
  begin();

  // waitForClick shows the prerendered shell's start panel instead of its
  // loading state and asks for the ticket on the button's click. A shell
  // the wasm rendered (not prerendered) shows and handles its own.
  function waitForClick() {
    var shell = doc.querySelector(shellSelector);
    if (!shell || !shell.hasAttribute(PREFIX + "prerendered") || window.keyportalTicketRequest !== undefined) return;
    var panel = shell.querySelector(".keyportal-start");
    var button = panel && panel.querySelector("button");
    if (!button) return;
    var status = shell.querySelector(".keyportal-status");
    if (status) status.hidden = true;
    shell.removeAttribute("aria-busy");
    panel.hidden = false;
    button.addEventListener("click", function () {
      if (window.keyportalTicketRequest !== undefined) return; // the shell asked
      from.setAttribute(PREFIX + "start", "auto");
      panel.hidden = true;
      if (status) status.hidden = false;
      shell.setAttribute("aria-busy", "true");
      begin();
    }, { once: true });
  }

  // begin asks for the ticket and leaves the request for the shell.
  function begin() {
    var answered = from.hasAttribute(PREFIX + "answer-status");
    var body = {};
    body[field] = resource;
    var promise = answered ? Promise.resolve({
      status: parseInt(attr("answer-status"), 10) || 0,
      retryAfter: attr("answer-retry-after") || null,
      date: attr("answer-date") || null,
      body: attr("answer-body")
    }) : fetch(path, {
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

    req = {
      path: path,
      field: field,
      resource: resource,
      promise: promise,
      frame: null,
      origin: "",
      listening: false,
      messages: [],
      adopt: function () {
        if (done || !req.frame) return null;
        done = true;
        stopListening();
        var q = req.messages;
        req.messages = [];
        return q;
      },
      discard: function () {
        if (done) return;
        done = true;
        stopListening();
        if (slot && slot.parentNode) slot.parentNode.removeChild(slot);
        slot = null;
        req.frame = null;
        req.messages = [];
      }
    };
    window.keyportalTicketRequest = req;

    req.settled = promise.then(function (r) {
      if (r.status !== 200) return;
      var p = portalURL(r.body);
      if (!p) return;
      // The server's frame precedes this script: take it at once, so that
      // no message it sends is missed.
      if (answered) return insert(p, true);
      return contentLoaded.then(function () { insert(p, false); });
    }).catch(function () {});
  }

  function stopListening() {
    if (req.listening) window.removeEventListener("message", onMessage);
    req.listening = false;
  }

  // portalURL returns the ticket response's url if it is an http(s) URL,
  // with its origin, or null.
  function portalURL(text) {
    var resp;
    try { resp = JSON.parse(text); } catch (e) { return null; }
    if (!resp || typeof resp.ticket !== "string" || !resp.ticket ||
        typeof resp.url !== "string" || !resp.url) return null;
    var u;
    try { u = new URL(resp.url, location.href); } catch (e) { return null; }
    if ((u.protocol !== "http:" && u.protocol !== "https:") || !u.host) return null;
    return { src: resp.url, origin: u.origin };
  }

  // insert shows the portal: the server's frame when the page carries one
  // for this URL (fromServer), else a new one in a slot after the shell.
  function insert(p, fromServer) {
    var shell = doc.querySelector(shellSelector);
    if (done || !shell || !shell.parentNode) return;
    var next = shell.nextElementSibling;
    var served = fromServer && next && next.classList.contains("keyportal-frame-slot") ? next.querySelector("iframe") : null;
    if (served && served.getAttribute("src") === p.src) {
      slot = next;
      req.origin = p.origin;
      req.frame = served;
      window.addEventListener("message", onMessage);
      req.listening = true;
      return;
    }
    var f = doc.createElement("iframe");
    f.setAttribute("src", p.src);
    f.setAttribute("title", title);
    f.setAttribute("allow", "clipboard-write");
    f.style.width = "100%";
    f.style.height = minHeight + "px";
    f.style.border = "0";
    slot = doc.createElement("div");
    slot.className = "keyportal-shell keyportal-frame-slot";
    slot.appendChild(f);
    req.origin = p.origin;
    req.frame = f;
    window.addEventListener("message", onMessage);
    req.listening = true;
    shell.parentNode.insertBefore(slot, shell.nextSibling);
    // The server's loading state is over. What go-app rendered (the wasm
    // is up) is the shell's own and is not touched here.
    if (shell.hasAttribute(PREFIX + "prerendered")) {
      shell.removeAttribute("aria-busy");
      var status = shell.querySelector(".keyportal-status");
      if (status) status.parentNode.removeChild(status);
    }
  }

  // onMessage queues the frame's messages, checked as the shell checks
  // them (exact origin, the frame's own window, protocol v1), until the
  // shell adopts the frame; ready and resize also show at once.
  function onMessage(ev) {
    var f = req.frame;
    if (!f || ev.origin !== req.origin || ev.source !== f.contentWindow) return;
    var d = ev.data;
    if (!d || typeof d !== "object" || d.v !== 1 || typeof d.type !== "string") return;
    var m = { type: d.type, v: 1 };
    switch (d.type) {
      case "keyportal:ready":
        m.session = str(d.session);
        f.setAttribute(PREFIX + "ready", "true");
        break;
      case "keyportal:resize":
        if (typeof d.height !== "number" || !(d.height > 0)) return;
        m.height = Math.min(Math.floor(d.height), MAX_HEIGHT);
        f.style.height = Math.max(m.height, minHeight) + "px";
        dropQueued(m.type); // only the last size matters
        break;
      case "keyportal:session_expired":
        m.reason = str(d.reason);
        dropQueued(m.type); // one renewal answers them all
        break;
      case "keyportal:event":
        m.name = str(d.name);
        break;
      default:
        return;
    }
    // The cap drops what comes late of the others, never the last resize
    // or session_expired: a session left unrenewed would stay ended.
    if (req.messages.length < MAX_QUEUE || m.type === "keyportal:resize" || m.type === "keyportal:session_expired") {
      req.messages.push(m);
    }
  }

  function dropQueued(type) {
    for (var i = 0; i < req.messages.length; i++) {
      if (req.messages[i].type === type) req.messages.splice(i--, 1);
    }
  }

  function str(v) { return typeof v === "string" ? v.slice(0, 64) : ""; }
})();
