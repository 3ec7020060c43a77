package webrtc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"

	"github.com/hotline-cc/hotline/media"
)

// Call is one browser call: the page's audio as a media.Leg, and who and
// where the page is. The Server owns it: the call ends when onCall
// returns, the page hangs up, media fails, or the server shuts down.
type Call struct {
	// ID names the call in logs and is the session the page presents to
	// resume it.
	ID string
	// RemoteAddr is where the signaling socket came from.
	RemoteAddr netip.AddrPort
	// Identity is who opened the socket; zero for an anonymous caller.
	Identity Identity
	// Codec is the negotiated G.711 codec: "PCMU" or "PCMA".
	Codec string
	// Leg is the page's audio at 8 kHz: what the page's microphone hears,
	// and what the page plays.
	Leg media.Leg
	// Log carries the call's id on every line.
	Log *slog.Logger

	s       *Server
	handler func(context.Context, *Call) // instead of the server's onCall: an agent's call
	log     *slog.Logger
	token   string // what a page must present with ID to resume
	ctx     context.Context
	end     context.CancelCauseFunc
	pc      *pion.PeerConnection
	stream  *media.Stream
	port    *trackPort

	connected chan struct{} // closed when ICE and DTLS are up
	connOnce  sync.Once
	released  chan struct{} // closed when media is torn down
	media     sync.WaitGroup

	mu       sync.Mutex
	sock     *socket // nil while the page is away
	resumeBy *time.Timer
	answered bool      // the answer is queued: candidates may follow it
	early    []Message // candidates gathered before the answer went out
	over     bool      // no new goroutines, no new socket
}

// callKey marks a call's own context.
type callKey struct{}

// leg is a browser call as a media.Leg.
type leg struct {
	*media.Stream
	c *Call
}

var _ media.Leg = (*leg)(nil)

// ID is the call's session id.
func (l *leg) ID() string { return l.c.ID }

// Hangup ends the call, telling the page, and waits within ctx until its
// media is released. The call's handler may still be running. When ctx is
// the call's own context, which the hang-up cancels, the wait is not cut
// short by that: release takes milliseconds.
func (l *leg) Hangup(ctx context.Context) error {
	l.c.end(ErrHangup)
	if ctx.Value(callKey{}) == l.c {
		ctx = context.WithoutCancel(ctx)
	}
	select {
	case <-l.c.released:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats are the call's packet counters.
func (c *Call) Stats() PortStats { return c.port.stats() }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// audioOffer is what the server takes from the page's offer.
type audioOffer struct {
	codec  media.Codec
	dtmfPT uint8  // 0: the page offered no telephone-event/8000
	dtmfFP string // its fmtp, so pion matches it exactly
}

// chooseAudio picks, from the first audio section of offer, the first of
// codecs the page offers, and its telephone-event/8000.
func chooseAudio(offer string, codecs []media.Codec) (audioOffer, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return audioOffer{}, fmt.Errorf("parse offer: %w", err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		var a audioOffer
		offered := map[string]bool{}
		for _, f := range md.MediaName.Formats {
			var pt uint8
			if _, err := fmt.Sscan(f, &pt); err != nil {
				continue
			}
			codec, err := sd.GetCodecForPayloadType(pt)
			if err != nil {
				continue
			}
			if strings.EqualFold(codec.Name, "telephone-event") && codec.ClockRate == 8000 && a.dtmfPT == 0 {
				a.dtmfPT, a.dtmfFP = pt, codec.Fmtp
			}
			if codec.ClockRate == 8000 {
				offered[strings.ToUpper(codec.Name)] = true
			}
		}
		for _, c := range codecs {
			if offered[c.Name()] {
				a.codec = c
				return a, nil
			}
		}
		return audioOffer{}, errors.New("offer has no codec in common: Hotline takes PCMU and PCMA")
	}
	return audioOffer{}, errors.New("offer has no audio")
}

// peerConnection builds a peer connection that can speak only the chosen
// codec (and telephone-event), so the answer has exactly those.
func (s *Server) peerConnection(a audioOffer) (*pion.PeerConnection, pion.RTPCodecCapability, error) {
	me := &pion.MediaEngine{}
	codec := pion.RTPCodecCapability{MimeType: "audio/" + a.codec.Name(), ClockRate: uint32(a.codec.ClockRate())}
	if err := me.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: codec, PayloadType: pion.PayloadType(a.codec.PayloadType())}, pion.RTPCodecTypeAudio); err != nil {
		return nil, codec, fmt.Errorf("register %s: %w", a.codec.Name(), err)
	}
	if a.dtmfPT != 0 {
		ev := pion.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: a.dtmfFP}
		if err := me.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: ev, PayloadType: pion.PayloadType(a.dtmfPT)}, pion.RTPCodecTypeAudio); err != nil {
			return nil, codec, fmt.Errorf("register telephone-event: %w", err)
		}
	}
	// Sender and receiver reports, so the page's statistics show loss and
	// round trip for Hotline's audio too.
	ir := &interceptor.Registry{}
	if err := pion.ConfigureRTCPReports(ir); err != nil {
		return nil, codec, fmt.Errorf("rtcp reports: %w", err)
	}
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(s.se), pion.WithInterceptorRegistry(ir))
	var ice []pion.ICEServer
	if len(s.cfg.STUNServers) > 0 {
		ice = []pion.ICEServer{{URLs: s.cfg.STUNServers}}
	}
	pc, err := api.NewPeerConnection(pion.Configuration{ICEServers: ice})
	if err != nil {
		return nil, codec, fmt.Errorf("new peer connection: %w", err)
	}
	return pc, codec, nil
}

// startCall answers an offer from k: a peer connection, the leg on it,
// the answer, and the goroutines that run the call, which handler (nil:
// the server's onCall) serves. An error leaves nothing behind.
func (s *Server) startCall(k *socket, offer string, handler func(context.Context, *Call)) error {
	a, err := chooseAudio(offer, s.cfg.codecs())
	if err != nil {
		return protoErr(CodeFailed, "%v", err)
	}
	id := "wrtc-" + randomHex(8)
	log := s.log.With("call_id", id, "remote", k.remote.String())
	pc, codecCap, err := s.peerConnection(a)
	if err != nil {
		log.Error("cannot set up browser call", "err", err)
		return protoErr(CodeFailed, "server error")
	}
	track, err := pion.NewTrackLocalStaticRTP(codecCap, "audio", "hotline")
	if err != nil {
		_ = pc.Close()
		return fmt.Errorf("outgoing track: %w", err)
	}
	c := &Call{
		ID:         id,
		RemoteAddr: k.remote,
		Identity:   k.ident,
		Codec:      a.codec.Name(),
		Log:        log,
		s:          s,
		handler:    handler,
		log:        log,
		token:      randomHex(16),
		pc:         pc,
		connected:  make(chan struct{}),
		released:   make(chan struct{}),
		sock:       k,
	}
	c.ctx, c.end = context.WithCancelCause(context.WithValue(s.ctx, callKey{}, c))
	c.port = newTrackPort(a.codec, a.dtmfPT, track, func(d media.Digit) {
		c.log.Debug("dtmf received", "digit", d.String(), "via", "rtp")
		c.stream.PushDigit(d)
	})
	c.stream = media.NewStream(a.codec.ClockRate(), c.port)
	c.Leg = &leg{Stream: c.stream, c: c}

	pc.OnICECandidate(func(cand *pion.ICECandidate) { c.inCall(func() { c.onCandidate(cand) }) })
	pc.OnConnectionStateChange(func(st pion.PeerConnectionState) { c.inCall(func() { c.onState(st) }) })
	pc.OnTrack(func(t *pion.TrackRemote, _ *pion.RTPReceiver) {
		c.inCall(func() {
			c.log.Debug("page audio arrived", "ssrc", uint32(t.SSRC()), "codec", t.Codec().MimeType)
			c.port.readFrom(c.ctx, func(b []byte) (int, error) { n, _, err := t.Read(b); return n, err })
		})
	})
	answer, err := c.negotiate(offer, track)
	if err != nil {
		c.abort(err)
		log.Info("browser offer refused", "err", err)
		return protoErr(CodeFailed, "cannot answer the offer")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.abort(ErrShutdown)
		return protoErr(CodeFailed, "shutting down")
	}
	s.calls[id] = c
	s.wg.Add(1)
	s.callWG.Add(1)
	s.mu.Unlock()
	k.call = c

	c.mu.Lock()
	k.send(Message{Type: TypeAnswer, SDP: answer, Session: id, Token: c.token})
	for _, m := range c.early {
		k.send(m)
	}
	c.answered, c.early = true, nil
	c.mu.Unlock()
	log.Info("browser call answered", "codec", c.Codec, "dtmf", a.dtmfPT != 0, "identity", c.Identity.Subject)
	go c.run()
	return nil
}

// abort releases a call that never started.
func (c *Call) abort(cause error) {
	c.end(cause)
	c.mu.Lock()
	c.over = true
	c.mu.Unlock()
	_ = c.pc.Close()
	c.media.Wait()
}

// negotiate applies the offer, adds the outgoing track and returns the
// answer. Candidates follow it one by one (trickle ICE).
func (c *Call) negotiate(offer string, track pion.TrackLocal) (string, error) {
	pc := c.pc
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("apply offer: %w", err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return "", fmt.Errorf("add track: %w", err)
	}
	// The sender's RTCP must be read for the reports to be processed.
	c.goMedia(func() {
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	})
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("create answer: %w", err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("apply answer: %w", err)
	}
	return answer.SDP, nil
}

// goMedia runs fn as one of the call's media goroutines, unless the call
// is already being torn down; teardown waits for them all.
func (c *Call) goMedia(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over {
		return
	}
	c.media.Add(1)
	go func() {
		defer c.media.Done()
		fn()
	}()
}

// inCall runs fn, a pion callback (each in a goroutine pion starts),
// unless the call is being torn down; teardown waits for those running,
// so none outlives the call.
func (c *Call) inCall(fn func()) {
	c.mu.Lock()
	if c.over {
		c.mu.Unlock()
		return
	}
	c.media.Add(1)
	c.mu.Unlock()
	defer c.media.Done()
	fn()
}

// onCandidate trickles one of our candidates to the page, after the answer.
func (c *Call) onCandidate(cand *pion.ICECandidate) {
	if cand == nil {
		return // gathering is complete; the page needs no word of it
	}
	j := cand.ToJSON()
	m := Message{Type: TypeCandidate, Candidate: &Candidate{
		Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex, UsernameFragment: j.UsernameFragment,
	}}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.answered:
		c.early = append(c.early, m)
	case c.sock != nil:
		c.sock.send(m)
	}
}

func (c *Call) onState(st pion.PeerConnectionState) {
	c.log.Debug("media connection", "state", st.String())
	switch st {
	case pion.PeerConnectionStateConnected:
		c.connOnce.Do(func() { close(c.connected) })
	case pion.PeerConnectionStateClosed:
		// Only the page's DTLS close_notify closes the connection before
		// end does, and a page sends it when it hangs up: its hangup message
		// on the socket may still be on the way.
		c.end(ErrRemoteHangup)
	case pion.PeerConnectionStateFailed:
		c.end(ErrMediaFailed)
	}
}

// addCandidate takes one of the page's candidates.
func (c *Call) addCandidate(m *Candidate) error {
	if m.Candidate == "" {
		return nil // the page's end of candidates
	}
	err := c.pc.AddICECandidate(pion.ICECandidateInit{
		Candidate: m.Candidate, SDPMid: m.SDPMid, SDPMLineIndex: m.SDPMLineIndex, UsernameFragment: m.UsernameFragment,
	})
	if err != nil {
		return protoErr(CodeBadMessage, "candidate: %v", err)
	}
	return nil
}

// pushDigits delivers keys the page sent as a signaling message.
func (c *Call) pushDigits(digits, via string) {
	for i := range len(digits) {
		c.log.Debug("dtmf received", "digit", string(digits[i]), "via", via)
		c.stream.PushDigit(media.Digit(digits[i]))
	}
}

// run owns the call from its answer to its release: the clock, the
// connect watchdog, the handler, and the teardown.
func (c *Call) run() {
	s := c.s
	defer s.wg.Done()
	defer s.callWG.Done()
	begin := time.Now()
	c.goMedia(func() { c.stream.Run(c.ctx) })
	handler := make(chan struct{})
	go func() {
		defer close(handler)
		s.serveCall(c)
		c.end(ErrHangup)
	}()

	watchdog := time.NewTimer(s.cfg.ConnectTimeout)
	select {
	case <-c.connected:
		c.log.Info("browser call connected", "after", time.Since(begin).Round(time.Millisecond))
	case <-watchdog.C:
		c.end(ErrConnectTimeout)
	case <-c.ctx.Done():
	}
	watchdog.Stop()
	<-c.ctx.Done()
	cause := context.Cause(c.ctx)

	c.mu.Lock()
	c.over = true
	sock := c.sock
	c.sock = nil
	if c.resumeBy != nil {
		c.resumeBy.Stop()
	}
	c.mu.Unlock()
	c.stream.End()
	if sock != nil {
		if !errors.Is(cause, ErrRemoteHangup) {
			sock.send(Message{Type: TypeHangup, Reason: hangupReason(cause)})
		}
		if !sock.phone {
			sock.close(websocket.CloseNormalClosure, "call ended")
		}
	}
	if err := c.pc.Close(); err != nil {
		c.log.Debug("closing peer connection", "err", err)
	}
	c.media.Wait()
	close(c.released)
	s.mu.Lock()
	delete(s.calls, c.ID)
	s.mu.Unlock()

	<-handler
	clock := c.stream.Stats()
	c.log.Info("browser call ended", "cause", cause.Error(), "duration", time.Since(begin).Round(time.Millisecond),
		"rtp", c.port.stats(), "frames", clock.Ticks, "late_frames", clock.Late, "skipped_frames", clock.Skipped)
}

// hangupReason is the reason the page is given for cause.
func hangupReason(cause error) string {
	switch {
	case errors.Is(cause, ErrShutdown):
		return "shutdown"
	case errors.Is(cause, ErrConnectTimeout), errors.Is(cause, ErrMediaFailed):
		return "media_failed"
	case errors.Is(cause, ErrSignalingLost):
		return "signaling_lost"
	}
	return "hangup"
}

// detach is called when k, the call's socket, has gone: the call waits
// ResumeWindow for the page to come back, or ends now when resume is off.
func (c *Call) detach(k *socket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock != k || c.over {
		return
	}
	c.sock = nil
	w := c.s.cfg.ResumeWindow
	if w == 0 {
		c.end(ErrSignalingLost)
		return
	}
	c.log.Info("signaling lost, waiting for the page to resume", "window", w)
	c.resumeBy = time.AfterFunc(w, func() { c.end(ErrSignalingLost) })
}

// attach makes k the call's socket, closing the one it replaces (a page
// that reconnects before the server noticed the drop).
func (c *Call) attach(k *socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over {
		return false
	}
	if c.resumeBy != nil {
		c.resumeBy.Stop()
		c.resumeBy = nil
	}
	if old := c.sock; old != nil {
		old.close(websocket.CloseNormalClosure, "resumed elsewhere")
	}
	c.sock = k
	c.log.Info("signaling resumed", "remote", k.remote.String())
	return true
}
