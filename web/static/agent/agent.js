// The agent desktop: sign in, go ready or not ready, and see the call the
// assistant hands over: the caller, the queue, the assistant's summary,
// the conversation so far and the caller's mood, live from the event
// stream (which carries this agent's calls only).
//
// Call audio belongs to the phone. The browser phone (phone.js), connected
// while the agent is signed in, installs window.hotlineAgent = {accept(),
// reject(), mute(on), hold(on), hangup()} and then dispatches a
// "hotline-agent-phone" event on window; until then the audio controls
// stay disabled and the audio is on the SIP phone.
'use strict';

(() => {
  const D = HotlineDesk;
  const $ = (id) => document.getElementById(id);
  const stateNames = {
    available: 'Available', not_ready: 'Not ready', offline: 'Offline',
    ringing: 'Ringing', on_call: 'On a call', wrap_up: 'Wrap-up',
  };
  let session = D.saved.get('hotline.agent'); // {token, agent}
  let api = null;
  let stopLive = null;
  let stopPhone = null;
  let call = null; // the call on screen; see newCall
  let poll = 0;

  function say(text, kind) {
    $('desk-msg').textContent = text;
    $('desk-msg').dataset.kind = kind || '';
  }

  // ---- sign in and out ----

  $('login').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('login-error').textContent = '';
    try {
      const r = await D.login($('agent-id').value.trim(), $('password').value);
      session = { token: r.token, agent: r.agent };
      D.saved.set('hotline.agent', session);
      $('password').value = '';
      start();
    } catch (err) {
      $('login-error').textContent = err.status === 429 ? 'Too many attempts: wait a minute and try again.' : err.message;
    }
  });

  $('signout').addEventListener('click', () => signOut(''));

  function signOut(why) {
    if (stopLive) stopLive();
    if (stopPhone) stopPhone();
    stopPhone = null;
    clearInterval(poll);
    session = null;
    D.saved.clear('hotline.agent');
    $('desk').hidden = true;
    $('login').hidden = false;
    $('signout').hidden = true;
    $('who').textContent = '';
    showState({ state: 'offline' }, 'Signed out');
    liveStatus('signed-out');
    $('login-error').textContent = why;
  }

  function start() {
    api = D.api(session.token);
    $('login').hidden = true;
    $('desk').hidden = false;
    $('signout').hidden = false;
    $('who').textContent = session.agent;
    stopLive = D.live(session.token, { event: onEvent, status: liveStatus, open: refresh });
    stopPhone = HotlineAgentPhone.connect(session.token, { ring: onRing, cancel: onCancel, state: onPhone, error: (t) => say(t, 'error') });
    poll = setInterval(refresh, 10000);
  }

  // guarded runs an API call; an expired sign-in ends the session.
  async function guarded(fn) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof D.AuthError) signOut('Your sign-in has expired: sign in again.');
      else say(err.message, 'error');
      return undefined;
    }
  }

  function liveStatus(s, delay) {
    const p = $('live');
    p.dataset.state = s;
    p.textContent = s === 'reconnecting' ? `reconnecting in ${Math.round(delay / 1000)} s` : s === 'live' ? 'live' : 'offline';
    if (s === 'signed-out' && session) signOut('Your sign-in has expired: sign in again.');
  }

  // ---- state ----

  function showState(a, text) {
    const p = $('state');
    p.dataset.state = a.state;
    p.textContent = text || (stateNames[a.state] || a.state) + (a.reason ? ': ' + a.reason : '');
  }

  async function refresh() {
    if (!session) return;
    await guarded(async () => {
      const me = await api.get('/api/v1/agents/' + encodeURIComponent(session.agent)).catch((err) => {
        if (err.status === 404) return null; // not a routing agent on this node yet
        throw err;
      });
      if (me) showState(me);
      const q = await api.get('/api/v1/queues');
      const line = q.queues.map((x) => `${x.name}: ${x.waiting} waiting` + (x.waiting ? `, longest ${D.duration(x.longest_wait_ms)}` : ''));
      $('queues').textContent = line.length ? line.join(' · ') : 'No queues.';
      const sel = $('transfer-queue');
      const names = q.queues.map((x) => x.name);
      if (sel.options.length !== names.length) {
        sel.replaceChildren(...names.map((n) => new Option(n, n)));
      }
    });
  }

  // transfer hands the call on screen on to the chosen queue: the caller
  // waits there for the next agent, and this call ends for you.
  async function transfer(ev) {
    if (ev) ev.preventDefault();
    if (!session || !call) return;
    const queue = $('transfer-queue').value;
    const ok = await guarded(async () => {
      await api.post('/api/v1/transfers', { call_id: call.id, queue });
      return true;
    });
    if (ok) say(`Transferred to ${queue}.`, 'info');
  }

  async function setState(state) {
    if (!session) return;
    const body = { state };
    if (state === 'not_ready') body.reason = $('reason').value;
    const ok = await guarded(async () => {
      await api.post('/api/v1/agents/' + encodeURIComponent(session.agent) + '/state', body);
      return true;
    });
    if (!ok) return;
    say(state === 'available' ? 'You are ready for calls.' : 'You are not ready: ' + body.reason + '.');
    if (call && call.ended) clearCall();
    refresh();
  }

  $('ready').addEventListener('click', () => setState('available'));
  $('not-ready').addEventListener('click', () => setState('not_ready'));

  // ---- the call ----

  function newCall(id) {
    call = { id, from: '', started: Date.now(), connected: false, ended: false, turns: 0 };
    $('caller').textContent = '—';
    $('queue').textContent = '—';
    $('transfer-reason').textContent = '—';
    $('summary').textContent = 'No summary.';
    $('transcript').replaceChildren();
    $('timeline').replaceChildren();
    showEmotion(null);
    $('call-phase').textContent = 'Incoming call';
    $('call-time').textContent = '—';
    say('');
    $('waiting').hidden = true;
    $('wrapup').hidden = true;
    $('call').hidden = false;
    phoneControls();
  }

  function clearCall() {
    call = null;
    $('call').hidden = true;
    $('wrapup').hidden = true;
    $('waiting').hidden = false;
  }

  // onEvent applies one live event. A new call replaces the one on screen
  // only once that one has ended: a late event of an old call does not
  // take the screen away from the caller on the line.
  function onEvent(e) {
    if (!e.call_id) return;
    if (!call || call.id !== e.call_id) {
      if (call && !call.ended) return;
      if (e.type === 'call.ended') return;
      newCall(e.call_id);
    }
    const d = e.data || {};
    switch (e.type) {
      case 'call.started':
        if (d.from) $('caller').textContent = d.from;
        break;
      case 'transfer':
        if (d.queue) $('queue').textContent = d.queue;
        if (d.reason) $('transfer-reason').textContent = d.reason;
        if (d.summary) $('summary').textContent = d.summary;
        break;
      case 'agent.connected':
        call.connected = true;
        call.started = Date.parse(e.at) || Date.now();
        $('call-phase').textContent = 'On the call';
        showTime();
        if (d.queue) $('queue').textContent = d.queue;
        refresh();
        break;
      case 'turn':
        addTurn(d);
        break;
      case 'call.ended':
        endCall(d);
        break;
    }
  }

  // onRing shows the call that rings at the browser phone: the screen pop
  // comes with the ring, before the call's events.
  function onRing(m) {
    if (!call || call.id !== m.call || call.ended) newCall(m.call);
    if (m.from) $('caller').textContent = m.from;
    if (m.queue) $('queue').textContent = m.queue;
    if (m.summary) $('summary').textContent = m.summary;
    $('call-phase').textContent = 'Ringing: A to accept';
    phoneControls();
  }

  function onCancel(m) {
    if (call && call.id === m.call && !call.connected) clearCall();
    say(m.reason === 'timeout' ? 'You missed a call.' : 'The caller is no longer waiting.');
    refresh();
  }

  function onPhone(s) {
    $('call').dataset.phone = s;
    if (s === 'connecting' && call) $('call-phase').textContent = 'Connecting…';
    if (s === 'connected' && call) $('call-phase').textContent = 'On the call';
    if (s === 'idle') for (const id of ['mute', 'hold']) $(id).setAttribute('aria-pressed', 'false');
    phoneControls();
  }

  function addTurn(t) {
    const text = t.text || (t.prompt ? '(' + t.prompt + ')' : '') || (t.key ? 'pressed ' + t.key : '');
    if (!text) return;
    const caller = t.speaker === 'caller';
    const line = D.el('li', { 'data-speaker': t.speaker },
      D.el('span', { className: 'speaker' }, caller ? 'Caller' : t.speaker === 'agent' ? 'You' : 'Assistant'),
      text,
      caller && t.emotion ? D.emotionBadge(t.emotion) : null);
    const list = $('transcript');
    const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    list.append(line);
    if (atEnd) list.scrollTop = list.scrollHeight;
    if (caller && t.emotion) {
      call.turns++;
      showEmotion(t.emotion);
      $('timeline').append(D.el('li', {
        className: D.emotionClass(t.emotion.label),
        title: `turn ${t.emotion.turn || call.turns}: ${t.emotion.label}`,
        'aria-label': `turn ${t.emotion.turn || call.turns}: ${t.emotion.label}`,
      }));
    }
  }

  function showEmotion(p) {
    const label = $('emotion-label');
    label.className = p ? D.emotionClass(p.label) : 'emo emo-unknown';
    label.textContent = p ? p.label : '—';
    $('emotion-trend').textContent = (p && D.trendArrow(p.trend)) || '·';
    $('emotion-trend').title = 'Trend: ' + ((p && p.trend) || 'unknown');
    const arousal = p && typeof p.arousal === 'number' ? Math.min(1, Math.max(0, p.arousal)) : 0;
    $('arousal-bar').style.width = Math.round(arousal * 100) + '%';
  }

  function endCall(d) {
    call.ended = true;
    $('call-phase').textContent = 'Call ended';
    const talked = call.connected ? ' after ' + D.duration(Date.now() - call.started) : '';
    const who = d.side === 'caller' ? 'The caller hung up' : d.side === 'agent' ? 'You hung up' : 'The call ended';
    $('wrapup-text').textContent = `${who}${talked}` + (d.disposition ? ` (${d.disposition.replace(/_/g, ' ')}).` : '.');
    $('wrapup').hidden = false;
    phoneControls();
    refresh();
  }

  function showTime() {
    if (call && call.connected && !call.ended) $('call-time').textContent = D.duration(Date.now() - call.started);
  }
  setInterval(showTime, 1000);

  // ---- audio: the browser phone's hook ----

  function phone() {
    return typeof window.hotlineAgent === 'object' && window.hotlineAgent ? window.hotlineAgent : null;
  }

  function phoneControls() {
    const p = phone();
    $('phone').textContent = p ? 'phone: browser' : 'phone: SIP';
    $('phone-note').hidden = !!p;
    const live = !!(p && call && !call.ended);
    for (const id of ['accept', 'reject', 'mute', 'hold', 'hangup']) $(id).disabled = !live;
  }

  function audio(action) {
    const p = phone();
    if (!p || !call || call.ended) {
      say('Call audio is on your SIP phone: use its buttons.');
      return;
    }
    if (action === 'mute' || action === 'hold') {
      const b = $(action);
      const on = b.getAttribute('aria-pressed') !== 'true';
      b.setAttribute('aria-pressed', String(on));
      p[action](on);
      return;
    }
    p[action]();
  }

  for (const id of ['accept', 'reject', 'mute', 'hold', 'hangup']) $(id).addEventListener('click', () => audio(id));
  $('transfer').addEventListener('submit', transfer);
  window.addEventListener('hotline-agent-phone', phoneControls);

  // ---- keyboard ----

  document.addEventListener('keydown', (e) => {
    if (!session || D.typing(e)) return;
    const act = { r: () => setState('available'), n: () => setState('not_ready'), a: () => audio('accept'), h: () => audio('hangup'), t: () => transfer() }[e.key.toLowerCase()];
    if (act) {
      e.preventDefault();
      act();
    }
  });

  phoneControls();
  if (session) start();
})();
