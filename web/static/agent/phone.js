// The agent's browser phone. While the agent is signed in it keeps a
// signaling socket open at /ws/agent, its login token offered as the
// subprotocol "bearer.<token>" (never in the URL); being connected makes
// the browser the phone Hotline rings. A call rings with "incoming" (call,
// from, queue, summary); accept sends "accept", then this page's offer,
// exactly as the caller page offers; reject sends "reject"; "cancel" is
// a ring that ended first (it rang out or the caller left).
//
// Connected, it installs window.hotlineAgent = {accept(), reject(),
// mute(on), hold(on), hangup()} (plus state() and stats() for tests and
// support) and dispatches "hotline-agent-phone" on window; it dispatches
// it again when the phone goes.
'use strict';

const HotlineAgentPhone = (() => {
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/agent';

  // connect keeps the phone connected with token until the returned stop
  // is called. on: ring(m), cancel(m), state(s), error(text).
  function connect(token, on) {
    let sig = null;
    let stopped = false;
    let retry = 0;
    let timer = 0;
    let ringing = null; // the incoming message
    let pc = null;
    let mic = null;
    let state = 'offline';
    const remote = new Audio();
    remote.autoplay = true;
    const bell = ringer();

    function setState(s) {
      state = s;
      if (s === 'ringing') bell.start(); else bell.stop();
      on.state(s);
    }

    function open() {
      sig = new HotlineSignaling(url, ['hotline.agent', 'bearer.' + token])
        .on('registered', () => { retry = 0; install(); setState('idle'); })
        .on('incoming', (m) => { ringing = m; setState('ringing'); on.ring(m); })
        .on('cancel', (m) => {
          if (!ringing || ringing.call !== m.call) return;
          ringing = null;
          endMedia();
          setState('idle');
          on.cancel(m);
        })
        .on('answer', (m) => { if (pc) pc.setRemoteDescription({ type: 'answer', sdp: m.sdp }).catch(() => hangup()); })
        .on('candidate', (m) => { if (pc) pc.addIceCandidate(m.candidate).catch(() => {}); })
        .on('hangup', () => { endMedia(); setState('idle'); })
        .on('error', (m) => { if (m.code === 'failed') { endMedia(); setState('idle'); on.error(m.message); } })
        .on('closed', lost);
      sig.open().catch(lost);
    }

    // lost reconnects, more slowly each time, while signed in.
    function lost() {
      uninstall();
      endMedia();
      ringing = null;
      setState('offline');
      if (stopped) return;
      const delay = Math.min(30000, 1000 * 2 ** retry++);
      timer = setTimeout(open, delay);
    }

    async function accept() {
      if (!ringing || pc) return;
      const m = ringing;
      setState('connecting');
      try {
        mic = await navigator.mediaDevices.getUserMedia({
          audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true }, video: false,
        });
      } catch {
        on.error('The browser phone cannot use your microphone: allow it, or reject the call.');
        setState('ringing');
        return;
      }
      if (ringing !== m) { endMedia(); return; } // cancelled meanwhile
      pc = new RTCPeerConnection();
      const t = pc.addTransceiver(mic.getAudioTracks()[0], { direction: 'sendrecv', streams: [mic] });
      HotlineSignaling.preferG711(t);
      pc.ontrack = (e) => { remote.srcObject = e.streams[0] || new MediaStream([e.track]); };
      pc.onicecandidate = (e) => {
        if (e.candidate && e.candidate.candidate) sig.send('candidate', { candidate: e.candidate.toJSON() });
      };
      pc.onconnectionstatechange = () => {
        if (!pc) return;
        if (pc.connectionState === 'connected') { ringing = null; setState('connected'); }
        if (pc.connectionState === 'failed') hangup();
      };
      sig.send('accept', { call: m.call });
      await pc.setLocalDescription(await pc.createOffer());
      sig.send('offer', { sdp: pc.localDescription.sdp });
    }

    function reject() {
      if (!ringing || pc) return;
      sig.send('reject', { call: ringing.call, reason: 'agent rejected' });
      ringing = null;
      setState('idle');
    }

    function hangup() {
      if (!pc) return;
      sig.send('hangup', { reason: 'agent hung up' });
      endMedia();
      setState('idle');
    }

    // mute stops sending the microphone; hold also stops playing the caller.
    function mute(on_) { if (mic) mic.getAudioTracks().forEach((t) => { t.enabled = !on_; }); }
    function hold(on_) { mute(on_); remote.muted = on_; }

    function endMedia() {
      if (pc) pc.close();
      if (mic) mic.getTracks().forEach((t) => t.stop());
      pc = mic = null;
      remote.srcObject = null;
      remote.muted = false;
    }

    function install() {
      window.hotlineAgent = {
        accept, reject, mute, hold, hangup,
        state: () => state,
        stats: () => (pc ? HotlineSignaling.audioStats(pc) : Promise.resolve(null)),
      };
      window.dispatchEvent(new Event('hotline-agent-phone'));
    }

    function uninstall() {
      if (!window.hotlineAgent) return;
      delete window.hotlineAgent;
      window.dispatchEvent(new Event('hotline-agent-phone'));
    }

    open();
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (pc) hangup();
      if (sig) sig.close();
      uninstall();
      bell.stop();
    };
  }

  // ringer is the ring tone: two short beeps every two seconds, for as
  // long as a call rings (browsers allow it after the sign-in's click).
  function ringer() {
    let ctx = null;
    let timer = 0;
    const beep = () => {
      for (const at of [0, 0.4]) {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = 440;
        g.gain.value = 0.1;
        o.connect(g).connect(ctx.destination);
        o.start(ctx.currentTime + at);
        o.stop(ctx.currentTime + at + 0.25);
      }
    };
    return {
      start() {
        if (timer) return;
        try { ctx = ctx || new AudioContext(); } catch { return; }
        beep();
        timer = setInterval(beep, 2000);
      },
      stop() { clearInterval(timer); timer = 0; },
    };
  }

  return { connect };
})();
