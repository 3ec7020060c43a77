package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Direction is which way audio flows on an RTP session, from our side.
type Direction uint8

const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

// Sends reports whether we send audio in direction d.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether we play out audio received in direction d.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

func (d Direction) String() string {
	switch d {
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "sendrecv"
}

// RTPConfig is what the offer/answer agreed for one RTP session.
type RTPConfig struct {
	Codec Codec
	// DTMFPayloadType is the negotiated telephone-event payload type; 0
	// (PCMU's static type, never telephone-event) means none.
	DTMFPayloadType uint8
	// Remote is where to send before the far end's own packets show where
	// it really is (symmetric RTP); the zero value waits for them.
	Remote    netip.AddrPort
	Direction Direction
	// InactivityTimeout calls OnTimeout when no RTP has arrived for this
	// long; 0 turns the watch off (on hold, the far end sends nothing).
	InactivityTimeout time.Duration
	OnDigit           func(Digit) // each key pressed by the far end, once
	OnTimeout         func()
	Logger            *slog.Logger
}

// Jitter buffer bounds, and what garbage looks like.
const (
	minPlayoutDelay = 40 * time.Millisecond
	maxPlayoutDelay = 200 * time.Millisecond
	// maxPayload is 120 ms of G.711, the most any sane sender packs.
	maxPayload    = 960
	rtcpInterval  = 5 * time.Second
	recvBufSize   = 1500
	inactiveCheck = 250 * time.Millisecond
)

// RTPSession is one call's RTP and RTCP: it receives packets into a jitter
// buffer and sends a frame per tick of the Stream that owns it (it is that
// Stream's Port). It latches onto the first source that sends valid RTP
// and ignores every other source after that.
type RTPSession struct {
	rtp, rtcp *net.UDPConn
	local     netip.AddrPort

	mu         sync.Mutex
	cfg        RTPConfig
	log        *slog.Logger
	remote     netip.AddrPort // where RTP goes
	latched    bool
	rtcpRemote netip.AddrPort
	rtcpLatch  bool
	jb         *JitterBuffer
	recv       receiveStats
	events     eventReceiver
	lastRecv   time.Time // last RTP, or last reason to restart the watch
	timedOut   bool
	lastSR     lastSenderReport
	far        RemoteReport

	// Send side: touched by the Stream's clock goroutine only.
	ssrc      uint32
	seq       uint16
	ts        uint32
	marker    bool
	ev        eventSender
	sendBuf   []byte
	payload   []byte
	digits    chan Digit
	sentPkts  atomic.Uint32
	sentBytes atomic.Uint32
	// The timestamp of the last frame and when it went out, for the RTP
	// time in sender reports.
	sentTS    atomic.Uint32
	sentClock atomic.Int64

	counters  rtpCounters
	closeOnce sync.Once
	closeErr  error
}

type rtpCounters struct {
	received, malformed, ignored, digitsIn, digitsOut atomic.Uint64
}

// RTPStats is a call's RTP quality as seen from both ends.
type RTPStats struct {
	PacketsSent     uint32
	PacketsReceived uint64
	Lost            int64         // expected minus received, RFC 3550 A.3
	Jitter          time.Duration // interarrival jitter of what we receive
	Late            uint64        // arrived after their playout time
	Concealed       uint64        // frames made up for missing audio
	Malformed       uint64        // not RTP, or unusable payload
	Ignored         uint64        // from another source, or an unknown payload type
	DigitsReceived  uint64
	DigitsSent      uint64
	Remote          RemoteReport // what the far end reported about our audio
}

// RemoteReport is the far end's last RTCP reception report on our stream.
type RemoteReport struct {
	FractionLost float64 // 0-1, over the far end's last interval
	Lost         int32
	Jitter       time.Duration
	RTT          time.Duration // 0 until a report echoes one of our SRs
}

// LogValue keeps the call-end log line short and readable.
func (s RTPStats) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Uint64("sent", uint64(s.PacketsSent)),
		slog.Uint64("received", s.PacketsReceived),
		slog.Int64("lost", s.Lost),
		slog.Duration("jitter", s.Jitter),
		slog.Uint64("late", s.Late),
		slog.Uint64("concealed", s.Concealed),
		slog.Uint64("malformed", s.Malformed),
		slog.Uint64("ignored", s.Ignored),
		slog.Uint64("digits_in", s.DigitsReceived),
		slog.Uint64("digits_out", s.DigitsSent),
		slog.Float64("far_fraction_lost", s.Remote.FractionLost),
		slog.Duration("far_jitter", s.Remote.Jitter),
		slog.Duration("rtt", s.Remote.RTT),
	)
}

// NewRTPSession runs RTP on rtp and RTCP on rtcp with cfg. It owns the
// connections from now on: Close closes them.
func NewRTPSession(rtpConn, rtcpConn *net.UDPConn, cfg RTPConfig) *RTPSession {
	s := &RTPSession{
		rtp:     rtpConn,
		rtcp:    rtcpConn,
		local:   rtpConn.LocalAddr().(*net.UDPAddr).AddrPort(),
		ssrc:    rand.Uint32(),
		seq:     uint16(rand.Uint32()),
		ts:      rand.Uint32(),
		marker:  true,
		sendBuf: make([]byte, recvBufSize),
		digits:  make(chan Digit, 16),
	}
	s.apply(cfg)
	return s
}

// apply installs cfg; s.mu is held or s is not shared yet.
func (s *RTPSession) apply(cfg RTPConfig) {
	if cfg.Codec == nil {
		cfg.Codec = PCMU
	}
	s.log = cfg.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.jb == nil {
		rate := cfg.Codec.ClockRate()
		s.jb = NewJitterBuffer(rate, FrameSamples(rate), minPlayoutDelay, maxPlayoutDelay)
	}
	if cfg.Remote != s.cfg.Remote || !s.remote.IsValid() {
		// New media address from a re-INVITE: latch afresh.
		s.remote, s.latched, s.rtcpLatch = cfg.Remote, false, false
		s.rtcpRemote = netip.AddrPort{}
		if cfg.Remote.IsValid() {
			s.rtcpRemote = netip.AddrPortFrom(cfg.Remote.Addr(), cfg.Remote.Port()+1)
		}
	}
	s.cfg = cfg
	s.lastRecv, s.timedOut = time.Now(), false
}

// Update switches the running session to a renegotiated configuration.
func (s *RTPSession) Update(cfg RTPConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apply(cfg)
}

// Config is the configuration in force.
func (s *RTPSession) Config() RTPConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// LocalAddr is the RTP address the session listens on.
func (s *RTPSession) LocalAddr() netip.AddrPort { return s.local }

// Run receives RTP and RTCP, sends RTCP reports and watches for
// inactivity until ctx is done. It returns an error only if a socket fails.
func (s *RTPSession) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Unblock the readers when the call ends.
	stop := context.AfterFunc(ctx, func() {
		now := time.Now()
		_ = s.rtp.SetReadDeadline(now)
		_ = s.rtcp.SetReadDeadline(now)
	})
	defer stop()

	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); errc <- s.readLoop(ctx, s.rtp, s.handleRTP) }()
	go func() { defer wg.Done(); errc <- s.readLoop(ctx, s.rtcp, s.handleRTCP) }()
	defer wg.Wait()

	report := time.NewTimer(rtcpJitter(rtcpInterval))
	defer report.Stop()
	watch := time.NewTicker(inactiveCheck)
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if err != nil {
				return err
			}
		case <-report.C:
			s.sendReport()
			report.Reset(rtcpJitter(rtcpInterval))
		case now := <-watch.C:
			s.checkInactivity(now)
		}
	}
}

// rtcpJitter spreads reports over [0.5, 1.5] of the interval (RFC 3550
// 6.3.1) so calls started together do not report together.
func rtcpJitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d)
}

func (s *RTPSession) readLoop(ctx context.Context, c *net.UDPConn, handle func([]byte, netip.AddrPort, time.Time)) error {
	buf := make([]byte, recvBufSize+1)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("media: read %s: %w", c.LocalAddr(), err)
		}
		if n > recvBufSize {
			s.counters.malformed.Add(1)
			continue
		}
		handle(buf[:n], from, time.Now())
	}
}

// handleRTP takes one datagram from the RTP port.
func (s *RTPSession) handleRTP(b []byte, from netip.AddrPort, now time.Time) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil || p.Version != 2 || len(p.Payload) > maxPayload {
		s.counters.malformed.Add(1)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	audio := p.PayloadType == s.cfg.Codec.PayloadType()
	event := s.cfg.DTMFPayloadType != 0 && p.PayloadType == s.cfg.DTMFPayloadType
	if !audio && !event {
		s.counters.ignored.Add(1)
		return
	}
	var e TelephoneEvent
	if event {
		var err error
		if e, err = ParseTelephoneEvent(p.Payload); err != nil {
			s.counters.malformed.Add(1)
			return
		}
	}
	if !s.latch(from, s.cfg.Remote, &s.remote, &s.latched) {
		s.counters.ignored.Add(1)
		return
	}
	s.counters.received.Add(1)
	s.lastRecv = now
	s.recv.update(p.SequenceNumber, p.SSRC)
	if event {
		if d, ok := s.events.accept(p.SSRC, p.Timestamp, e); ok {
			s.counters.digitsIn.Add(1)
			s.log.Debug("dtmf received", "digit", d.String())
			if s.cfg.OnDigit != nil {
				s.cfg.OnDigit(d)
			}
		}
		return
	}
	if len(p.Payload) == 0 || !s.cfg.Direction.Receives() {
		return
	}
	s.jb.Push(p.SSRC, p.Timestamp, s.cfg.Codec.Decode(nil, p.Payload), now)
}

// latch decides whether a packet from from is the far end's: the source
// latched in *addr, or the first source heard. The address the SDP gave
// (sdp) wins over a source latched before it was heard from, so a stray
// or stale stream cannot hold the call, while a far end behind NAT, whose
// SDP address is unreachable, is still found. s.mu is held.
func (s *RTPSession) latch(from, sdp netip.AddrPort, addr *netip.AddrPort, latched *bool) bool {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if *latched && from == *addr {
		return true
	}
	if *latched && from != sdp {
		return false
	}
	if *addr != from {
		s.log.Debug("media source latched", "from", from, "sdp", sdp, "local", s.local)
	}
	*addr, *latched = from, true
	return true
}

// Receive is the Stream's playout: the next frame from the jitter buffer.
func (s *RTPSession) Receive(dst []int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jb.Pop(dst)
}

// Send transmits one frame, or the DTMF event in progress in its place.
// Nothing goes out while the direction forbids it or no address is known,
// but the timestamp still advances, so the far end sees the real gap.
func (s *RTPSession) Send(frame []int16) error {
	s.mu.Lock()
	cfg, remote := s.cfg, s.remote
	s.mu.Unlock()
	n := len(frame)
	defer func() { s.ts += uint32(n) }()
	if !cfg.Direction.Sends() || !remote.IsValid() {
		s.marker = true
		return nil
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc}}
	if s.startEvent(cfg) {
		e, first := s.ev.next(n)
		pkt.PayloadType = cfg.DTMFPayloadType
		pkt.Timestamp = s.ev.ts
		pkt.Marker = first
		s.payload = e.AppendTo(s.payload[:0])
	} else {
		pkt.PayloadType = cfg.Codec.PayloadType()
		pkt.Marker = s.marker
		s.payload = cfg.Codec.Encode(s.payload, frame)
	}
	pkt.Payload = s.payload
	size, err := pkt.MarshalTo(s.sendBuf)
	if err != nil {
		return fmt.Errorf("media: marshal rtp: %w", err)
	}
	if _, err := s.rtp.WriteToUDPAddrPort(s.sendBuf[:size], remote); err != nil {
		return fmt.Errorf("media: send rtp to %s: %w", remote, err)
	}
	s.seq++
	s.marker = false
	s.sentPkts.Add(1)
	s.sentBytes.Add(uint32(len(s.payload)))
	s.sentTS.Store(s.ts)
	s.sentClock.Store(time.Now().UnixNano())
	return nil
}

// startEvent reports whether this frame carries a DTMF event packet,
// starting the next queued key when none is in progress.
func (s *RTPSession) startEvent(cfg RTPConfig) bool {
	if s.ev.active {
		return true
	}
	if s.ev.gap > 0 {
		s.ev.gap--
		return false
	}
	select {
	case d := <-s.digits:
		code, _ := eventCode(d) // SendDigit checked it
		s.ev = eventSender{code: code, ts: s.ts, active: cfg.DTMFPayloadType != 0}
		if s.ev.active {
			s.counters.digitsOut.Add(1)
		}
		return s.ev.active
	default:
		return false
	}
}

// ErrNoTelephoneEvent is returned by SendDigit when the far end did not
// negotiate RFC 4733 events.
var ErrNoTelephoneEvent = errors.New("media: far end takes no telephone-event")

// SendDigit queues a DTMF key to send as RFC 4733 events.
func (s *RTPSession) SendDigit(d Digit) error {
	if _, err := eventCode(d); err != nil {
		return err
	}
	if s.Config().DTMFPayloadType == 0 {
		return ErrNoTelephoneEvent
	}
	select {
	case s.digits <- d:
		return nil
	default:
		return errors.New("media: DTMF queue full")
	}
}

func (s *RTPSession) checkInactivity(now time.Time) {
	s.mu.Lock()
	cfg := s.cfg
	fire := cfg.InactivityTimeout > 0 && !s.timedOut && now.Sub(s.lastRecv) >= cfg.InactivityTimeout
	if fire {
		s.timedOut = true
	}
	s.mu.Unlock()
	if fire && cfg.OnTimeout != nil {
		cfg.OnTimeout()
	}
}

// Stats returns the session's counters and the far end's last report.
func (s *RTPSession) Stats() RTPStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	jb := s.jb.Stats()
	rate := s.cfg.Codec.ClockRate()
	return RTPStats{
		PacketsSent:     s.sentPkts.Load(),
		PacketsReceived: s.counters.received.Load(),
		Lost:            s.recv.lost(),
		Jitter:          time.Duration(s.jb.Jitter()) * time.Second / time.Duration(rate),
		Late:            jb.Late,
		Concealed:       jb.Concealed,
		Malformed:       s.counters.malformed.Load(),
		Ignored:         s.counters.ignored.Load(),
		DigitsReceived:  s.counters.digitsIn.Load(),
		DigitsSent:      s.counters.digitsOut.Load(),
		Remote:          s.far,
	}
}

// Close sends an RTCP BYE and closes both sockets. Safe to call twice.
func (s *RTPSession) Close() error {
	s.closeOnce.Do(func() {
		s.sendBye()
		s.closeErr = errors.Join(s.rtp.Close(), s.rtcp.Close())
	})
	return s.closeErr
}
