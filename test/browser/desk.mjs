// desk.mjs drives the agent and supervisor desktops in headless Chromium,
// step by step with the Go test that feeds the live events. It prints one
// JSON line per step on stdout; the test answers on stdin with "go" when
// it has done its part.
//
//   {"step":"ready"}  both desktops are live and the agent pressed R
//   (the test publishes a handed-over call and a crisis alert)
//   {"step":"seen", "agent":{...}, "supervisor":{...}}  what they show;
//                      the supervisor has acknowledged the alert
//   (the test ends the call)
//   {"step":"done", "wrapup":"..."}  the agent in wrap-up, the call off
//                      the supervisor's live calls
//   {"step":"error", "error":"..."} on any failure
//
// node desk.mjs <API URL> <supervisor token> <agent> <password> <screenshot dir>
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const [base, supToken, agentID, password, shots] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node desk.mjs <API URL> <supervisor token> <agent> <password> <screenshot dir>');
  process.exit(2);
}
const wait = { timeout: 15000 };
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (o) => console.log(JSON.stringify(o));
async function answer() {
  const { value, done } = await lines.next();
  if (done || value.trim() !== 'go') throw new Error('the test stopped: ' + (value || 'stdin closed'));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox'],
});
let failed = false;
try {
  const open = async (name) => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('console', (m) => { if (m.type() === 'error') console.error(`${name}:`, m.text()); });
    page.on('pageerror', (e) => { console.error(`${name} error:`, e.message); failed = true; });
    return page;
  };

  const sup = await open('supervisor');
  await sup.goto(base + '/supervisor/');
  await sup.fill('#token', supToken);
  await sup.press('#token', 'Enter');
  await sup.waitForSelector('#live[data-state="live"]', wait);
  await sup.waitForSelector('#queues tr', wait);

  const agent = await open('agent');
  await agent.goto(base + '/agent/');
  await agent.fill('#agent-id', agentID);
  await agent.fill('#password', password);
  await agent.press('#password', 'Enter');
  await agent.waitForSelector('#live[data-state="live"]', wait);
  await agent.locator('body').press('r');
  await agent.waitForSelector('#state[data-state="available"]', wait);
  say({ step: 'ready' });
  await answer();

  await agent.waitForFunction(() => document.querySelectorAll('#timeline li').length >= 2 && document.getElementById('summary').textContent !== 'No summary.', null, wait);
  await agent.waitForSelector('#state[data-state="on_call"]', wait);
  const agentView = await agent.evaluate(() => {
    const text = (id) => document.getElementById(id).textContent.trim();
    return {
      state: text('state'),
      phone: text('phone'),
      caller: text('caller'),
      queue: text('queue'),
      reason: text('transfer-reason'),
      summary: text('summary'),
      emotion: text('emotion-label'),
      emotionClass: document.getElementById('emotion-label').className,
      trend: text('emotion-trend'),
      arousal: document.getElementById('arousal-bar').style.width,
      timeline: [...document.querySelectorAll('#timeline li')].map((li) => li.className),
      transcript: [...document.querySelectorAll('#transcript li')].map((li) => li.textContent),
      audioDisabled: ['accept', 'reject', 'mute', 'hold', 'hangup'].every((id) => document.getElementById(id).disabled),
      shortcuts: document.querySelector('.keys').textContent.replace(/\s+/g, ' ').trim(),
    };
  });
  await agent.screenshot({ path: `${shots}/agent-call.png`, fullPage: true });
  // The agent hands the call on to the crisis queue with T.
  await agent.selectOption('#transfer-queue', 'crisis');
  await agent.locator('body').press('t');
  await agent.waitForFunction(() => document.getElementById('desk-msg').textContent.includes('Transferred to crisis'), null, wait);

  await sup.waitForSelector('.alert[data-key^="id:"]', wait);
  await sup.waitForFunction(() => document.querySelector('#calls [data-call] .emo-angry'), null, wait);
  await sup.waitForSelector('#agents [data-state="on_call"]', wait);
  const supView = await sup.evaluate(() => ({
    title: document.title,
    alerts: [...document.querySelectorAll('.alert')].map((a) => a.textContent),
    queues: [...document.querySelectorAll('#queues tr')].map((tr) => [...tr.cells].map((c) => c.textContent)),
    agents: document.getElementById('agents').textContent,
    calls: [...document.querySelectorAll('#calls tr')].map((tr) => [...tr.cells].map((c) => c.textContent)),
    nodes: document.getElementById('nodes-panel').hidden ? [] : [...document.querySelectorAll('#nodes tr')].map((tr) => [...tr.cells].map((c) => c.textContent)),
  }));
  await sup.screenshot({ path: `${shots}/supervisor-alert.png`, fullPage: true });
  await sup.click('.alert button');
  await sup.waitForFunction(() => !document.querySelector('.alert'), null, wait);
  say({ step: 'seen', agent: agentView, supervisor: supView });
  await answer();

  await agent.waitForSelector('#wrapup:not([hidden])', wait);
  await sup.waitForFunction(() => !document.querySelector('#calls [data-call="desk-call-1@test"]'), null, wait);
  const wrapup = await agent.$eval('#wrapup-text', (e) => e.textContent);
  await agent.screenshot({ path: `${shots}/agent-wrapup.png`, fullPage: true });
  await sup.screenshot({ path: `${shots}/supervisor.png`, fullPage: true });
  // Signing out leaves the sign-in form without a complaint.
  await sup.click('#signout');
  await sup.waitForSelector('#login:not([hidden])', wait);
  const signedOut = await sup.$eval('#login-error', (e) => e.textContent);
  if (failed) throw new Error('a page threw an error (see the log)');
  say({ step: 'done', wrapup, signedOut });
} catch (e) {
  // What the pages showed when it failed.
  for (const [i, page] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    await page.screenshot({ path: `${shots}/failed-${i}.png`, fullPage: true }).catch(() => {});
  }
  say({ step: 'error', error: String((e && e.message) || e) });
  process.exitCode = 1;
} finally {
  await browser.close();
}
process.exit();
