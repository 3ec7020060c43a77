// call.mjs drives the caller page in headless Chromium: it clicks Call,
// waits for "connected", talks (Chromium's fake microphone plays the WAV
// given), presses a key, reads the call's WebRTC statistics, hangs up, and
// prints one JSON line with what it saw.
//
// node call.mjs <page URL> <WAV file> [seconds] [screenshot.png]
// HOTLINE_NO_KEYS=1 leaves the keypad alone.
import { launchWithMic } from './launch.mjs';

const [url, wav, seconds = '4', shot] = process.argv.slice(2);
if (!url || !wav) {
  console.error('usage: node call.mjs <page URL> <WAV file> [seconds] [screenshot.png]');
  process.exit(2);
}

const browser = await launchWithMic(wav);
const result = { states: [] };
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(url);
  result.title = await page.title();
  await page.click('#call');
  await page.waitForFunction(() => window.hotlineCaller.state() === 'connected', null, { timeout: 15000 });
  result.states.push('connected');
  await page.waitForTimeout(Number(seconds) * 1000 / 2);
  if (!process.env.HOTLINE_NO_KEYS) {
    await page.click('#keys summary');
    await page.click('.keypad button:has-text("5")');
  }
  await page.waitForTimeout(Number(seconds) * 1000 / 2);
  result.stats = await page.evaluate(() => window.hotlineCaller.stats());
  result.meter = await page.$eval('#level', (e) => e.style.width);
  if (shot) await page.screenshot({ path: shot });
  await page.click('#hangup');
  await page.waitForFunction(() => window.hotlineCaller.state() === 'ended', null, { timeout: 5000 });
  result.states.push('ended');
  result.status = await page.$eval('#status', (e) => e.textContent);
} catch (e) {
  result.error = String(e && e.message || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.error ? 1 : 0);
