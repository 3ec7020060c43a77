// Hotline's signaling client, shared by every page: JSON messages
// {"v":1,"type":...} over a WebSocket, as the server's webrtc package
// defines them. When the socket drops during a call it reconnects and
// presents the call's session and token, so a short network blip does not
// end the call (media keeps flowing meanwhile).
'use strict';

class HotlineSignaling {
  // protocols are the WebSocket subprotocols to offer: an agent's phone
  // offers its login token this way, out of the URL and the access logs.
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols || [];
    this.handlers = {};
    this.ws = null;
    this.session = null;
    this.token = null;
    this.done = false;
    this.retries = 0;
  }

  // on registers fn for messages of type; "lost" and "closed" are the
  // socket dropping (a resume follows) and ending for good.
  on(type, fn) {
    this.handlers[type] = fn;
    return this;
  }

  emit(type, arg) {
    const fn = this.handlers[type];
    if (fn) fn(arg);
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, this.protocols);
      let opened = false;
      ws.onopen = () => { opened = true; resolve(); };
      ws.onmessage = (e) => this.receive(e.data);
      ws.onclose = (e) => {
        if (!opened) reject(new Error('cannot reach the server'));
        else this.closed(e);
      };
      this.ws = ws;
    });
  }

  send(type, fields) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(Object.assign({ v: 1, type }, fields)));
    }
  }

  receive(data) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    // An agent's phone takes one call after another on the same socket.
    if (m.type === 'answer') { this.session = m.session; this.token = m.token; this.done = false; }
    if (m.type === 'resumed') this.retries = 0;
    if (m.type === 'hangup') this.done = true;
    if (m.type === 'error' && m.code === 'no_session') { this.finish(); return; }
    this.emit(m.type, m);
  }

  // closed decides between resuming the call and ending it: the server
  // closes with 1000 after a hang-up, 1008 or 1009 for bad messages.
  closed(e) {
    const resumable = this.session && !this.done && ![1000, 1008, 1009].includes(e.code);
    if (!resumable || this.retries >= 5) { this.finish(); return; }
    this.retries++;
    this.emit('lost');
    setTimeout(() => {
      this.open()
        .then(() => this.send('resume', { session: this.session, token: this.token }))
        .catch(() => this.closed({ code: 1006 }));
    }, 1000);
  }

  finish() {
    if (this.done && !this.ws) return;
    this.done = true;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
    this.emit('closed');
  }

  // preferG711 offers PCMU, then PCMA, and telephone-event for keys: the
  // codecs Hotline speaks, so the offer carries nothing it would refuse.
  static preferG711(transceiver) {
    if (!transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
    const rank = (c) => {
      const m = c.mimeType.toLowerCase();
      if (m === 'audio/pcmu') return 0;
      if (m === 'audio/pcma') return 1;
      if (m === 'audio/telephone-event' && c.clockRate === 8000) return 2;
      return -1;
    };
    const codecs = RTCRtpReceiver.getCapabilities('audio').codecs
      .filter((c) => rank(c) >= 0)
      .sort((a, b) => rank(a) - rank(b));
    if (codecs.length) transceiver.setCodecPreferences(codecs);
  }

  // audioStats is what tests and support read of a call: packets both
  // ways, the level and energy of what is heard, and the codec.
  static async audioStats(pc) {
    const out = {};
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.packetsReceived = s.packetsReceived;
        out.audioLevel = s.audioLevel;
        out.totalAudioEnergy = s.totalAudioEnergy;
        out.codecId = s.codecId;
      }
      if (s.type === 'outbound-rtp' && s.kind === 'audio') out.packetsSent = s.packetsSent;
    });
    if (out.codecId) stats.forEach((s) => { if (s.id === out.codecId) out.codec = s.mimeType; });
    return out;
  }

  close() {
    this.done = true;
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }
}
