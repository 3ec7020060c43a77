// The review page: the daily figures, the finished calls by intent,
// emotion, transfer, crisis or low recognizer confidence, and one call's
// redacted transcript beside its recording and emotion timeline. A
// supervisor marks Hotline's answers good or wrong, writes the right one,
// and in the same step teaches an intent the caller's words or publishes
// the right answer as a knowledge article.
'use strict';

(() => {
  const D = HotlineDesk;
  const $ = (id) => document.getElementById(id);
  const el = D.el;
  let api = null;
  let intents = [];
  let current = null; // the call shown
  // lowConfidence is the recognizer confidence under which a caller's turn
  // counts as badly heard.
  const lowConfidence = 0.6;
  const emotions = ['calm', 'neutral', 'tense', 'angry', 'sad'];

  // ---- sign in (the supervisor desk's token serves here too) ----

  const { signOut, resume } = D.supervisorSignIn({
    check: (token) => D.api(token).get('/api/v1/intents'),
    start,
    stop: () => { api = null; },
  });

  function start(token) {
    api = D.api(token);
    const today = new Date();
    $('until').value = day(today);
    $('since').value = day(new Date(today.getTime() - 6 * 86400000));
    $('f-emotion').replaceChildren(el('option', { value: '' }, 'any'), ...emotions.map((l) => el('option', { value: l }, l)));
    guarded(async () => {
      intents = (await api.get('/api/v1/intents')).intents;
      $('f-intent').replaceChildren(el('option', { value: '' }, 'any'), ...intents.map((i) => el('option', { value: i.name }, i.title)));
      await Promise.all([loadFigures(), loadCalls()]);
    });
  }

  // guarded runs fn, showing what went wrong.
  async function guarded(fn) {
    try {
      say('');
      await fn();
    } catch (err) {
      if (err instanceof D.AuthError) signOut('The token is no longer accepted.');
      else say(err.message, 'error');
    }
  }

  function say(text, kind) {
    $('board-msg').textContent = text;
    $('board-msg').dataset.kind = kind || '';
  }

  const day = (t) => t.toISOString().slice(0, 10);
  const pct = (n, of) => (of ? Math.round((100 * n) / of) + '%' : '—');

  // ---- daily figures ----

  $('range').addEventListener('submit', (e) => { e.preventDefault(); guarded(loadFigures); });

  async function loadFigures() {
    // The form's until is the last day shown; the API's is excluded.
    const until = new Date(Date.parse($('until').value) + 86400000);
    const f = await api.get(`/api/v1/figures?since=${$('since').value}&until=${day(until)}`);
    const sum = { calls: 0, contained: 0, handle: 0, crisis: 0, wrong: 0, transfers: {} };
    $('days').replaceChildren(...f.days.map((d) => {
      sum.calls += d.calls;
      sum.contained += d.contained;
      sum.handle += d.avg_handle_ms * d.calls;
      sum.crisis += d.crisis;
      sum.wrong += d.marked_wrong;
      for (const [r, n] of Object.entries(d.transfers)) sum.transfers[r] = (sum.transfers[r] || 0) + n;
      return figureRow(d.date, d.calls, d.contained, d.transfers, d.avg_handle_ms, d.crisis, d.marked_wrong);
    }));
    $('total').replaceChildren(figureRow('All days', sum.calls, sum.contained, sum.transfers,
      sum.calls ? sum.handle / sum.calls : 0, sum.crisis, sum.wrong));
  }

  function figureRow(label, calls, contained, transfers, handleMS, crisis, wrong) {
    const reasons = Object.entries(transfers).sort((a, b) => b[1] - a[1]);
    return el('tr', { 'data-day': label },
      el('td', {}, label),
      el('td', { className: 'num' }, String(calls)),
      el('td', { className: 'num' }, String(contained), el('span', { className: 'share' }, pct(contained, calls))),
      el('td', {}, reasons.length ? el('ul', { className: 'reasons' }, ...reasons.map(([r, n]) => el('li', {}, `${n} × ${r || 'no reason given'}`))) : '—'),
      el('td', { className: 'num' }, calls ? D.duration(handleMS) : '—'),
      el('td', { className: 'num' }, String(crisis)),
      el('td', { className: 'num' + (wrong ? ' wrong' : '') }, String(wrong)));
  }

  // ---- finished calls ----

  $('filters').addEventListener('submit', (e) => { e.preventDefault(); guarded(loadCalls); });

  async function loadCalls() {
    const q = new URLSearchParams({ ended: 'true', limit: '50' });
    for (const [k, id] of [['intent', 'f-intent'], ['emotion', 'f-emotion'], ['transferred', 'f-transferred']]) {
      if ($(id).value) q.set(k, $(id).value);
    }
    if ($('f-crisis').checked) q.set('crisis', 'true');
    if ($('f-lowconf').checked) q.set('below_confidence', String(lowConfidence));
    const page = await api.get('/api/v1/calls?' + q);
    $('calls').replaceChildren(...page.calls.map((c) => el('tr', {
      'data-id': String(c.id),
      'aria-selected': String(current !== null && current.id === c.id),
      tabIndex: 0,
      onclick: () => guarded(() => openCall(c.id)),
      onkeydown: (e) => { if (e.key === 'Enter') guarded(() => openCall(c.id)); },
    },
    el('td', {}, new Date(c.started_at).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })),
    el('td', {}, c.from || '—'),
    el('td', {}, c.disposition + (c.agent ? ' · ' + c.agent : '')),
    el('td', { className: 'num' }, String(c.turns)))));
    $('no-calls').hidden = page.calls.length > 0;
    // Counts the listings shown, for whoever waits for the next one.
    $('calls').dataset.shown = String(Number($('calls').dataset.shown || 0) + 1);
  }

  // ---- one call ----

  async function openCall(id) {
    const d = await api.get('/api/v1/calls/' + id);
    current = d;
    for (const tr of $('calls').children) tr.setAttribute('aria-selected', String(tr.dataset.id === String(id)));
    $('pick').hidden = true;
    $('call').hidden = false;
    const facts = [d.from, new Date(d.started_at).toLocaleString(), d.disposition, D.duration(d.talk_ms)];
    if (d.transfers.length) facts.push('transferred: ' + d.transfers.map((t) => t.reason || t.queue).filter(Boolean)[0]);
    if (d.alerts.length) facts.push('crisis alert');
    $('call-facts').textContent = facts.filter(Boolean).join(' · ');
    const rec = d.recordings.find((r) => r.kind === 'call' && r.play_url) || d.recordings.find((r) => r.play_url);
    $('audio').hidden = !rec;
    $('no-audio').hidden = !!rec;
    if (rec) $('audio').src = rec.play_url;
    else $('audio').removeAttribute('src');
    $('timeline').replaceChildren(...(d.emotions.length ? d.emotions.map((p) => el('li', { className: D.emotionClass(p.label), title: 'turn ' + p.seq }, p.label || '?'))
      : [el('li', { className: 'muted' }, 'No emotion cues.')]));
    renderTranscript(rec);
  }

  function renderTranscript(rec) {
    const d = current;
    const marks = new Map(d.marks.map((m) => [m.seq, m]));
    const recStart = rec ? Date.parse(rec.started_at) : 0;
    let lastCaller = '';
    $('transcript').replaceChildren(...d.transcript.map((t) => {
      const said = t.text || (t.key ? 'pressed ' + t.key : t.prompt ? '(prompt: ' + t.prompt + ')' : '');
      const head = el('div', { className: 'head' },
        el('span', { className: 'speaker' }, t.speaker === 'caller' ? 'Caller' : t.speaker === 'hotline' ? 'Hotline' : 'Agent'));
      if (rec) {
        const at = Math.max(0, (Date.parse(t.at) - recStart) / 1000);
        head.append(el('button', { type: 'button', className: 'seek', title: 'Play from here', onclick: () => { $('audio').currentTime = at; $('audio').play().catch(() => {}); } }, '▶ ' + D.duration(at * 1000)));
      }
      if (t.intent) head.append(el('span', { className: 'tag', 'data-intent': t.intent, title: 'the intent this answer served' }, titleOf(t.intent)));
      if (t.speaker === 'caller' && t.confidence !== undefined) {
        head.append(el('span', { className: 'tag' + (t.confidence < lowConfidence ? ' low' : ''), title: 'recognizer confidence' }, 'heard ' + Math.round(t.confidence * 100) + '%'));
      }
      if (t.emotion) head.append(el('span', { className: D.emotionClass(t.emotion) }, t.emotion));
      const li = el('li', { 'data-speaker': t.speaker, 'data-seq': String(t.seq) }, head, el('p', { className: 'said' }, said));
      if (t.speaker === 'hotline' && t.text) {
        li.append(markControls(t, marks.get(t.seq), lastCaller));
        const m = marks.get(t.seq);
        if (m) li.dataset.verdict = m.verdict;
      }
      if (t.speaker === 'caller' && t.text) lastCaller = t.text;
      return li;
    }));
  }

  function titleOf(name) {
    const i = intents.find((x) => x.name === name);
    return i ? i.title : name;
  }

  // markControls are an answer's good and wrong buttons, and for a wrong
  // one the right answer and what to teach with it.
  function markControls(t, mark, callerSaid) {
    const box = el('div', {});
    const verdictButton = (v, label) => el('button', {
      type: 'button', 'data-verdict': v, 'aria-pressed': String(!!mark && mark.verdict === v),
      onclick: () => (v === 'good' ? guarded(() => saveMark(t, 'good', '')) : showCorrection()),
    }, label);
    const row = el('div', { className: 'marking' }, verdictButton('good', '✓ Good'), verdictButton('wrong', '✗ Wrong'));
    if (mark) row.append(el('span', { className: 'marked' }, `marked ${mark.verdict} by ${mark.by}, ${D.clock(mark.at)}`));
    box.append(row);
    const panel = correctionPanel(t, mark, callerSaid);
    panel.hidden = !(mark && mark.verdict === 'wrong');
    box.append(panel);
    function showCorrection() {
      panel.hidden = false;
      panel.querySelector('textarea').focus();
    }
    return box;
  }

  function correctionPanel(t, mark, callerSaid) {
    const correction = el('textarea', { className: 'correction', placeholder: 'What Hotline should have said', value: mark ? mark.correction || '' : '' });
    const phrase = el('input', { className: 'phrase', value: callerSaid, placeholder: 'What the caller said' });
    const intent = el('select', { className: 'intent' }, el('option', { value: '' }, 'choose an intent'),
      ...intents.map((i) => el('option', { value: i.name, selected: i.name === t.intent }, i.title)));
    const title = el('input', { className: 'title', value: callerSaid, placeholder: 'Article title' });
    const note = el('p', { className: 'note', role: 'status' });
    const done = (text) => { note.className = 'done'; note.textContent = text; };
    const failed = (text) => { note.className = 'fail'; note.textContent = text; };
    // Each button saves the answer marked wrong with its correction first:
    // teaching is the same step.
    const act = (fn) => async () => {
      try {
        note.textContent = '';
        await fn();
      } catch (err) {
        if (err instanceof D.AuthError) signOut('The token is no longer accepted.');
        else failed(err.message);
      }
    };
    const saveWrong = async () => {
      const text = correction.value.trim();
      if (!text) throw new Error('Write the right answer first.');
      await saveMark(t, 'wrong', text, true);
    };
    return el('div', { className: 'correct' },
      el('label', {}, 'The right answer', correction),
      el('div', { className: 'marking' },
        el('button', { type: 'button', className: 'save', onclick: act(async () => { await saveWrong(); done('Marked wrong, with the right answer.'); }) }, 'Save as wrong')),
      el('div', { className: 'teach' },
        el('div', { className: 'pair' },
          el('label', {}, 'Example phrase', phrase),
          el('label', {}, 'for intent', intent)),
        el('button', {
          type: 'button', className: 'teach-phrase',
          onclick: act(async () => {
            if (!intent.value) throw new Error('Choose the intent the caller meant.');
            if (!phrase.value.trim()) throw new Error('Write what the caller said.');
            await saveWrong();
            const e = await api.post(`/api/v1/intents/${encodeURIComponent(intent.value)}/examples`, { phrase: phrase.value.trim(), call: current.id, seq: t.seq });
            done(`Marked wrong. “${e.phrase}” now means ${titleOf(e.intent)} on the next call.`);
          }),
        }, 'Save + add phrase')),
      el('div', { className: 'teach' },
        el('label', {}, 'Knowledge article title', title),
        el('button', {
          type: 'button', className: 'teach-article',
          onclick: act(async () => {
            if (!title.value.trim()) throw new Error('Give the article a title.');
            await saveWrong();
            const a = (await publishArticle(t, title.value.trim(), correction.value.trim())) || {};
            done(`Marked wrong. Article “${a.title || title.value.trim()}” published${a.version ? ", version " + a.version : ''}.`);
          }),
        }, 'Save + publish article')),
      note);
  }

  async function saveMark(t, verdict, correction, keepOpen) {
    const body = { verdict };
    if (correction) body.correction = correction;
    const m = await api.put(`/api/v1/calls/${current.id}/turns/${t.seq}/mark`, body);
    current.marks = current.marks.filter((x) => x.seq !== m.seq).concat([m]);
    const li = $('transcript').querySelector(`li[data-seq="${t.seq}"]`);
    li.dataset.verdict = m.verdict;
    for (const b of li.querySelectorAll('.marking button[data-verdict]')) b.setAttribute('aria-pressed', String(b.dataset.verdict === m.verdict));
    const label = li.querySelector('.marked') || li.querySelector('.marking').appendChild(el('span', { className: 'marked' }));
    label.textContent = `marked ${m.verdict} by ${m.by}, ${D.clock(m.at)}`;
    if (!keepOpen) li.querySelector('.correct').hidden = m.verdict !== 'wrong';
    guarded(loadFigures);
    return m;
  }

  // publishArticle puts the right answer into the knowledge base as a
  // Markdown article of its own, named after the answer it corrects.
  async function publishArticle(t, title, text) {
    const id = `review-${current.id}-${t.seq}`;
    const q = new URLSearchParams({ title, source: `review of call ${current.id}` });
    const doc = new Blob([`# ${title}\n\n${text}\n`], { type: 'text/markdown' });
    try {
      return await api.put(`/api/v1/knowledge/${id}?${q}`, doc);
    } catch (err) {
      if ([404, 405, 501].includes(err.status)) throw new Error('This node does not take knowledge articles through its API.');
      throw err;
    }
  }

  resume();
})();
