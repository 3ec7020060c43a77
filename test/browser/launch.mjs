// launch.mjs starts Debian's Chromium headless for the browser tests, with
// a microphone that plays a WAV file.
import { chromium } from 'playwright-core';

export function launchWithMic(wav) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      // Media stays on 127.0.0.1, like the server (loopback_only).
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      '--no-sandbox',
    ],
  });
}
