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

  const example = {
    name: 'Payment reminders',
    purpose: 'remind customers of a payment due',
    greeting: 'Hello {name}, this is Northwind Bank. Your {product} payment is due on {due_date}. Shall we book a reminder? Please say yes or no.',
    hours: { start: '09:00', end: '20:00', days: [1, 2, 3, 4, 5] },
    time_zone: 'Europe/Berlin',
    max_concurrent: 5,
    calls_per_second: 1,
    ring_timeout: '30s',
    retry: { busy: { attempts: 3, backoff: '10m' }, no_answer: { attempts: 2, backoff: '1h' } },
    machine: { action: 'message', message: 'This is Northwind Bank with a reminder about your {product} payment. Please call us back.' },
  };
  $('spec').value = JSON.stringify(example, null, 2);

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

  $('create').addEventListener('submit', (e) => {
    e.preventDefault();
    guarded(async () => {
      let spec;
      try {
        spec = JSON.parse($('spec').value);
      } catch (err) {
        throw new Error('The campaign is not JSON: ' + err.message);
      }
      const c = await request('POST', '/api/v1/campaigns', spec);
      const file = $('contacts').files[0];
      if (file) await request('POST', `/api/v1/campaigns/${c.id}/contacts`, await file.text(), 'text/csv');
      $('contacts').value = '';
      refresh();
    });
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
