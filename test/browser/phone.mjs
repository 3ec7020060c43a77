// phone.mjs drives the agent desktop's browser phone in headless Chromium:
// it signs the agent in, waits for the phone to connect, presses R
// (Ready), waits for a call to ring, reads the screen pop, presses A
// (accept), talks (Chromium's fake microphone plays the WAV given) while
// sampling the call's WebRTC statistics, and waits for the caller to hang
// up. It prints one JSON line with what it saw.
//
// node phone.mjs <API URL> <agent> <password> <WAV file> <screenshot dir>
import { launchWithMic } from './launch.mjs';

const [api, agent, password, wav, shots] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node phone.mjs <API URL> <agent> <password> <WAV file> <screenshot dir>');
  process.exit(2);
}

const browser = await launchWithMic(wav);
const result = { samples: [] };
const say = (step) => console.error(`phone.mjs: ${step}`);
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
  page.on('pageerror', (e) => { console.error('page error:', e.message); result.pageError = e.message; });
  await page.goto(api + '/agent/');
  await page.fill('#agent-id', agent);
  await page.fill('#password', password);
  await page.click('#login button[type=submit]');
  await page.waitForFunction(() => window.hotlineAgent && window.hotlineAgent.state() === 'idle', null, { timeout: 15000 });
  result.phone = await page.$eval('#phone', (e) => e.textContent);
  say('phone connected');
  await page.locator('body').press('r');
  await page.waitForSelector('#state[data-state="available"]', { timeout: 10000 });
  result.ready = true;
  say('ready');

  await page.waitForFunction(() => window.hotlineAgent.state() === 'ringing', null, { timeout: 90000 });
  result.ringing = await page.evaluate(() => ({
    caller: document.getElementById('caller').textContent,
    queue: document.getElementById('queue').textContent,
    summary: document.getElementById('summary').textContent,
    phase: document.getElementById('call-phase').textContent,
    acceptEnabled: !document.getElementById('accept').disabled,
  }));
  await page.screenshot({ path: `${shots}/agent-ringing.png` });
  say('ringing');
  await page.locator('body').press('a');
  await page.waitForFunction(() => window.hotlineAgent.state() === 'connected', null, { timeout: 15000 });
  result.connected = true;
  say('connected');

  // Until the caller hangs up (the phone goes idle), sample what is heard.
  let shot = false;
  for (let i = 0; i < 120; i++) {
    const st = await page.evaluate(() => window.hotlineAgent.state());
    if (st !== 'connected') break;
    const s = await page.evaluate(() => window.hotlineAgent.stats());
    if (s) result.samples.push({ level: s.audioLevel || 0, energy: s.totalAudioEnergy || 0, received: s.packetsReceived || 0, sent: s.packetsSent || 0, codec: s.codec });
    if (!shot && i >= 6) {
      await page.screenshot({ path: `${shots}/agent-on-call.png` });
      shot = true;
    }
    await page.waitForTimeout(500);
  }
  result.ended = await page.evaluate(() => window.hotlineAgent.state());
  await page.waitForTimeout(1500); // the call's last events
  result.after = await page.evaluate(() => ({
    phase: document.getElementById('call-phase').textContent,
    wrapup: document.getElementById('wrapup').hidden ? '' : document.getElementById('wrapup-text').textContent,
  }));
  await page.screenshot({ path: `${shots}/agent-after.png` });
} catch (e) {
  result.error = String(e && e.message || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.error ? 1 : 0);
