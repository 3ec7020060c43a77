// The supervisor desktop: queues, agents by state, the live calls with
// the caller's latest mood, and crisis alerts that stay on screen until a
// supervisor acknowledges them. The API gives the state on every
// (re)connection of the live stream; the stream keeps it current.
'use strict';

(() => {
  const D = HotlineDesk;
  const $ = (id) => document.getElementById(id);
  const el = D.el;
  let api = null;
  let stopLive = null;
  let poll = 0;
  let soon = 0;
  const calls = new Map(); // call_id → {from, started, queue, agent, emotion}
  // Alerts by key: "id:<n>" once the store's id is known, else "ev:<call>:<at>"
  // for an alert just heard on the stream.
  const alerts = new Map();
  const liveWindow = 12 * 3600 * 1000; // open calls older than this are stale records

  // ---- sign in ----

  const { signOut, resume } = D.supervisorSignIn({
    check: (token) => D.api(token).get('/api/v1/agents'),
    start,
    stop: () => {
      api = null;
      if (stopLive) stopLive();
      clearInterval(poll);
      alerts.clear();
      renderAlerts();
      liveStatus('signed-out');
    },
  });

  function start(token) {
    api = D.api(token);
    stopLive = D.live(token, { event: onEvent, status: liveStatus, open: reload });
    poll = setInterval(refreshDesk, 5000);
  }

  function liveStatus(s, delay) {
    const p = $('live');
    p.dataset.state = s;
    p.textContent = s === 'reconnecting' ? `reconnecting in ${Math.round(delay / 1000)} s` : s === 'live' ? 'live' : 'offline';
    if (s === 'signed-out' && api) {
      api = null;
      signOut('The token is no longer accepted.');
    }
  }

  async function guarded(fn) {
    try {
      $('board-msg').textContent = '';
      await fn();
    } catch (err) {
      if (err instanceof D.AuthError) signOut('The token is no longer accepted.');
      else $('board-msg').textContent = err.message;
    }
  }

  // ---- the board ----

  function reload() {
    refreshDesk();
    guarded(async () => {
      const since = new Date(Date.now() - liveWindow).toISOString().replace(/\.\d+Z$/, 'Z');
      const page = await api.get('/api/v1/calls?limit=100&since=' + encodeURIComponent(since));
      const open = page.calls.filter((c) => !c.ended_at);
      for (const id of calls.keys()) {
        if (!open.some((c) => c.call_id === id)) calls.delete(id);
      }
      for (const c of open) {
        const had = calls.get(c.call_id) || {};
        calls.set(c.call_id, { from: c.from, started: Date.parse(c.started_at), queue: c.queue || had.queue, agent: c.agent || had.agent, emotion: had.emotion });
      }
      renderCalls();
    });
    loadAlerts();
  }

  function refreshDesk() {
    guarded(async () => {
      const [q, a, n] = await Promise.all([api.get('/api/v1/queues'), api.get('/api/v1/agents'), api.get('/api/v1/nodes')]);
      renderQueues(q.queues);
      renderAgents(a.agents);
      renderNodes(n.nodes);
    });
  }

  // refreshSoon coalesces the refreshes a burst of events asks for.
  function refreshSoon() {
    if (soon) return;
    soon = setTimeout(() => { soon = 0; refreshDesk(); }, 500);
  }

  function renderQueues(queues) {
    $('queues').replaceChildren(...queues.map((q) => el('tr', { 'data-busy': String(q.waiting > 0 && q.agents_available === 0) },
      el('td', {}, q.name),
      el('td', { className: 'num' }, String(q.waiting)),
      el('td', { className: 'num' }, q.waiting ? D.duration(q.longest_wait_ms) : '—'),
      el('td', { className: 'num' }, String(q.agents_available)))));
  }

  // renderNodes shows the cluster's nodes; a node alone needs no panel.
  function renderNodes(nodes) {
    $('nodes-panel').hidden = nodes.length < 2;
    $('nodes').replaceChildren(...nodes.map((n) => el('tr', { 'data-node': n.name, 'data-draining': String(n.draining) },
      el('td', {}, n.name),
      el('td', {}, n.sip || '—'),
      el('td', {}, n.draining ? 'draining' : 'serving'),
      el('td', { className: 'num' }, String(n.queues.reduce((sum, q) => sum + q.waiting, 0))),
      el('td', {}, new Date(n.started_at).toLocaleTimeString()))));
  }

  const groups = [
    ['available', 'Available'], ['ringing', 'Ringing'], ['on_call', 'On a call'],
    ['wrap_up', 'Wrap-up'], ['not_ready', 'Not ready'], ['offline', 'Offline'],
  ];

  function renderAgents(agents) {
    const known = new Set(groups.map((g) => g[0]));
    const out = [];
    for (const [state, title] of [...groups, ['other', 'Other']]) {
      const list = agents.filter((a) => (state === 'other' ? !known.has(a.state) : a.state === state));
      if (!list.length) continue;
      out.push(el('div', { 'data-state': state },
        el('h3', {}, `${title} (${list.length})`),
        el('ul', {}, ...list.map((a) => el('li', {},
          a.name || a.id,
          a.reason ? ` — ${a.reason}` : '',
          el('span', { className: 'since' }, D.duration(Date.now() - Date.parse(a.since))))))));
    }
    $('agents').replaceChildren(...(out.length ? out : [el('p', { className: 'muted' }, 'No agents.')]));
  }

  function renderCalls() {
    const rows = [...calls.entries()].sort((a, b) => a[1].started - b[1].started).map(([id, c]) => el('tr', { 'data-call': id },
      el('td', {}, c.from || '—'),
      el('td', {}, D.clock(c.started)),
      el('td', {}, c.queue || '—'),
      el('td', {}, c.agent || '—'),
      el('td', {}, D.emotionBadge(c.emotion))));
    $('calls').replaceChildren(...rows);
    $('no-calls').hidden = rows.length > 0;
  }

  function onEvent(e) {
    const d = e.data || {};
    const c = e.call_id && calls.get(e.call_id);
    switch (e.type) {
      case 'call.started':
        calls.set(e.call_id, Object.assign(c || {}, { from: d.from, started: Date.parse(e.at) || Date.now() }));
        break;
      case 'transfer':
      case 'agent.connected':
        if (c) Object.assign(c, { queue: d.queue || c.queue, agent: d.agent || e.agent || c.agent });
        refreshSoon();
        break;
      case 'turn':
        if (c && d.speaker === 'caller' && d.emotion) c.emotion = d.emotion;
        break;
      case 'call.ended':
        calls.delete(e.call_id);
        refreshSoon();
        break;
      case 'alert':
        addAlert('ev:' + e.call_id + ':' + e.at, { call: e.call_id, category: d.category, excerpt: d.phrase, at: e.at });
        loadAlerts();
        return;
      case 'alert.acknowledged':
        alerts.delete('id:' + d.id);
        renderAlerts();
        return;
      default:
        return;
    }
    renderCalls();
  }

  // ---- crisis alerts ----

  function addAlert(key, a) {
    if (!alerts.has(key)) alerts.set(key, a);
    renderAlerts();
  }

  // loadAlerts shows every unacknowledged alert the store has. An alert
  // heard on the stream takes the store's id when the store has it, so
  // that acknowledging it is recorded; until then it is acknowledged on
  // this screen only.
  function loadAlerts() {
    guarded(async () => {
      const page = await api.get('/api/v1/alerts?unacknowledged=true&limit=100');
      for (const a of page.alerts) {
        const key = 'id:' + a.id;
        const heard = [...alerts.entries()].find(([k, v]) => k.startsWith('ev:') && v.excerpt === a.excerpt);
        if (heard) alerts.delete(heard[0]);
        const had = alerts.get(key);
        const call = heard ? heard[1].call : had ? had.call : 'record ' + a.call;
        alerts.set(key, Object.assign(had || {}, { id: a.id, call, category: a.category, excerpt: a.excerpt, at: a.at }));
      }
      renderAlerts();
    });
  }

  async function acknowledge(key) {
    const a = alerts.get(key);
    if (!a) return;
    if (a.id) {
      try {
        await api.post('/api/v1/alerts/' + a.id + '/ack');
      } catch (err) {
        if (err instanceof D.AuthError) { signOut('The token is no longer accepted.'); return; }
        if (err.status !== 404) {
          a.failed = 'Not recorded: ' + err.message + '. Try again.';
          renderAlerts();
          return;
        }
      }
    }
    alerts.delete(key);
    renderAlerts();
  }

  function renderAlerts() {
    const items = [...alerts.entries()].sort((a, b) => Date.parse(a[1].at) - Date.parse(b[1].at));
    $('alerts').replaceChildren(...items.map(([key, a]) => el('div', { className: 'alert', role: 'alert', 'data-key': key },
      el('strong', {}, 'CRISIS'),
      el('span', {}, (a.category || 'alert').replace(/_/g, ' ') + ' · call ' + a.call),
      a.excerpt ? el('span', { className: 'excerpt' }, '“' + a.excerpt + '”') : null,
      a.failed ? el('span', { className: 'fail' }, a.failed) : null,
      el('span', { className: 'when' }, D.clock(a.at)),
      el('button', { type: 'button', onclick: () => acknowledge(key) }, 'Acknowledge'))));
    document.title = (items.length ? `(${items.length}) CRISIS · ` : '') + 'Hotline supervisor';
  }

  resume();
})();
