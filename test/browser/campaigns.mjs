// campaigns.mjs drives the supervisors' campaigns page in headless
// Chromium: sign in, a bad contact file refused with its line named, a new
// campaign with its CSV, start, its progress to the end, the do-not-call
// list. It prints one JSON line per step and keeps screenshots.
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

  const spec = JSON.parse(await page.inputValue('#spec'));
  Object.assign(spec, { name: 'Browser reminders', hours: { start: '00:00', end: '24:00' }, calls_per_second: 20, max_concurrent: 2 });
  delete spec.time_zone;
  delete spec.retry;
  await page.fill('#spec', JSON.stringify(spec, null, 2));
  await page.click('#create button[type=submit]');
  const row = page.locator('#campaigns tr', { hasText: 'Browser reminders' });
  await row.waitFor();

  // A bad file is refused, naming its line.
  await page.selectOption('#upload-to', { label: 'Browser reminders' });
  await page.setInputFiles('#upload-file', badCSV);
  await page.click('#upload button[type=submit]');
  await page.waitForFunction(() => document.getElementById('board-msg').textContent.includes('line'));
  say('bad upload', { message: await page.textContent('#board-msg') });
  await page.screenshot({ path: `${shots}/campaigns-bad-upload.png`, fullPage: true });

  await page.setInputFiles('#upload-file', goodCSV);
  await page.click('#upload button[type=submit]');
  await page.waitForFunction(() => document.getElementById('board-msg').textContent.includes('added'));
  say('uploaded', { message: await page.textContent('#board-msg') });

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
