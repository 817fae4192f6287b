// keyportal portal page. No framework: the server renders the markup, this
// script exchanges the ticket, keeps the page session in memory only and
// talks to the embedding shell with the keyportal:* postMessage protocol.
(() => {
  'use strict';
  const V = 1;
  const REASONS = ['ttl', 'ticket_expired', 'ticket_used', 'ticket_invalid', 'revoked'];
  const root = document.getElementById('portal');
  const base = root.dataset.base;
  // The page's texts (portal.Messages, the app's or the portal's, English
  // where neither has one), rendered by the server; fill puts values in
  // place of their {name}.
  let T = {};
  try { T = JSON.parse(root.dataset.messages || '{}'); } catch (e) { T = {}; }
  const fill = (text, vars) => String(text || '').replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
  // The embedder origin comes from the ticket's sealed claims (rendered by
  // the server) and is confirmed by the exchange. It is the only origin this
  // page posts to and the only one it listens to.
  let origin = root.dataset.origin || '';
  const framed = window.parent !== window;

  const post = (msg) => {
    if (!origin || !framed) return;
    msg.v = V;
    window.parent.postMessage(msg, origin);
  };

  // Resize: tell the shell the content height whenever it changes.
  let lastHeight = 0;
  const measure = () => {
    const h = Math.ceil(document.body.getBoundingClientRect().height);
    if (h > 0 && h !== lastHeight) {
      lastHeight = h;
      post({ type: 'keyportal:resize', height: h });
    }
  };
  if (window.ResizeObserver) new ResizeObserver(measure).observe(document.body);

  if (root.dataset.state === 'error') return;

  const $ = (id) => document.getElementById(id);
  const rows = $('key-rows');
  const keysStatus = $('keys-status');
  const notice = $('notice');
  const createBtn = $('create-open');

  let session = null;      // the bearer token; memory only
  let previous = null;     // the last session, to bind a renewal to it
  let expiryTimer = 0;
  let exchanging = false;
  let queued = null;       // a ticket that arrived during an exchange
  let filter = 'active';
  let keys = [];
  let keysCursor = '';     // where the next page of keys starts; '' when none
  let keysSeq = 0;         // bumped by every fresh list, so a late page is dropped
  let activityCursor = '';
  let opener = null;
  let readySent = false;  // keyportal:ready went out once

  const setState = (s) => {
    root.dataset.state = s;
    createBtn.disabled = s !== 'ready';
    for (const b of rows.querySelectorAll('button')) b.disabled = s !== 'ready';
  };
  const say = (text, kind) => {
    notice.textContent = text || '';
    notice.hidden = !text;
    notice.dataset.kind = kind || 'info';
  };

  // ---- dates -------------------------------------------------------------
  // Dates and numbers are written the way the texts' language writes them
  // (the browser's way when the table names none Intl knows).
  const locale = (() => { try { return Intl.getCanonicalLocales(T.lang || [])[0]; } catch (e) { return undefined; } })();
  const dateFmt = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'short', day: 'numeric' });
  const timeFmt = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  const fmt = (iso, f) => (iso ? (f || dateFmt).format(new Date(iso)) : '');

  // ---- session -------------------------------------------------------------
  const endSession = (reason) => {
    if (!session && reason === 'ttl') return;
    session = null;
    clearTimeout(expiryTimer);
    setState('ended');
    say(reason === 'revoked' ? T.access_withdrawn : T.session_ended, reason === 'revoked' ? 'error' : 'info');
    post({ type: 'keyportal:session_expired', reason });
  };

  const schedule = (seconds) => {
    clearTimeout(expiryTimer);
    // End a little early so no call goes out with a token about to lapse.
    const ms = seconds * 1000 - Math.min(5000, seconds * 100);
    expiryTimer = setTimeout(() => endSession('ttl'), Math.max(0, ms));
  };

  // errorText is what the page says about a failed call: the table's text
  // for the error's code, else the server's message, else fallback.
  const CODE_TEXT = {
    rate_limited: T.error_rate_limited,
    key_limit: T.error_key_limit,
    not_found: T.error_key_gone,
    inactive: T.error_already_revoked,
    unavailable: T.error_unavailable,
    session_expired: T.session_ended,
    session_invalid: T.session_ended,
    revoked: T.access_withdrawn,
    ticket_expired: T.link_expired,
    ticket_used: T.link_used,
    ticket_invalid: T.link_invalid,
  };
  const errorText = (res, body, fallback) => {
    const code = body.error && body.error.code;
    if (CODE_TEXT[code]) return fill(CODE_TEXT[code], { seconds: res.headers.get('Retry-After') || '', status: res.status });
    return (body.error && body.error.message) || fallback || fill(T.something_wrong, { status: res.status });
  };

  const exchange = async (ticket) => {
    if (exchanging) { queued = ticket; return; }
    exchanging = true;
    setState('loading');
    let res = null;
    let body = {};
    try {
      const req = { ticket };
      if (previous) req.previous_session = previous;
      res = await fetch(base + '/exchange', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(req),
        cache: 'no-store',
        credentials: 'omit',
      });
      body = await res.json().catch(() => ({}));
    } catch (e) {
      res = null;
    }
    exchanging = false;
    if (res && res.ok && body.session) {
      session = body.session;
      previous = body.session;
      origin = body.origin || origin;
      schedule(body.expires_in);
      say('');
      setState('ready');
      post({ type: 'keyportal:ready', session: 'active' });
      loadKeys();
      if (!$('panel-activity').hidden) loadActivity(true);
      if (!$('panel-overview').hidden) loadOverview();
      if (!$('panel-access').hidden) loadAccess(true);
    } else {
      const code = body.error && body.error.code;
      const reason = REASONS.includes(code) ? code : 'ticket_invalid';
      session = null;
      setState('ended');
      say(res ? errorText(res, body, T.link_invalid) : T.unreachable, 'error');
      if (!readySent) post({ type: 'keyportal:ready', session: 'none' });
      post({ type: 'keyportal:session_expired', reason });
    }
    readySent = true;
    if (queued) { const t = queued; queued = null; exchange(t); }
  };

  // The JSON API; a 401 ends the session with the reason the shell needs.
  const api = async (method, path, payload) => {
    if (!session) throw new Error(T.session_ended);
    const init = { method, headers: { Authorization: 'Bearer ' + session }, cache: 'no-store', credentials: 'omit' };
    if (payload !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    const res = await fetch(base + '/api' + path, init);
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) {
      endSession(body.error && body.error.code === 'revoked' ? 'revoked' : 'ttl');
      throw new Error(errorText(res, body));
    }
    if (!res.ok) throw new Error(errorText(res, body));
    return body;
  };

  // ---- messages from the shell -------------------------------------------
  window.addEventListener('message', (ev) => {
    if (!framed || !origin || ev.origin !== origin || ev.source !== window.parent) return;
    const d = ev.data;
    if (!d || typeof d !== 'object' || d.v !== V) return;
    if (d.type === 'keyportal:ticket' && typeof d.ticket === 'string' && d.ticket.length > 0 && d.ticket.length <= 2048) {
      exchange(d.ticket);
    } else if (d.type === 'keyportal:theme' && ['light', 'dark', 'system'].includes(d.theme)) {
      document.documentElement.dataset.theme = d.theme;
    }
  });

  // ---- keys ----------------------------------------------------------------
  const STATUS_LABEL = { active: T.active, revoked: T.revoked, expired: T.expired };
  // Each cell holds one .v element, so the narrow layout (label | value) has
  // exactly two flex items.
  const cell = (tr, label, content, cls) => {
    const td = document.createElement('td');
    td.dataset.label = label;
    if (cls) td.className = cls;
    const v = document.createElement('div');
    v.className = 'v';
    if (content instanceof Node) v.append(content); else v.textContent = content;
    td.append(v);
    tr.append(td);
    return v;
  };
  const button = (text, cls, testid, onClick) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn small ' + cls;
    b.textContent = text;
    b.dataset.testid = testid;
    b.addEventListener('click', onClick);
    return b;
  };

  const renderKeys = () => {
    rows.replaceChildren();
    for (const k of keys) {
      const tr = document.createElement('tr');
      tr.dataset.testid = 'key-row';
      tr.dataset.keyId = k.id;
      tr.dataset.keyName = k.name;
      tr.dataset.status = k.status;
      const name = cell(tr, T.col_name, k.name, 'name');
      if (k.grace_until && k.status === 'active') {
        const g = document.createElement('span');
        g.className = 'hint block';
        g.textContent = fill(T.rotated_until, { time: fmt(k.grace_until, timeFmt) });
        name.append(g);
      }
      const code = document.createElement('code');
      code.textContent = k.key_prefix + '_…' + k.key_suffix;
      cell(tr, T.col_key, code);
      cell(tr, T.col_created, fmt(k.created_at), 'nowrap').title = k.created_at;
      cell(tr, T.col_created_by, k.created_by || '—');
      cell(tr, T.col_last_used, k.last_used_at ? fmt(k.last_used_at, timeFmt) : T.never, 'nowrap');
      cell(tr, T.col_expires, k.expires_at ? fmt(k.expires_at) : T.never, 'nowrap');
      const badge = document.createElement('span');
      badge.className = 'badge ' + k.status;
      badge.textContent = STATUS_LABEL[k.status] || k.status;
      cell(tr, T.col_status, badge);
      const actions = document.createElement('div');
      actions.className = 'row-actions';
      if (k.status === 'active' && !k.grace_until) {
        const label = ' ' + k.name;
        const rot = button(T.rotate, '', 'rotate-key', (e) => openRotate(k, e.currentTarget));
        rot.setAttribute('aria-label', T.rotate + label);
        const rev = button(T.revoke, 'danger-text', 'revoke-key', (e) => openRevoke(k, e.currentTarget));
        rev.setAttribute('aria-label', T.revoke + label);
        actions.append(rot, rev);
      }
      cell(tr, T.col_actions, actions, 'actions-cell');
      rows.append(tr);
    }
    const empty = { active: T.empty_active, revoked: T.empty_revoked, expired: T.empty_expired, all: T.empty_all };
    keysStatus.textContent = keys.length ? '' : empty[filter];
    keysStatus.hidden = keys.length > 0;
  };

  // The list comes in pages (newest first). A fresh list asks for as many
  // keys as were shown (one page at least, at most the API's 200), so a
  // change does not fold away pages the user loaded; "Load more" appends
  // the next page.
  const PAGE = 50;
  const MAX_PAGE = 200;
  const moreBtn = $('keys-more');
  const showMore = () => {
    moreBtn.hidden = !keysCursor;
    moreBtn.disabled = false;
  };
  const loadKeys = async () => {
    const seq = ++keysSeq;
    const limit = Math.min(MAX_PAGE, Math.max(PAGE, keys.length));
    try {
      const body = await api('GET', '/keys?status=' + filter + '&limit=' + limit);
      if (seq !== keysSeq) return;
      keys = body.keys || [];
      keysCursor = body.next_cursor || '';
      renderKeys();
      showMore();
    } catch (e) {
      if (session) say(e.message, 'error');
    }
  };
  const loadMoreKeys = async () => {
    if (!keysCursor) return;
    const seq = keysSeq;
    moreBtn.disabled = true;
    try {
      const body = await api('GET', '/keys?status=' + filter + '&limit=' + PAGE + '&cursor=' + encodeURIComponent(keysCursor));
      if (seq !== keysSeq) return;
      const have = new Set(keys.map((k) => k.id));
      keys = keys.concat((body.keys || []).filter((k) => !have.has(k.id)));
      keysCursor = body.next_cursor || '';
      renderKeys();
    } catch (e) {
      if (session) say(e.message, 'error');
    } finally {
      if (seq === keysSeq) showMore();
    }
  };
  moreBtn.addEventListener('click', loadMoreKeys);

  for (const chip of document.querySelectorAll('.chip[data-filter]')) {
    chip.addEventListener('click', () => {
      filter = chip.dataset.filter;
      for (const c of document.querySelectorAll('.chip[data-filter]')) c.setAttribute('aria-pressed', String(c === chip));
      keys = [];
      loadKeys();
    });
  }

  // ---- dialogs -------------------------------------------------------------
  const open = (dlg, from) => {
    opener = from || document.activeElement;
    dlg.showModal();
  };
  // The secret leaves the page as soon as its dialog closes, however it closes.
  const forgetSecret = () => { $('secret-out').value = ''; $('copy-status').textContent = ''; };
  for (const dlg of document.querySelectorAll('dialog')) {
    dlg.addEventListener('close', () => {
      if (dlg.id === 'dlg-secret') forgetSecret();
      if (opener && document.contains(opener)) opener.focus();
    });
    for (const b of dlg.querySelectorAll('[data-close]')) {
      b.addEventListener('click', () => { if (dlg.id === 'dlg-secret') forgetSecret(); dlg.close(); });
    }
  }
  const formError = (id, text) => { const p = $(id); p.textContent = text || ''; p.hidden = !text; };
  const busy = (form, on) => { for (const b of form.querySelectorAll('button, input')) b.disabled = on; };
  // changeKey submits the form of dialog kind ('create', 'rotate',
  // 'revoke'): the form is busy while request runs; on success the dialog
  // closes, done(body) tells the user, the embedder hears of event and the
  // list reloads; a failure shows in the form.
  const changeKey = async (kind, event, request, done) => {
    const form = $('form-' + kind);
    busy(form, true);
    try {
      const body = await request();
      $('dlg-' + kind).close();
      done(body);
      post({ type: 'keyportal:event', name: event });
      loadKeys();
    } catch (err) {
      formError(kind + '-error', err.message);
    } finally {
      busy(form, false);
    }
  };

  const showSecret = (title, secret) => {
    $('dlg-secret-title').textContent = title;
    $('secret-out').value = secret;
    open($('dlg-secret'), createBtn);
    $('secret-out').select();
  };
  $('secret-copy').addEventListener('click', async () => {
    const input = $('secret-out');
    let ok = false;
    try { await navigator.clipboard.writeText(input.value); ok = true; } catch (e) {
      input.select();
      try { ok = document.execCommand('copy'); } catch (e2) { ok = false; }
    }
    $('copy-status').textContent = ok ? T.copied : T.copy_by_hand;
  });

  createBtn.addEventListener('click', (e) => {
    $('form-create').reset();
    formError('create-error', '');
    const d = new Date();
    $('create-expiry').min = d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
    open($('dlg-create'), e.currentTarget);
    $('create-name').focus();
  });
  $('form-create').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('create-name').value.trim();
    if (!name) { formError('create-error', T.name_required); $('create-name').focus(); return; }
    const payload = { name };
    const day = $('create-expiry').value;
    if (day) {
      const end = new Date(day + 'T23:59:59');
      if (isNaN(end) || end <= new Date()) { formError('create-error', T.date_in_past); $('create-expiry').focus(); return; }
      payload.expires_at = end.toISOString();
    }
    await changeKey('create', 'key.created', () => api('POST', '/keys', payload),
      (body) => showSecret(T.secret_new, body.secret));
  });

  let target = null;
  // openKeyDialog opens the 'rotate' or 'revoke' dialog for key k, its form
  // cleared and the key named.
  const openKeyDialog = (kind, k, from) => {
    target = k;
    $('form-' + kind).reset();
    formError(kind + '-error', '');
    $(kind + '-name').textContent = k.name;
    open($('dlg-' + kind), from);
  };
  const openRotate = (k, from) => {
    $('rotate-last-used').textContent = k.last_used_at
      ? fill(T.last_used, { time: fmt(k.last_used_at, timeFmt) })
      : T.never_used;
    openKeyDialog('rotate', k, from);
  };
  $('form-rotate').addEventListener('submit', async (e) => {
    e.preventDefault();
    const grace = e.currentTarget.elements.grace.value;
    await changeKey('rotate', 'key.rotated',
      () => api('POST', '/keys/' + encodeURIComponent(target.id) + '/rotate', { grace }),
      (body) => showSecret(T.secret_rotated, body.secret));
  });

  const openRevoke = (k, from) => openKeyDialog('revoke', k, from);
  $('form-revoke').addEventListener('submit', async (e) => {
    e.preventDefault();
    await changeKey('revoke', 'key.revoked', async () => {
      await api('POST', '/keys/' + encodeURIComponent(target.id) + '/revoke', { reason: $('revoke-reason').value.trim() });
      opener = createBtn;
    }, () => say(fill(T.key_revoked, { name: target.name })));
  });

  // ---- activity ------------------------------------------------------------
  const ACTION_LABEL = {
    'key.created': T.act_key_created,
    'key.rotated': T.act_key_rotated,
    'key.revoked': T.act_key_revoked,
    'ticket.exchanged': T.act_exchanged,
    'ticket.rejected': T.act_rejected,
    'session.expired': T.act_session_expired,
  };
  // A fresh list drops the answers of the loads before it, so that two
  // quick clicks on the tab show each event once; "Show older" waits for
  // the load under way.
  let activitySeq = 0;
  const loadActivity = async (fresh) => {
    const seq = fresh ? ++activitySeq : activitySeq;
    if (fresh) { activityCursor = ''; $('activity').replaceChildren(); }
    $('activity-more').disabled = true;
    try {
      const q = activityCursor ? '?cursor=' + encodeURIComponent(activityCursor) : '';
      const body = await api('GET', '/activity' + q);
      if (seq !== activitySeq) return;
      for (const ev of body.events || []) {
        const li = document.createElement('li');
        li.dataset.testid = 'activity-item';
        const t = document.createElement('time');
        t.dateTime = ev.time;
        t.textContent = fmt(ev.time, timeFmt);
        const what = document.createElement('span');
        const actor = ev.actor || T.someone;
        what.textContent = (ACTION_LABEL[ev.action] ? fill(ACTION_LABEL[ev.action], { actor }) : actor + ' ' + ev.action) + (ev.reason ? ' (' + ev.reason.replace(/_/g, ' ') + ')' : '');
        li.append(what, t);
        $('activity').append(li);
      }
      activityCursor = body.next_cursor || '';
      $('activity-more').hidden = !activityCursor;
      $('activity-status').textContent = $('activity').children.length ? '' : T.activity_empty;
    } catch (e) {
      if (seq === activitySeq) $('activity-status').textContent = e.message;
    } finally {
      if (seq === activitySeq) $('activity-more').disabled = false;
    }
  };
  $('activity-more').addEventListener('click', () => loadActivity(false));

  // ---- usage: Overview and Access logs ----------------------------------------
  // Ranges are whole UTC days, as the API counts them; so are the chart's bars
  // and the log's day groups.
  const DAY = 864e5;
  const utcDay = (ms) => new Date(ms).toISOString().slice(0, 10);
  const dayFmt = new Intl.DateTimeFormat(locale, { weekday: 'short', month: 'short', day: 'numeric', timeZone: 'UTC' });
  const shortDayFmt = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', timeZone: 'UTC' });
  const clockFmt = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'UTC' });
  const num = new Intl.NumberFormat(locale);
  const fmtDay = (date, f) => f.format(new Date(date + 'T00:00:00Z'));
  // A range the API would refuse is worded here, in the table's words.
  const maxDays = Number(root.dataset.maxDays) || 0;
  const ranges = {};
  for (const box of document.querySelectorAll('[data-range]')) {
    const [from, to] = box.querySelectorAll('input');
    const today = utcDay(Date.now());
    to.value = to.max = from.max = today;
    from.value = utcDay(Date.now() - 6 * DAY);
    ranges[box.dataset.range] = () => {
      const days = (Date.parse(to.value) - Date.parse(from.value)) / DAY + 1;
      if (days < 1) throw new Error(T.range_order);
      if (maxDays && days > maxDays) throw new Error(fill(T.range_too_long, { days: num.format(maxDays) }));
      return '?from=' + from.value + '&to=' + to.value;
    };
    const changed = () => {
      if (!from.value || !to.value) return;
      if (box.dataset.range === 'overview') loadOverview(); else loadAccess(true);
    };
    from.addEventListener('change', changed);
    to.addEventListener('change', changed);
  }

  // The chart: an inline SVG the page draws itself, one stacked bar a day,
  // at the frame's own width (so its text keeps its size down to 320 px).
  const SVG = 'http://www.w3.org/2000/svg';
  const svg = (name, attrs, parent) => {
    const el = document.createElementNS(SVG, name);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    if (parent) parent.append(el);
    return el;
  };
  // niceMax rounds a count up to 1, 2 or 5 times a power of ten.
  const niceMax = (n) => {
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(1, n))));
    return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= n);
  };
  let ovDays = [];
  let chartWidth = 0;
  const chartBox = $('ov-chart');
  const drawChart = () => {
    const w = Math.max(260, Math.floor(chartBox.clientWidth));
    chartWidth = chartBox.clientWidth;
    const h = 200, left = 44, right = 6, top = 10, bottom = 24;
    const plotH = h - top - bottom;
    const peak = niceMax(Math.max(0, ...ovDays.map((d) => d.allowed + d.blocked)));
    const allowed = ovDays.reduce((a, d) => a + d.allowed, 0);
    const blocked = ovDays.reduce((a, d) => a + d.blocked, 0);
    const chart = svg('svg', { viewBox: '0 0 ' + w + ' ' + h, width: w, height: h, role: 'img', 'aria-labelledby': 'ov-chart-title ov-chart-desc' });
    svg('title', { id: 'ov-chart-title' }, chart).textContent = T.chart_title;
    svg('desc', { id: 'ov-chart-desc' }, chart).textContent = ovDays.length
      ? fill(T.chart_summary, { from: fmtDay(ovDays[0].date, shortDayFmt), to: fmtDay(ovDays[ovDays.length - 1].date, shortDayFmt), allowed: num.format(allowed), blocked: num.format(blocked) })
      : T.chart_empty;
    const base = top + plotH;
    for (const v of [0, peak / 2, peak]) {
      const y = base - (v / peak) * plotH;
      svg('line', { class: 'grid', x1: left, x2: w - right, y1: y, y2: y }, chart);
      svg('text', { class: 'axis', x: left - 6, y: y + 4, 'text-anchor': 'end' }, chart).textContent = num.format(v);
    }
    const n = Math.max(1, ovDays.length);
    const slot = (w - left - right) / n;
    const bw = Math.max(1, Math.min(36, slot * 0.7));
    const every = Math.ceil(n / Math.max(1, Math.floor((w - left - right) / 56)));
    ovDays.forEach((d, i) => {
      const x = left + i * slot + (slot - bw) / 2;
      const ha = (d.allowed / peak) * plotH;
      const hb = (d.blocked / peak) * plotH;
      const g = svg('g', { 'data-testid': 'chart-day', 'data-date': d.date }, chart);
      svg('title', {}, g).textContent = fill(T.chart_day, { day: fmtDay(d.date, dayFmt), allowed: num.format(d.allowed), blocked: num.format(d.blocked) });
      svg('rect', { class: 'bar-allowed', x, y: base - ha, width: bw, height: ha, 'data-count': d.allowed }, g);
      svg('rect', { class: 'bar-blocked', x, y: base - ha - hb, width: bw, height: hb, 'data-count': d.blocked }, g);
      if (i % every === 0) svg('text', { class: 'axis', x: x + bw / 2, y: h - 6, 'text-anchor': 'middle' }, chart).textContent = fmtDay(d.date, shortDayFmt);
    });
    chartBox.replaceChildren(chart);
  };
  if (window.ResizeObserver) new ResizeObserver(() => { if (ovDays.length && chartBox.clientWidth !== chartWidth) drawChart(); }).observe(chartBox);

  const SCOPE_LABEL = { key: T.scope_key, app: T.scope_app, ip: T.scope_ip };
  // per words a rate limit's period: the largest unit it is a whole number
  // of, one ("minute") or several ("2 minutes").
  const PERIODS = [[DAY, T.period_day, T.period_days], [36e5, T.period_hour, T.period_hours],
    [6e4, T.period_minute, T.period_minutes], [1e3, T.period_second, T.period_seconds]];
  const per = (ms) => {
    for (const [size, one, many] of PERIODS) {
      if (ms % size === 0) return ms === size ? one : fill(many, { count: num.format(ms / size) });
    }
    return fill(T.period_millis, { count: num.format(ms) });
  };
  const listItem = (list, text, testid) => {
    const li = document.createElement('li');
    li.textContent = text;
    if (testid) li.dataset.testid = testid;
    list.append(li);
  };
  // A block's reason is the recorder's code ("key_revoked", a rule's name).
  const reasonText = (r) => (r ? r.replace(/_/g, ' ') : T.reason_none);

  let overviewSeq = 0;
  const loadOverview = async () => {
    const seq = ++overviewSeq;
    $('overview-status').textContent = T.loading_usage;
    $('overview-status').hidden = false;
    try {
      const body = await api('GET', '/overview' + ranges.overview());
      if (seq !== overviewSeq) return;
      $('overview-body').hidden = !body.recorded;
      $('overview-status').textContent = body.recorded ? '' : T.usage_not_recorded;
      $('overview-status').hidden = body.recorded;
      if (body.recorded) {
        $('ov-total').textContent = num.format(body.total_requests);
        $('ov-allowed').textContent = num.format(body.allowed_requests);
        $('ov-blocked').textContent = num.format(body.blocked_requests);
        $('ov-keys').textContent = num.format(body.keys_used_24h);
        $('ov-shed').textContent = body.shed > 0 ? fill(T.usage_shed, { count: num.format(body.shed) }) : '';
        $('ov-shed').hidden = !(body.shed > 0);
        ovDays = body.days || [];
        drawChart();
        $('ov-days').replaceChildren(...ovDays.map((d) => {
          const tr = document.createElement('tr');
          tr.dataset.date = d.date;
          for (const v of [fmtDay(d.date, dayFmt), num.format(d.allowed), num.format(d.blocked)]) {
            const td = document.createElement('td');
            td.textContent = v;
            tr.append(td);
          }
          return tr;
        }));
        $('ov-reasons').replaceChildren();
        for (const r of body.blocked_reasons || []) listItem($('ov-reasons'), fill(T.reason_count, { reason: reasonText(r.name), count: num.format(r.blocked) }));
        $('ov-reasons-box').hidden = !(body.blocked_reasons || []).length;
      }
      const scheme = body.rate_limit_scheme || '';
      $('ov-scheme').textContent = scheme ? fill(T.rate_scheme, { scheme }) : '';
      $('ov-scheme').hidden = !scheme;
      const rules = body.rate_limits;
      $('ov-rules').replaceChildren();
      for (const r of rules || []) listItem($('ov-rules'), fill(T.rate_rule, { max: num.format(r.max), period: per(r.per_ms), scope: SCOPE_LABEL[r.scope] || r.scope }), 'rate-limit');
      if (!scheme && !(rules || []).length) listItem($('ov-rules'), T.no_rate_limits);
    } catch (e) {
      if (seq === overviewSeq) { $('overview-status').textContent = e.message; $('overview-body').hidden = true; }
    }
  };

  // The log: 25 verifications a page, newest first, grouped by UTC day;
  // "Older" appends the next page (to the last day's group when it goes on).
  let outcome = '';
  let accessCursor = '';
  let accessSeq = 0;
  const accessList = $('access-list');
  const OUTCOME_LABEL = { allowed: T.allowed, blocked: T.blocked };
  const loadAccess = async (fresh) => {
    const seq = fresh ? ++accessSeq : accessSeq;
    if (fresh) accessCursor = '';
    $('access-more').disabled = true;
    try {
      const body = await api('GET', '/access' + ranges.access() + '&outcome=' + outcome + (accessCursor ? '&cursor=' + encodeURIComponent(accessCursor) : ''));
      if (seq !== accessSeq) return;
      if (fresh) accessList.replaceChildren();
      for (const ev of body.events || []) {
        const date = ev.time.slice(0, 10);
        let group = accessList.lastElementChild;
        if (!group || group.dataset.date !== date) {
          group = document.createElement('section');
          group.dataset.date = date;
          group.dataset.testid = 'access-day';
          const h = document.createElement('h3');
          h.textContent = fmtDay(date, dayFmt);
          const ol = document.createElement('ol');
          ol.className = 'log';
          group.append(h, ol);
          accessList.append(group);
        }
        const li = document.createElement('li');
        li.dataset.testid = 'access-row';
        li.dataset.outcome = ev.outcome;
        const badge = document.createElement('span');
        badge.className = 'badge ' + ev.outcome;
        badge.textContent = OUTCOME_LABEL[ev.outcome] || ev.outcome;
        const req = document.createElement('code');
        req.textContent = ev.method + ' ' + ev.path;
        const key = document.createElement('span');
        key.className = 'key';
        key.textContent = ev.key_name || T.no_key;
        const t = document.createElement('time');
        t.dateTime = ev.time;
        t.textContent = clockFmt.format(new Date(ev.time));
        const what = document.createElement('span');
        what.className = 'req';
        what.append(req);
        if (ev.blocked_by_rule) {
          const why = document.createElement('span');
          why.className = 'hint';
          why.textContent = ' ' + reasonText(ev.blocked_by_rule);
          what.append(why);
        }
        li.append(badge, what, key, t);
        group.lastElementChild.append(li);
      }
      accessCursor = body.next_cursor || '';
      $('access-more').hidden = !accessCursor;
      $('access-status').textContent = !body.recorded ? T.usage_not_recorded : accessList.children.length ? '' : T.access_empty;
    } catch (e) {
      if (seq !== accessSeq) return;
      $('access-status').textContent = e.message;
      if (fresh) { accessList.replaceChildren(); $('access-more').hidden = true; }
    } finally {
      if (seq === accessSeq) $('access-more').disabled = false;
    }
  };
  $('access-more').addEventListener('click', () => loadAccess(false));
  for (const chip of document.querySelectorAll('.chip[data-outcome]')) {
    chip.addEventListener('click', () => {
      outcome = chip.dataset.outcome;
      for (const c of document.querySelectorAll('.chip[data-outcome]')) c.setAttribute('aria-pressed', String(c === chip));
      loadAccess(true);
    });
  }

  // ---- tabs ----------------------------------------------------------------
  const tabs = [$('tab-overview'), $('tab-keys'), $('tab-access'), $('tab-activity')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    if (tab.id === 'tab-activity' && session) loadActivity(true);
    if (tab.id === 'tab-overview' && session) loadOverview();
    if (tab.id === 'tab-access' && session) loadAccess(true);
  };
  for (const t of tabs) {
    t.addEventListener('click', () => select(t));
    t.addEventListener('keydown', (e) => {
      const i = tabs.indexOf(t);
      const next = e.key === 'ArrowRight' ? tabs[(i + 1) % tabs.length]
        : e.key === 'ArrowLeft' ? tabs[(i + tabs.length - 1) % tabs.length]
        : e.key === 'Home' ? tabs[0] : e.key === 'End' ? tabs[tabs.length - 1] : null;
      if (next) { e.preventDefault(); select(next); next.focus(); }
    });
  }

  // ---- start ---------------------------------------------------------------
  // Take the ticket out of the address bar (and history) before anything else.
  const params = new URLSearchParams(location.search);
  const ticket = params.get('ticket');
  if (ticket !== null) {
    params.delete('ticket');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }
  if (ticket) exchange(ticket);
  else { setState('ended'); post({ type: 'keyportal:ready', session: 'none' }); readySent = true; }
})();
