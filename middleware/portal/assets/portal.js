// keyportal portal page. No framework: the server renders the markup, this
// script exchanges the ticket, keeps the page session in memory only and
// talks to the embedding shell with the keyportal:* postMessage protocol.
(() => {
  'use strict';
  const V = 1;
  const REASONS = ['ttl', 'ticket_expired', 'ticket_used', 'ticket_invalid', 'revoked'];
  const root = document.getElementById('portal');
  const base = root.dataset.base;
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
  const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
  const timeFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  const fmt = (iso, f) => (iso ? (f || dateFmt).format(new Date(iso)) : '');

  // ---- session -------------------------------------------------------------
  const endSession = (reason) => {
    if (!session && reason === 'ttl') return;
    session = null;
    clearTimeout(expiryTimer);
    setState('ended');
    say(reason === 'revoked'
      ? 'Access to these keys was withdrawn. Ask an administrator if you need it back.'
      : 'Your session has ended. Reconnecting…', reason === 'revoked' ? 'error' : 'info');
    post({ type: 'keyportal:session_expired', reason });
  };

  const schedule = (seconds) => {
    clearTimeout(expiryTimer);
    // End a little early so no call goes out with a token about to lapse.
    const ms = seconds * 1000 - Math.min(5000, seconds * 100);
    expiryTimer = setTimeout(() => endSession('ttl'), Math.max(0, ms));
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
    } else {
      const code = body.error && body.error.code;
      const reason = REASONS.includes(code) ? code : 'ticket_invalid';
      session = null;
      setState('ended');
      say(res ? (body.error && body.error.message) || 'This link is not valid.' : 'The key portal could not be reached.', 'error');
      if (!readySent) post({ type: 'keyportal:ready', session: 'none' });
      post({ type: 'keyportal:session_expired', reason });
    }
    readySent = true;
    if (queued) { const t = queued; queued = null; exchange(t); }
  };

  // The JSON API; a 401 ends the session with the reason the shell needs.
  const api = async (method, path, payload) => {
    if (!session) throw new Error('Your session has ended.');
    const init = { method, headers: { Authorization: 'Bearer ' + session }, cache: 'no-store', credentials: 'omit' };
    if (payload !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    const res = await fetch(base + '/api' + path, init);
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) {
      endSession(body.error && body.error.code === 'revoked' ? 'revoked' : 'ttl');
      throw new Error((body.error && body.error.message) || 'Your session has ended.');
    }
    if (!res.ok) throw new Error((body.error && body.error.message) || 'Something went wrong (' + res.status + ').');
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
  const STATUS_LABEL = { active: 'Active', revoked: 'Revoked', expired: 'Expired' };
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
      const name = cell(tr, 'Name', k.name, 'name');
      if (k.grace_until && k.status === 'active') {
        const g = document.createElement('span');
        g.className = 'hint block';
        g.textContent = 'Rotated · works until ' + fmt(k.grace_until, timeFmt);
        name.append(g);
      }
      const code = document.createElement('code');
      code.textContent = k.key_prefix + '_…' + k.key_suffix;
      cell(tr, 'Key', code);
      cell(tr, 'Created', fmt(k.created_at), 'nowrap').title = k.created_at;
      cell(tr, 'Created by', k.created_by || '—');
      cell(tr, 'Last used', k.last_used_at ? fmt(k.last_used_at, timeFmt) : 'Never', 'nowrap');
      cell(tr, 'Expires', k.expires_at ? fmt(k.expires_at) : 'Never', 'nowrap');
      const badge = document.createElement('span');
      badge.className = 'badge ' + k.status;
      badge.textContent = STATUS_LABEL[k.status] || k.status;
      cell(tr, 'Status', badge);
      const actions = document.createElement('div');
      actions.className = 'row-actions';
      if (k.status === 'active' && !k.grace_until) {
        const label = ' ' + k.name;
        const rot = button('Rotate', '', 'rotate-key', (e) => openRotate(k, e.currentTarget));
        rot.setAttribute('aria-label', 'Rotate' + label);
        const rev = button('Revoke', 'danger-text', 'revoke-key', (e) => openRevoke(k, e.currentTarget));
        rev.setAttribute('aria-label', 'Revoke' + label);
        actions.append(rot, rev);
      }
      cell(tr, 'Actions', actions, 'actions-cell');
      rows.append(tr);
    }
    const names = { active: 'active', revoked: 'revoked', expired: 'expired', all: '' };
    keysStatus.textContent = keys.length ? '' : 'No ' + names[filter] + (names[filter] ? ' ' : '') + 'keys yet.';
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

  for (const chip of document.querySelectorAll('.chip')) {
    chip.addEventListener('click', () => {
      filter = chip.dataset.filter;
      for (const c of document.querySelectorAll('.chip')) c.setAttribute('aria-pressed', String(c === chip));
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
  // submitChange makes one key change from a dialog's form: send() calls
  // the API; on success done(answer) closes the dialog, then the embedder
  // hears event and the list reloads; a failure is shown in the form's
  // error line. The form is disabled meanwhile.
  const submitChange = async (form, errorId, event, send, done) => {
    busy(form, true);
    try {
      done(await send());
      post({ type: 'keyportal:event', name: event });
      loadKeys();
    } catch (err) {
      formError(errorId, err.message);
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
    $('copy-status').textContent = ok ? 'Copied to the clipboard.' : 'Select the key and copy it with your keyboard.';
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
    const form = e.currentTarget;
    const name = $('create-name').value.trim();
    if (!name) { formError('create-error', 'Enter a name for the key.'); $('create-name').focus(); return; }
    const payload = { name };
    const day = $('create-expiry').value;
    if (day) {
      const end = new Date(day + 'T23:59:59');
      if (isNaN(end) || end <= new Date()) { formError('create-error', 'Pick a date in the future, or leave it empty.'); $('create-expiry').focus(); return; }
      payload.expires_at = end.toISOString();
    }
    await submitChange(form, 'create-error', 'key.created', () => api('POST', '/keys', payload), (body) => {
      $('dlg-create').close();
      showSecret('Copy your new key', body.secret);
    });
  });

  let target = null;
  const openRotate = (k, from) => {
    target = k;
    $('form-rotate').reset();
    formError('rotate-error', '');
    $('rotate-name').textContent = k.name;
    $('rotate-last-used').textContent = k.last_used_at
      ? 'The current key was last used ' + fmt(k.last_used_at, timeFmt) + '.'
      : 'The current key has never been used.';
    open($('dlg-rotate'), from);
  };
  $('form-rotate').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const grace = form.elements.grace.value;
    await submitChange(form, 'rotate-error', 'key.rotated', () => api('POST', '/keys/' + encodeURIComponent(target.id) + '/rotate', { grace }), (body) => {
      $('dlg-rotate').close();
      showSecret('Copy the new key', body.secret);
    });
  });

  const openRevoke = (k, from) => {
    target = k;
    $('form-revoke').reset();
    formError('revoke-error', '');
    $('revoke-name').textContent = k.name;
    open($('dlg-revoke'), from);
  };
  $('form-revoke').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    await submitChange(form, 'revoke-error', 'key.revoked', () => api('POST', '/keys/' + encodeURIComponent(target.id) + '/revoke', { reason: $('revoke-reason').value.trim() }), () => {
      opener = createBtn;
      $('dlg-revoke').close();
      say('Key “' + target.name + '” revoked.');
    });
  });

  // ---- activity ------------------------------------------------------------
  const ACTION_LABEL = {
    'key.created': 'created a key',
    'key.rotated': 'rotated a key',
    'key.revoked': 'revoked a key',
    'ticket.exchanged': 'opened the key portal',
    'ticket.rejected': 'was refused the key portal',
    'session.expired': 'portal session ended',
  };
  const loadActivity = async (fresh) => {
    if (fresh) { activityCursor = ''; $('activity').replaceChildren(); }
    try {
      const q = activityCursor ? '?cursor=' + encodeURIComponent(activityCursor) : '';
      const body = await api('GET', '/activity' + q);
      for (const ev of body.events || []) {
        const li = document.createElement('li');
        li.dataset.testid = 'activity-item';
        const t = document.createElement('time');
        t.dateTime = ev.time;
        t.textContent = fmt(ev.time, timeFmt);
        const what = document.createElement('span');
        what.textContent = (ev.actor || 'Someone') + ' ' + (ACTION_LABEL[ev.action] || ev.action) + (ev.reason ? ' (' + ev.reason.replace(/_/g, ' ') + ')' : '');
        li.append(what, t);
        $('activity').append(li);
      }
      activityCursor = body.next_cursor || '';
      $('activity-more').hidden = !activityCursor;
      $('activity-status').textContent = $('activity').children.length ? '' : 'Nothing has happened yet.';
    } catch (e) {
      $('activity-status').textContent = e.message;
    }
  };
  $('activity-more').addEventListener('click', () => loadActivity(false));

  // ---- tabs ----------------------------------------------------------------
  const tabs = [$('tab-keys'), $('tab-activity')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    if (tab.id === 'tab-activity' && session) loadActivity(true);
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
