// Hotline's desktop toolkit, shared by the agent and supervisor pages: the
// operator's API called with a bearer token, the live event stream, and
// the emotion display. Pages build their DOM with el(), which sets text
// only: nothing a caller said is ever parsed as HTML.
'use strict';

const HotlineDesk = (() => {
  // AuthError is a 401: the token expired or was never good.
  class AuthError extends Error {}

  async function request(method, path, token, body) {
    const headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    const init = { method, headers, cache: 'no-store' };
    if (body instanceof Blob) {
      // A document (text/markdown, ...) goes as it is, with its type.
      headers['Content-Type'] = body.type;
      init.body = body;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    let data = null;
    try { data = await r.json(); } catch { /* an answer without a JSON body */ }
    const msg = (data && data.error) || r.statusText || ('status ' + r.status);
    if (r.status === 401 && token) throw new AuthError(msg);
    if (!r.ok) throw Object.assign(new Error(msg), { status: r.status });
    return data;
  }

  // api is the operator's API as the token's holder.
  function api(token) {
    return {
      get: (path) => request('GET', path, token),
      post: (path, body) => request('POST', path, token, body),
      put: (path, body) => request('PUT', path, token, body),
    };
  }

  // login exchanges an agent's id and password for a token.
  function login(agent, password) {
    return request('POST', '/api/v1/login', '', { agent, password });
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // idleLimit: the server sends a heartbeat every 15 s; a stream silent
  // for longer than this is dead even if the socket has not noticed.
  const idleLimit = 45000;

  // live follows /api/v1/events. EventSource cannot send the token, so the
  // stream is read with fetch. handlers: event(e) for each event, status(s,
  // delayMs) with s 'live', 'reconnecting' or 'signed-out', and open() on
  // every connection, for the page to reload what it may have missed while
  // away. Reconnects back off from 1 s to 30 s with jitter. Returns stop().
  function live(token, handlers) {
    let stopped = false;
    let ctrl = null;
    (async () => {
      let failures = 0;
      while (!stopped) {
        ctrl = new AbortController();
        try {
          const r = await fetch('/api/v1/events', {
            headers: { Authorization: 'Bearer ' + token, Accept: 'text/event-stream' },
            cache: 'no-store',
            signal: ctrl.signal,
          });
          if (r.status === 401) { handlers.status('signed-out'); return; }
          if (!r.ok || !r.body) throw new Error('status ' + r.status);
          failures = 0;
          handlers.status('live');
          if (handlers.open) handlers.open();
          await readFrames(r.body, ctrl, handlers.event);
        } catch { /* dropped: reconnect below */ }
        if (stopped) return;
        failures++;
        const delay = Math.min(30000, 1000 * 2 ** Math.min(failures - 1, 5)) * (0.75 + Math.random() / 2);
        handlers.status('reconnecting', delay);
        await sleep(delay);
      }
    })();
    return () => { stopped = true; if (ctrl) ctrl.abort(); };
  }

  // readFrames parses server-sent events ("event:" and "data:" lines, a
  // blank line ending each) and hands each data's JSON to onEvent.
  async function readFrames(body, ctrl, onEvent) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let idle = setTimeout(() => ctrl.abort(), idleLimit);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(idle);
        idle = setTimeout(() => ctrl.abort(), idleLimit);
        buf += value;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (!data) continue;
          let e;
          try { e = JSON.parse(data); } catch { continue; }
          if (e && e.type) onEvent(e);
        }
      }
    } finally {
      clearTimeout(idle);
    }
  }

  // el makes an element: attrs are properties (className, hidden, ...) or,
  // for role and "data-" and "aria-" names, attributes; children are nodes
  // or text.
  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'role' || k.startsWith('data-') || k.startsWith('aria-')) n.setAttribute(k, v);
      else n[k] = v;
    }
    for (const c of children) {
      if (c !== null && c !== undefined) n.append(c);
    }
    return n;
  }

  // The emotion labels Hotline's prosody gives; anything else shows as
  // unknown rather than in a color that means something.
  const labels = ['calm', 'neutral', 'tense', 'angry', 'sad'];
  const trends = { rising: '↑', falling: '↓', steady: '→' };

  function emotionClass(label) {
    return 'emo emo-' + (labels.includes(label) ? label : 'unknown');
  }

  function trendArrow(trend) {
    return trends[trend] || '';
  }

  // emotionBadge is a label in its color, with the trend's arrow.
  function emotionBadge(point) {
    if (!point || !point.label) return el('span', { className: 'emo emo-unknown' }, '—');
    const arrow = trendArrow(point.trend);
    return el('span', { className: emotionClass(point.label), title: 'trend: ' + (point.trend || 'unknown') },
      point.label + (arrow ? ' ' + arrow : ''));
  }

  // duration writes milliseconds as m:ss, or h:mm:ss.
  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const hh = Math.floor(s / 3600);
    const mm = Math.floor(s / 60) % 60;
    const ss = String(s % 60).padStart(2, '0');
    return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
  }

  function clock(t) {
    return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  // Tokens live in the tab's session storage: a reload keeps the sign-in,
  // closing the tab ends it.
  const saved = {
    get: (k) => { try { return JSON.parse(sessionStorage.getItem(k)); } catch { return null; } },
    set: (k, v) => sessionStorage.setItem(k, JSON.stringify(v)),
    clear: (k) => sessionStorage.removeItem(k),
  };

  // typing reports whether a key press belongs to a form field, so that
  // the pages' one-letter shortcuts leave typing alone.
  function typing(e) {
    const t = e.target;
    return e.ctrlKey || e.metaKey || e.altKey || (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)));
  }

  // supervisorSignIn runs a supervisor page's sign-in with the token the
  // supervisor pages share in the tab: the #login form (#token,
  // #login-error), the #signout button and the #board it shows. check(token)
  // rejects a token the page cannot use; start(token) and stop() begin and
  // end the page's work. Returns signOut(why), and resume() to start with
  // the kept token once the page is ready.
  function supervisorSignIn({ check, start, stop }) {
    const $ = (id) => document.getElementById(id);
    const key = 'hotline.supervisor';

    function begin(token) {
      $('login').hidden = true;
      $('board').hidden = false;
      $('signout').hidden = false;
      start(token);
    }

    function signOut(why) {
      saved.clear(key);
      $('board').hidden = true;
      $('login').hidden = false;
      $('signout').hidden = true;
      $('login-error').textContent = why;
      stop();
    }

    $('login').addEventListener('submit', async (e) => {
      e.preventDefault();
      const token = $('token').value.trim();
      try {
        await check(token);
      } catch (err) {
        $('login-error').textContent = err instanceof AuthError ? 'That token is not accepted.' : err.status === 403 ? 'That token is not a supervisor\'s.' : err.message;
        return;
      }
      $('token').value = '';
      saved.set(key, token);
      begin(token);
    });

    $('signout').addEventListener('click', () => signOut(''));

    function resume() {
      const token = saved.get(key);
      if (token) begin(token);
    }

    return { signOut, resume };
  }

  return { AuthError, api, login, live, el, emotionClass, emotionBadge, trendArrow, duration, clock, saved, typing, supervisorSignIn };
})();
