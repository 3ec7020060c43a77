package media

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"github.com/hotline-cc/hotline/internal/audiotest"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// endpoint is one side of a loopback call: its session and Stream clock.
type endpoint struct {
	sess   *RTPSession
	stream *Stream
	addr   netip.AddrPort
	digits chan Digit
}

func listenPair(t testing.TB) (rtpConn, rtcpConn *net.UDPConn) {
	t.Helper()
	pr, err := NewPortRange(loopback, 30000, 39999)
	if err != nil {
		t.Fatal(err)
	}
	rtpConn, rtcpConn, err = pr.Listen()
	if err != nil {
		t.Fatal(err)
	}
	return rtpConn, rtcpConn
}

// newEndpoint binds a pair; start runs it towards remote.
func newEndpoint(t *testing.T) (*endpoint, *net.UDPConn, *net.UDPConn) {
	rtpConn, rtcpConn := listenPair(t)
	e := &endpoint{addr: rtpConn.LocalAddr().(*net.UDPAddr).AddrPort(), digits: make(chan Digit, 16)}
	return e, rtpConn, rtcpConn
}

func (e *endpoint) start(t *testing.T, rtpConn, rtcpConn *net.UDPConn, cfg RTPConfig) {
	t.Helper()
	if cfg.OnDigit == nil {
		cfg.OnDigit = func(d Digit) { e.digits <- d }
	}
	e.sess = NewRTPSession(rtpConn, rtcpConn, cfg)
	e.stream = NewStream(8000, e.sess)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := e.sess.Run(ctx); err != nil {
			t.Errorf("session: %v", err)
		}
	}()
	go func() { defer wg.Done(); e.stream.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err := e.sess.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

// connectedPair is two endpoints sending to each other with PCMU and
// telephone-event 101.
func connectedPair(t *testing.T, codec Codec) (a, b *endpoint) {
	a, ar, ac := newEndpoint(t)
	b, br, bc := newEndpoint(t)
	a.start(t, ar, ac, RTPConfig{Codec: codec, DTMFPayloadType: 101, Remote: b.addr})
	b.start(t, br, bc, RTPConfig{Codec: codec, DTMFPayloadType: 101, Remote: a.addr})
	return a, b
}

// play writes a tone to w until ctx ends.
func play(ctx context.Context, w *Stream, freq float64) {
	pcm := audiotest.Tone(8000, freq, 0.4, 160*50)
	for i := 0; ctx.Err() == nil; i = (i + 160) % len(pcm) {
		if err := w.WriteFrame(ctx, pcm[i:i+160]); err != nil {
			return
		}
	}
}

// hears reports whether r delivers ten frames of freq in a row before ctx
// ends.
func hears(ctx context.Context, r *Stream, freq float64) bool {
	run := 0
	for run < 10 {
		f, err := r.ReadFrame(ctx)
		if err != nil {
			return false
		}
		if Level(f) > -30 && audiotest.ToneShare(f, 8000, freq) > 0.6 {
			run++
		} else {
			run = 0
		}
	}
	return true
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRTPCarriesAudioBothWays(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the endpoints have stopped
	for _, codec := range []Codec{PCMU, PCMA} {
		t.Run(codec.Name(), func(t *testing.T) {
			a, b := connectedPair(t, codec)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			go play(ctx, a.stream, 440)
			go play(ctx, b.stream, 1000)
			if !hears(ctx, b.stream, 440) {
				t.Fatal("b did not hear a's 440 Hz")
			}
			if !hears(ctx, a.stream, 1000) {
				t.Fatal("a did not hear b's 1 kHz")
			}
			st := b.sess.Stats()
			if st.PacketsReceived < 10 || st.Lost != 0 || st.Malformed != 0 || st.Ignored != 0 {
				t.Fatalf("b's stats on a clean loopback: %+v", st)
			}
		})
	}
}

func TestRTPSendsAndReceivesDigitsOnce(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the endpoints have stopped
	a, b := connectedPair(t, PCMU)
	for _, d := range []Digit{'1', '#', '1', 'D'} {
		if err := a.sess.SendDigit(d); err != nil {
			t.Fatal(err)
		}
	}
	var got []Digit
	timeout := time.After(5 * time.Second)
	for len(got) < 4 {
		select {
		case d := <-b.digits:
			got = append(got, d)
		case <-timeout:
			t.Fatalf("b heard %q", string(got))
		}
	}
	if string(got) != "1#1D" {
		t.Fatalf("b heard %q, want \"1#1D\"", string(got))
	}
	select {
	case d := <-b.digits:
		t.Fatalf("extra digit %q: end retransmits were not deduplicated", d)
	case <-time.After(300 * time.Millisecond):
	}
	if st := a.sess.Stats(); st.DigitsSent != 4 {
		t.Fatalf("a sent %d digits, want 4", st.DigitsSent)
	}
	if err := a.sess.SendDigit('x'); err == nil {
		t.Fatal("'x' accepted as a key")
	}
}

func TestRTPSendDigitWithoutTelephoneEvent(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the endpoints have stopped
	rtpConn, rtcpConn := listenPair(t)
	s := NewRTPSession(rtpConn, rtcpConn, RTPConfig{Codec: PCMU})
	defer s.Close()
	if err := s.SendDigit('5'); !errors.Is(err, ErrNoTelephoneEvent) {
		t.Fatalf("err = %v, want ErrNoTelephoneEvent", err)
	}
}

func TestRTPLatchesFirstSourceAndIgnoresOthers(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the endpoints have stopped
	a, ar, ac := newEndpoint(t)
	b, br, bc := newEndpoint(t)
	a.start(t, ar, ac, RTPConfig{Codec: PCMU, Remote: b.addr})
	// b knows no address (SDP behind NAT, or none): it answers whoever
	// sends first.
	b.start(t, br, bc, RTPConfig{Codec: PCMU})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go play(ctx, a.stream, 440)
	go play(ctx, b.stream, 1000)
	if !hears(ctx, a.stream, 1000) {
		t.Fatal("b did not send back to the latched source")
	}
	// An intruder sprays louder audio at b from another port.
	intruder, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	spray := audiotest.Tone(8000, 2000, 0.9, 160)
	for i := range 50 {
		p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 99}, Payload: PCMU.Encode(nil, spray)}
		raw, _ := p.Marshal()
		if _, err := intruder.WriteToUDPAddrPort(raw, b.addr); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the intruder's packets to be ignored", func() bool { return b.sess.Stats().Ignored >= 50 })
	if !hears(ctx, b.stream, 440) {
		t.Fatal("b stopped hearing a")
	}
}

func TestRTPDropsGarbage(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the endpoints have stopped
	a, b := connectedPair(t, PCMU)
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(b.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	version1 := rtp.Packet{Header: rtp.Header{Version: 1, PayloadType: 0}, Payload: make([]byte, 160)}
	v1, _ := version1.MarshalTo(make([]byte, 200))
	huge := rtp.Packet{Header: rtp.Header{Version: 2}, Payload: make([]byte, 1400)}
	hugeRaw, _ := huge.Marshal()
	shortEvent := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101}, Payload: []byte{1}}
	shortRaw, _ := shortEvent.Marshal()
	garbage := [][]byte{
		{},
		{0x80},
		make([]byte, 11),
		[]byte("INVITE sip:x SIP/2.0\r\n"),
		{0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, // padding bit with no padding
		make([]byte, 3000),                      // bigger than any datagram we read
		hugeRaw,
		shortRaw,
	}
	garbage = append(garbage, make([]byte, 200)[:v1])
	for _, g := range garbage {
		if _, err := conn.Write(g); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go play(ctx, a.stream, 440)
	if !hears(ctx, b.stream, 440) {
		t.Fatal("garbage disturbed the call")
	}
	if st := b.sess.Stats(); st.Malformed == 0 {
		t.Fatalf("garbage not counted: %+v", st)
	}
}

func TestRTPInactivityTimeout(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the endpoints have stopped
	fired := make(chan struct{}, 4)
	quiet, qr, qc := newEndpoint(t)
	quiet.start(t, qr, qc, RTPConfig{Codec: PCMU, InactivityTimeout: 400 * time.Millisecond, OnTimeout: func() { fired <- struct{}{} }})
	held, hr, hc := newEndpoint(t)
	held.start(t, hr, hc, RTPConfig{Codec: PCMU, Direction: SendOnly, OnTimeout: func() { fired <- struct{}{} }})
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("no timeout without RTP")
	}
	// Once only, and never for the held call that watches nothing.
	select {
	case <-fired:
		t.Fatal("timeout fired twice")
	case <-time.After(time.Second):
	}
	// A renegotiation restarts the watch.
	quiet.sess.Update(quiet.sess.Config())
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("no timeout after the watch restarted")
	}
}

func TestRTPUpdateFollowsHoldAndNewAddress(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the endpoints have stopped
	a, b := connectedPair(t, PCMU)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go play(ctx, a.stream, 440)
	if !hears(ctx, b.stream, 440) {
		t.Fatal("no audio before hold")
	}
	// a puts the call on hold: it stops sending.
	cfg := a.sess.Config()
	cfg.Direction = RecvOnly
	a.sess.Update(cfg)
	// A Send that read the old direction just before Update may still
	// finish; count from after it has.
	time.Sleep(40 * time.Millisecond)
	before := a.sess.Stats().PacketsSent
	time.Sleep(200 * time.Millisecond)
	if sent := a.sess.Stats().PacketsSent; sent != before {
		t.Fatalf("sent %d packets on hold", sent-before)
	}
	// b moves to a new port pair (a re-INVITE with a new c=/m=).
	c, cr, cc := newEndpoint(t)
	c.start(t, cr, cc, RTPConfig{Codec: PCMU, Remote: a.addr})
	cfg.Direction, cfg.Remote = SendRecv, c.addr
	a.sess.Update(cfg)
	if !hears(ctx, c.stream, 440) {
		t.Fatal("audio did not follow the new address")
	}
}

func TestRTCPReportsQualityBothWays(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the endpoints have stopped
	a, b := connectedPair(t, PCMU)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go play(ctx, a.stream, 440)
	go play(ctx, b.stream, 440)
	if !hears(ctx, b.stream, 440) || !hears(ctx, a.stream, 440) {
		t.Fatal("no audio")
	}
	a.sess.sendReport() // an SR: a has sent audio
	eventually(t, "b to take a's sender report", func() bool {
		b.sess.mu.Lock()
		defer b.sess.mu.Unlock()
		return !b.sess.lastSR.at.IsZero()
	})
	b.sess.sendReport() // its report block echoes a's SR
	eventually(t, "a to take b's reception report", func() bool {
		r := a.sess.Stats().Remote
		return r.RTT > 0
	})
	r := a.sess.Stats().Remote
	if r.FractionLost != 0 || r.Lost != 0 || r.RTT > time.Second {
		t.Fatalf("far end's report on a loopback: %+v", r)
	}
}

func TestPortRangeHandsOutPairs(t *testing.T) {
	pr, err := NewPortRange(loopback, 41001, 41006) // 41002/3 and 41004/5
	if err != nil {
		t.Fatal(err)
	}
	if pr.Pairs() != 2 {
		t.Fatalf("%d pairs, want 2", pr.Pairs())
	}
	var conns []*net.UDPConn
	for range 2 {
		r, c, err := pr.Listen()
		if err != nil {
			t.Fatal(err)
		}
		rp, cp := r.LocalAddr().(*net.UDPAddr).Port, c.LocalAddr().(*net.UDPAddr).Port
		if rp%2 != 0 || cp != rp+1 {
			t.Fatalf("pair %d/%d, want even RTP and RTCP above it", rp, cp)
		}
		conns = append(conns, r, c)
	}
	if _, _, err := pr.Listen(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("third pair: %v, want ErrNoPorts", err)
	}
	for _, c := range conns {
		c.Close()
	}
	r, c, err := pr.Listen()
	if err != nil {
		t.Fatalf("pair not reusable after close: %v", err)
	}
	r.Close()
	c.Close()
	for _, bad := range [][2]int{{80, 90}, {50000, 50000}, {60000, 70000}} {
		if _, err := NewPortRange(loopback, bad[0], bad[1]); err == nil {
			t.Errorf("range %v accepted", bad)
		}
	}
}

func FuzzRTPReceive(f *testing.F) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 5}, Payload: make([]byte, 160)}
	raw, _ := p.Marshal()
	f.Add(raw)
	ev := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 2, Timestamp: 160, SSRC: 5}, Payload: []byte{1, 0x80, 0, 160}}
	rawEv, _ := ev.Marshal()
	f.Add(rawEv)
	f.Add([]byte{0x81, 0xC8, 0, 1, 0, 0, 0, 1})
	rtpConn, rtcpConn := listenPair(f)
	digits := 0
	s := NewRTPSession(rtpConn, rtcpConn, RTPConfig{Codec: PCMU, DTMFPayloadType: 101, OnDigit: func(Digit) { digits++ }})
	f.Cleanup(func() { s.Close() })
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	dst := make([]int16, 160)
	f.Fuzz(func(t *testing.T, b []byte) {
		now := time.Now()
		s.handleRTP(b, from, now)
		s.handleRTCP(b, from, now)
		s.Receive(dst)
		if st := s.Stats(); st.DigitsReceived != uint64(digits) {
			t.Fatalf("digits counted %d, delivered %d", st.DigitsReceived, digits)
		}
	})
}

func BenchmarkRTPSendFrame(b *testing.B) {
	rtpConn, rtcpConn := listenPair(b)
	sink, sr := listenPair(b)
	defer sink.Close()
	defer sr.Close()
	s := NewRTPSession(rtpConn, rtcpConn, RTPConfig{Codec: PCMU, Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort()})
	defer s.Close()
	frame := audiotest.Tone(8000, 440, 0.3, 160)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(frame); err != nil {
			b.Fatal(err)
		}
	}
}
