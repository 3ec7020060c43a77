// The "Call us" page: one browser call to Hotline, G.711 over WebRTC.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const status = $('status');
  const callButton = $('call');
  const hangupButton = $('hangup');
  const level = $('level');
  const remote = $('remote');

  const params = new URLSearchParams(location.search);
  const signalURL = params.get('signal') ||
    (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/call';

  const texts = {
    idle: 'Ready when you are.',
    mic: 'Asking for your microphone…',
    connecting: 'Connecting…',
    connected: 'Connected. Go ahead and speak.',
    reconnecting: 'Reconnecting…',
    ended: 'Call ended. Thank you for calling.',
    failed: 'The call could not be made. Please try again.',
  };
  const endTexts = {
    shutdown: 'We had to end the call. Please call again in a moment.',
    media_failed: 'The connection was lost. Please call again.',
    signaling_lost: 'The connection was lost. Please call again.',
  };

  let pc = null;
  let sig = null;
  let mic = null;
  let sender = null;
  let meter = null;

  function setState(state, text) {
    status.dataset.state = state;
    status.textContent = text || texts[state];
    const idle = state === 'idle' || state === 'ended' || state === 'failed';
    callButton.disabled = !idle;
    hangupButton.disabled = idle;
  }

  // startMeter shows the microphone's level, so the caller sees they are heard.
  function startMeter(stream) {
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(stream).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    let frame = 0;
    const draw = () => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const x of buf) sum += x * x;
      const rms = Math.sqrt(sum / buf.length);
      level.style.width = Math.min(100, Math.round(rms * 300)) + '%';
      frame = requestAnimationFrame(draw);
    };
    draw();
    return { stop: () => { cancelAnimationFrame(frame); ctx.close(); level.style.width = '0'; } };
  }

  async function call() {
    setState('mic');
    try {
      mic = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
        video: false,
      });
    } catch {
      setState('failed', 'We could not use your microphone. Please allow it and try again.');
      return;
    }
    meter = startMeter(mic);
    setState('connecting');

    pc = new RTCPeerConnection();
    const transceiver = pc.addTransceiver(mic.getAudioTracks()[0], { direction: 'sendrecv', streams: [mic] });
    sender = transceiver.sender;
    HotlineSignaling.preferG711(transceiver);
    pc.ontrack = (e) => { remote.srcObject = e.streams[0] || new MediaStream([e.track]); };
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate) sig.send('candidate', { candidate: e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (!pc) return;
      if (pc.connectionState === 'connected') setState('connected');
      if (pc.connectionState === 'failed') end('failed', texts.failed);
    };

    sig = new HotlineSignaling(signalURL)
      .on('answer', (m) => pc.setRemoteDescription({ type: 'answer', sdp: m.sdp }).catch(() => end('failed')))
      .on('candidate', (m) => pc.addIceCandidate(m.candidate).catch(() => {}))
      .on('hangup', (m) => end('ended', endTexts[m.reason]))
      .on('error', (m) => { if (m.code === 'failed') end('failed'); })
      .on('lost', () => setState('reconnecting'))
      .on('resumed', () => setState(pc.connectionState === 'connected' ? 'connected' : 'connecting'))
      .on('closed', () => end('ended', endTexts.signaling_lost));
    try {
      await sig.open();
      await pc.setLocalDescription(await pc.createOffer());
      sig.send('offer', { sdp: pc.localDescription.sdp });
    } catch {
      end('failed', 'We could not reach the service. Please try again later.');
    }
  }

  function end(state, text) {
    if (!pc) return;
    if (meter) meter.stop();
    if (mic) mic.getTracks().forEach((t) => t.stop());
    pc.close();
    sig.close();
    pc = sig = mic = sender = meter = null;
    remote.srcObject = null;
    setState(state, text);
  }

  function hangup() {
    if (sig) sig.send('hangup', { reason: 'caller hung up' });
    end('ended');
  }

  // press sends a key in the audio (RFC 4733) when the call negotiated
  // telephone-event, as a signaling message otherwise.
  function press(key) {
    if (!sig) return;
    if (sender && sender.dtmf && sender.dtmf.canInsertDTMF) sender.dtmf.insertDTMF(key, 120, 70);
    else sig.send('dtmf', { digits: key });
  }

  callButton.addEventListener('click', call);
  hangupButton.addEventListener('click', hangup);
  document.querySelectorAll('.keypad button').forEach((b) => {
    b.addEventListener('click', () => press(b.textContent));
  });
  window.addEventListener('pagehide', () => { if (pc) hangup(); });

  // For tests and support: the call's state and its WebRTC statistics.
  window.hotlineCaller = {
    state: () => status.dataset.state,
    stats: () => (pc ? HotlineSignaling.audioStats(pc) : Promise.resolve(null)),
  };

  setState('idle');
})();
