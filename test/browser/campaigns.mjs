// campaigns.mjs drives the supervisors' campaigns page in headless
// Chromium: sign in, a new campaign filled in on the form (held back when
// empty, the API's refusal shown next to it) with its CSV, a bad contact
// file refused with its line named, start, its progress to the end, the
// do-not-call list. It prints one JSON line per step and keeps screenshots.
//
// node campaigns.mjs <API URL> <supervisor token> <good CSV> <bad CSV> <screenshot dir>
import { chromium } from 'playwright-core';

const [base, token, goodCSV, badCSV, shots] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node campaigns.mjs <API URL> <supervisor token> <good CSV> <bad CSV> <screenshot dir>');
  process.exit(2);
}
const say = (step, more) => console.log(JSON.stringify({ step, ...more }));

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.on('pageerror', (e) => say('page error', { error: String(e) }));
try {
  await page.goto(base + '/campaigns/');
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#board:not([hidden])');
  say('signed in');

  // The new campaign is a form; every POST of a campaign is kept to
  // compare its JSON with what the form says.
  const posted = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/campaigns') posted.push(r.postData());
  });

  // An empty form is held back by the browser's own checks.
  await page.focus('#c-name');
  await page.keyboard.press('Enter');
  const invalid = await page.$$eval('#create :invalid', (els) => els.map((e) => e.id).filter(Boolean));
  say('held back', { invalid, posts: posted.length });

  await page.fill('#c-name', 'Browser reminders');
  await page.fill('#c-purpose', 'remind customers of a payment due');
  await page.fill('#c-greeting', 'Hello {name}, your {product} payment is due on {due_date}. Shall we book a reminder?');
  await page.setInputFiles('#contacts', goodCSV);
  await page.waitForFunction(() => document.getElementById('c-fields').textContent.includes('{due_date}'));
  say('fields', { message: await page.textContent('#c-fields') });
  await page.fill('#c-flow', 'reminders');
  await page.fill('#c-start', '09:00');
  await page.fill('#c-end', '08:00');
  await page.fill('#c-zone', 'Europe/Berlin');
  await page.fill('#c-concurrent', '2');
  await page.fill('#c-rate', '20');
  await page.fill('#c-ring', '25');
  await page.fill('#r-no_answer-attempts', '2');
  await page.fill('#r-no_answer-wait', '1');
  await page.selectOption('#r-no_answer-unit', 'h');
  await page.check('#create input[name=machine][value=message]');
  await page.fill('#c-message', 'This is Northwind Bank about your {product} payment. Please call us back.');
  await page.screenshot({ path: `${shots}/campaigns-form.png`, fullPage: true });

  // The API refuses a window that ends before it starts, next to the form.
  await page.click('#create button[type=submit]');
  await page.waitForFunction(() => document.getElementById('create-msg').textContent !== '');
  say('refused', { message: await page.textContent('#create-msg') });
  await page.screenshot({ path: `${shots}/campaigns-form-refused.png`, fullPage: true });

  // All day long (until 00:00 is midnight); Enter submits.
  await page.fill('#c-start', '00:00');
  await page.fill('#c-end', '00:00');
  await page.focus('#c-name');
  await page.keyboard.press('Enter');
  const row = page.locator('#campaigns tr', { hasText: 'Browser reminders' });
  await row.waitFor();
  await page.waitForFunction(() => document.getElementById('c-name').value === '');
  say('created', { cells: await row.locator('td').allTextContents(), spec: posted.at(-1), message: await page.textContent('#create-msg') });

  // A bad file is refused, naming its line.
  await page.selectOption('#upload-to', { label: 'Browser reminders' });
  await page.setInputFiles('#upload-file', badCSV);
  await page.click('#upload button[type=submit]');
  await page.waitForFunction(() => document.getElementById('board-msg').textContent.includes('line'));
  say('bad upload', { message: await page.textContent('#board-msg') });
  await page.screenshot({ path: `${shots}/campaigns-bad-upload.png`, fullPage: true });

  await page.fill('#dnc-number', '+49 30 333');
  await page.fill('#dnc-reason', 'asked by letter');
  await page.click('#dnc-add button[type=submit]');
  await page.locator('#dnc li', { hasText: '+4930333' }).waitFor();

  await row.locator('button', { hasText: 'start' }).click();
  await row.locator('.state-completed').waitFor({ timeout: 20000 });
  const cells = await row.locator('td').allTextContents();
  const dnc = await page.locator('#dnc li').allTextContents();
  await page.screenshot({ path: `${shots}/campaigns.png`, fullPage: true });
  say('completed', { cells, dnc });

  const [download] = await Promise.all([page.waitForEvent('download'), row.locator('button', { hasText: 'results' }).click()]);
  const path = `${shots}/results.csv`;
  await download.saveAs(path);
  say('results', { path });
} catch (e) {
  say('failed', { error: String(e) });
  await page.screenshot({ path: `${shots}/campaigns-failed.png`, fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
