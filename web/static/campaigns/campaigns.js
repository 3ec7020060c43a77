// The campaigns page: outbound campaigns with their live progress, the
// controls to start, pause, resume and stop them, a new campaign with its
// contacts, the results as CSV, and the do-not-call list. It signs in with
// the supervisor desk's token and polls the API while open.
'use strict';

(() => {
  const D = HotlineDesk;
  const $ = (id) => document.getElementById(id);
  const el = D.el;
  let token = null;
  let poll = 0;

  // request calls the API with the token; body is JSON unless a type is
  // given. It returns the JSON answer, or the Response for other answers.
  async function request(method, path, body, type) {
    const headers = { Authorization: 'Bearer ' + token };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = type || 'application/json';
      init.body = type ? body : JSON.stringify(body);
    }
    const r = await fetch(path, init);
    if (r.status === 401) throw new D.AuthError('The token is no longer accepted.');
    const json = (r.headers.get('Content-Type') || '').startsWith('application/json');
    const data = json ? await r.json() : null;
    if (!r.ok) throw new Error((data && data.error) || r.statusText);
    return json ? data : r;
  }

  // guarded runs an action, showing its error; quiet (the periodic
  // refresh) leaves the last action's message in place.
  async function guarded(fn, quiet) {
    try {
      if (!quiet) $('board-msg').textContent = '';
      await fn();
    } catch (err) {
      if (err instanceof D.AuthError) signOut(err.message);
      else $('board-msg').textContent = err.message;
    }
  }

  // ---- sign in ----

  const { signOut, resume } = D.supervisorSignIn({
    check: async (t) => {
      token = t;
      try {
        await request('GET', '/api/v1/campaigns');
      } finally {
        token = null;
      }
    },
    start: (t) => {
      token = t;
      refresh();
      poll = setInterval(refresh, 3000);
    },
    stop: () => {
      clearInterval(poll);
      token = null;
    },
  });

  // ---- campaigns ----

  const actions = {
    draft: ['start', 'stop'],
    running: ['pause', 'stop'],
    paused: ['resume', 'stop'],
  };

  function refresh() {
    guarded(async () => {
      const [list, dnc] = await Promise.all([request('GET', '/api/v1/campaigns'), request('GET', '/api/v1/dnc')]);
      renderCampaigns(list.campaigns);
      renderDNC(dnc.numbers);
    }, true);
  }

  function renderCampaigns(list) {
    $('no-campaigns').hidden = list.length > 0;
    $('campaigns').replaceChildren(...list.map((c) => {
      const p = c.progress;
      const outcomes = Object.entries(p.attempts).filter(([, n]) => n > 0)
        .map(([o, n]) => el('span', { className: 'outcome' }, `${o.replace('_', ' ')} ${n}`));
      const buttons = (actions[c.state] || []).map((a) =>
        el('button', { type: 'button', onclick: () => guarded(async () => { await request('POST', `/api/v1/campaigns/${c.id}/${a}`); refresh(); }) }, a));
      buttons.push(el('button', { type: 'button', onclick: () => download(c) }, 'results'));
      return el('tr', { 'data-id': c.id },
        el('td', {}, el('strong', {}, c.spec.name), c.spec.purpose ? el('div', { className: 'muted' }, c.spec.purpose) : null),
        el('td', {}, el('span', { className: 'state state-' + c.state }, c.state)),
        el('td', { className: 'num' }, String(p.contacts)),
        el('td', { className: 'num' }, String(p.remaining)),
        el('td', { className: 'num' }, String(p.in_progress)),
        el('td', {}, ...outcomes, p.dnc ? el('span', { className: 'outcome' }, `do not call ${p.dnc}`) : null),
        el('td', {}, ...buttons));
    }));
    const sel = $('upload-to');
    const chosen = sel.value;
    sel.replaceChildren(...list.filter((c) => c.state !== 'stopped' && c.state !== 'completed')
      .map((c) => el('option', { value: String(c.id) }, c.spec.name)));
    if (chosen) sel.value = chosen;
  }

  async function download(c) {
    await guarded(async () => {
      const r = await request('GET', `/api/v1/campaigns/${c.id}/results`);
      const url = URL.createObjectURL(await r.blob());
      const a = el('a', { href: url, download: `campaign-${c.id}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
      URL.revokeObjectURL(url);
    });
  }

  // ---- new campaign ----

  // The form builds the API's campaign JSON; the browser's own checks
  // (required, min, max, pattern) catch the obvious mistakes first and
  // the API's 400 names the rest next to the form.
  const retryable = [['busy', 'Busy'], ['no_answer', 'Not answered'], ['failed', 'Failed'], ['machine', 'A machine']];
  $('retry').replaceChildren(...retryable.map(([o, label]) => {
    const attempts = el('input', { type: 'number', min: 1, max: 10, step: 1, id: `r-${o}-attempts`, 'aria-label': `${label}: attempts` });
    const wait = el('input', { type: 'number', min: 0, step: 1, id: `r-${o}-wait`, 'aria-label': `${label}: wait` });
    const unit = el('select', { id: `r-${o}-unit`, 'aria-label': `${label}: wait unit` },
      el('option', { value: 'm' }, 'minutes'), el('option', { value: 'h' }, 'hours'));
    const limit = () => { wait.max = unit.value === 'h' ? 168 : 168 * 60; };
    unit.addEventListener('change', limit);
    limit();
    // A wait is needed only with attempts.
    attempts.addEventListener('input', () => { wait.required = attempts.value !== ''; });
    return el('tr', {}, el('th', { scope: 'row' }, label), el('td', {}, attempts), el('td', {}, el('span', { className: 'unit' }, wait, unit)));
  }));

  if (Intl.supportedValuesOf) {
    $('zones').replaceChildren(...Intl.supportedValuesOf('timeZone').map((z) => el('option', { value: z })));
  }

  const days = [...document.querySelectorAll('#create input[name=day]')];
  const dayCheck = () => days[0].setCustomValidity(days.some((d) => d.checked) ? '' : 'Choose at least one day.');
  days.forEach((d) => d.addEventListener('change', dayCheck));

  const machine = () => document.querySelector('#create input[name=machine]:checked').value;
  for (const r of document.querySelectorAll('#create input[name=machine]')) {
    r.addEventListener('change', () => {
      const on = machine() === 'message';
      $('c-message').disabled = !on;
      $('c-message').required = on;
    });
  }

  // The greeting's hint lists the fields a contact has: the chosen CSV's
  // header, or the standard columns.
  function showFields(columns) {
    const list = columns.map((c) => `{${c}}`).join(', ');
    $('c-fields').textContent = `The contact's fields to use: ${list}.`;
  }
  showFields(['name', 'number', 'language', 'time_zone']);
  $('contacts').addEventListener('change', async () => {
    const file = $('contacts').files[0];
    if (!file) return showFields(['name', 'number', 'language', 'time_zone']);
    const header = (await file.slice(0, 4096).text()).replace(/^\uFEFF/, '').split(/\r?\n/)[0];
    const columns = header.split(',').map((c) => c.trim().replace(/^"|"$/g, '')).filter(Boolean);
    showFields(columns.includes('number') ? columns : ['name', 'number', 'language', 'time_zone']);
  });

  // spec is the campaign the form describes, as the API takes it.
  function spec() {
    const v = (id) => $(id).value.trim();
    const s = { name: v('c-name'), greeting: v('c-greeting') };
    if (v('c-purpose')) s.purpose = v('c-purpose');
    if (v('c-flow')) s.flow = v('c-flow');
    // A window ending at 00:00 ends at midnight, the API's 24:00.
    s.hours = { start: v('c-start'), end: v('c-end') === '00:00' ? '24:00' : v('c-end') };
    const chosen = days.filter((d) => d.checked).map((d) => Number(d.value)).sort();
    if (chosen.length < 7) s.hours.days = chosen;
    s.time_zone = v('c-zone');
    s.max_concurrent = Number(v('c-concurrent'));
    s.calls_per_second = Number(v('c-rate'));
    s.ring_timeout = `${Number(v('c-ring'))}s`;
    const retry = {};
    for (const [o] of retryable) {
      const n = v(`r-${o}-attempts`);
      if (n !== '') retry[o] = { attempts: Number(n), backoff: `${Number(v(`r-${o}-wait`))}${v(`r-${o}-unit`)}` };
    }
    if (Object.keys(retry).length) s.retry = retry;
    s.machine = { action: machine() };
    if (s.machine.action === 'message') s.machine.message = v('c-message');
    return s;
  }

  // showProblems lists the API's complaints ("campaign: a; b") one a line.
  function showProblems(msg) {
    const parts = msg.replace(/^campaign: /, '').split('; ');
    $('create-msg').replaceChildren(...parts.map((p) => el('div', {}, p)));
  }

  $('create').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('create-msg').replaceChildren();
    try {
      const c = await request('POST', '/api/v1/campaigns', spec());
      const file = $('contacts').files[0];
      if (file) {
        try {
          await request('POST', `/api/v1/campaigns/${c.id}/contacts`, await file.text(), 'text/csv');
        } catch (err) {
          if (err instanceof D.AuthError) throw err;
          throw new Error(`"${c.spec.name}" is created, but its contacts were refused: ${err.message}`);
        }
      }
      $('create').reset();
      $('c-message').disabled = true;
      $('c-message').required = false;
      for (const [o] of retryable) $(`r-${o}-wait`).required = false;
      showFields(['name', 'number', 'language', 'time_zone']);
      refresh();
    } catch (err) {
      if (err instanceof D.AuthError) signOut(err.message);
      else showProblems(err.message);
    }
  });

  $('upload').addEventListener('submit', (e) => {
    e.preventDefault();
    guarded(async () => {
      const file = $('upload-file').files[0];
      const r = await request('POST', `/api/v1/campaigns/${$('upload-to').value}/contacts`, await file.text(), 'text/csv');
      $('upload-file').value = '';
      $('board-msg').textContent = `${r.added} contacts added.`;
      refresh();
    });
  });

  // ---- do not call ----

  function renderDNC(numbers) {
    $('dnc').replaceChildren(...numbers.map((n) => el('li', {},
      el('span', {}, n.number), el('span', { className: 'reason' }, n.reason || ''),
      el('button', { type: 'button', onclick: () => guarded(async () => {
        await request('DELETE', '/api/v1/dnc/' + encodeURIComponent(n.number));
        refresh();
      }) }, 'remove'))));
  }

  $('dnc-add').addEventListener('submit', (e) => {
    e.preventDefault();
    guarded(async () => {
      await request('POST', '/api/v1/dnc', { number: $('dnc-number').value, reason: $('dnc-reason').value });
      $('dnc-number').value = '';
      $('dnc-reason').value = '';
      refresh();
    });
  });

  window.hotlineCampaigns = { refresh };
  resume();
})();
