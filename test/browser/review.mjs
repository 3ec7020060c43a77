// review.mjs drives the review page in headless Chromium against the
// operator's API with calls in its store. It prints one JSON line per
// step on stdout:
//
//   {"step":"filtered", "filters":{...}}   the call ids each filter lists
//   {"step":"reviewed", ...}               what the call showed, the
//                      knowledge request the page sent, the figures after
//   {"step":"error", "error":"..."}        on any failure
//
// node review.mjs <API URL> <supervisor token> <screenshot dir> <call id to review>
import { chromium } from 'playwright-core';

const [base, token, shots, callID] = process.argv.slice(2);
if (!callID) {
  console.error('usage: node review.mjs <API URL> <supervisor token> <screenshot dir> <call id>');
  process.exit(2);
}
const wait = { timeout: 15000 };
const say = (o) => console.log(JSON.stringify(o));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error') console.error('review:', m.text()); });
  page.on('pageerror', (e) => { console.error('review error:', e.message); failed = true; });

  // The article the page publishes: its request, and the API's answer.
  const knowledge = [];
  page.on('request', (req) => {
    if (!req.url().includes('/api/v1/knowledge/')) return;
    knowledge.push({ method: req.method(), url: req.url(), type: req.headers()['content-type'], auth: req.headers().authorization || '', status: 0 });
  });
  page.on('response', (resp) => {
    const sent = knowledge.find((k) => k.url === resp.url() && !k.status);
    if (sent) sent.status = resp.status();
  });

  // A recording's requests: the audio element asks for ranges itself.
  const ranges = [];
  page.on('request', (r) => { if (r.url().includes('/recordings/')) ranges.push(r.headers().range || ''); });

  await page.goto(base + '/review/');
  await page.fill('#token', token);
  await page.press('#token', 'Enter');
  await page.waitForSelector('#days tr', wait);
  await page.waitForSelector('#calls tr', wait);
  await page.waitForFunction(() => document.querySelectorAll('#f-intent option').length > 1, null, wait);

  const listed = () => page.$$eval('#calls tr', (rows) => rows.map((r) => Number(r.dataset.id)));
  const applyFilter = async (set) => {
    await page.selectOption('#f-intent', set.intent || '');
    await page.selectOption('#f-emotion', set.emotion || '');
    await page.selectOption('#f-transferred', set.transferred || '');
    await page.setChecked('#f-crisis', !!set.crisis);
    await page.setChecked('#f-lowconf', !!set.low);
    const shown = await page.$eval('#calls', (t) => Number(t.dataset.shown));
    await page.click('#filters button[type="submit"]');
    await page.waitForFunction((n) => Number(document.getElementById('calls').dataset.shown) > n, shown, wait);
    return listed();
  };
  const filters = { all: await listed() };
  await page.screenshot({ path: `${shots}/review-list.png`, fullPage: true });
  filters.crisis = await applyFilter({ crisis: true });
  filters.transferred = await applyFilter({ transferred: 'yes' });
  filters.angry = await applyFilter({ emotion: 'angry' });
  filters.low = await applyFilter({ low: true });
  filters.lostCard = await applyFilter({ intent: 'lost_card' });
  say({ step: 'filtered', filters });

  // The call: its transcript beside the recording and the emotions.
  await page.click(`#calls tr[data-id="${callID}"]`);
  await page.waitForSelector('#transcript li', wait);
  await page.waitForFunction(() => document.getElementById('audio').readyState >= 1, null, wait);
  const call = await page.evaluate(() => ({
    audioSrc: document.getElementById('audio').getAttribute('src'),
    audioSeconds: document.getElementById('audio').duration,
    timeline: [...document.querySelectorAll('#timeline li')].map((li) => li.className),
    transcript: [...document.querySelectorAll('#transcript > li')].map((li) => li.dataset.speaker + ': ' + li.querySelector('.said').textContent),
    tags: [...document.querySelectorAll('#transcript .tag')].map((s) => s.textContent),
  }));
  // Play from the wrong answer's turn: the element seeks in the file.
  await page.click('#transcript li[data-speaker="hotline"] .seek');
  await page.waitForFunction(() => !document.getElementById('audio').paused || document.getElementById('audio').ended, null, wait);
  await page.screenshot({ path: `${shots}/review-call.png`, fullPage: true });

  // The first answer was wrong: the right one, and in the same step the
  // caller's words become an example phrase of lost_card.
  const answer = page.locator('#transcript li[data-speaker="hotline"]').first();
  const seq = Number(await answer.getAttribute('data-seq'));
  await answer.locator('button[data-verdict="wrong"]').click();
  await answer.locator('textarea.correction').fill('I am sorry the machine kept your card. I can block it now and send you a new one.');
  const prefilled = await answer.locator('input.phrase').inputValue();
  await answer.locator('select.intent').selectOption('lost_card');
  await answer.locator('button.teach-phrase').click();
  await answer.locator('.note.done, p.done').waitFor(wait);
  const phraseNote = await answer.locator('p.done').textContent();
  await page.screenshot({ path: `${shots}/review-marked.png`, fullPage: true });

  // And as a knowledge article.
  await answer.locator('button.teach-article').click();
  await page.waitForFunction(() => /Article/.test(document.querySelector('#transcript li[data-speaker="hotline"] p.done, #transcript li[data-speaker="hotline"] p.fail')?.textContent || ''), null, wait);
  const articleNote = await answer.locator('p.done, p.fail').textContent();

  // The figures count the answer marked wrong.
  await page.waitForFunction(() => [...document.querySelectorAll('#days tr')].some((tr) => tr.lastElementChild.textContent === '1'), null, wait);
  const figures = await page.$$eval('#days tr, #total tr', (rows) => rows.map((tr) => [...tr.cells].map((c) => c.textContent)));
  const verdict = await answer.getAttribute('data-verdict');
  await page.screenshot({ path: `${shots}/review-figures.png`, fullPage: true });
  if (failed) throw new Error('the page threw an error (see the log)');
  say({ step: 'reviewed', call, seq, prefilled, phraseNote, articleNote, verdict, knowledge, ranges, figures });
} catch (e) {
  for (const [i, p] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    await p.screenshot({ path: `${shots}/review-failed-${i}.png`, fullPage: true }).catch(() => {});
  }
  say({ step: 'error', error: String((e && e.message) || e) });
  process.exitCode = 1;
} finally {
  await browser.close();
}
process.exit();
