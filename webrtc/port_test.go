package webrtc

import (
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
)

// sink keeps the last packet written, marshalled as a binding would.
type sink struct {
	buf []byte
	n   int
}

func (s *sink) WriteRTP(p *rtp.Packet) error {
	n, err := p.MarshalTo(s.buf)
	s.n = n
	return err
}

func TestPortKeysOncePerPressAndIgnoresStrangers(t *testing.T) {
	var keys []media.Digit
	p := newTrackPort(media.PCMU, 101, &sink{buf: make([]byte, 1500)}, func(d media.Digit) { keys = append(keys, d) })
	now := time.Now()
	press := func(ts uint32, e media.TelephoneEvent) {
		p.handle(&rtp.Packet{Header: rtp.Header{PayloadType: 101, SSRC: 9, Timestamp: ts}, Payload: e.AppendTo(nil)}, now)
	}
	for _, end := range []bool{false, false, true, true, true} {
		press(800, media.TelephoneEvent{Event: 5, End: end, Duration: 160})
	}
	press(2400, media.TelephoneEvent{Event: 11, Duration: 160})
	press(4000, media.TelephoneEvent{Event: 16, Duration: 160}) // flash: not a key
	p.handle(&rtp.Packet{Header: rtp.Header{PayloadType: 8}, Payload: make([]byte, 160)}, now)
	p.handle(&rtp.Packet{Header: rtp.Header{PayloadType: 101}, Payload: []byte{1}}, now)
	if string(keys) != "5#" {
		t.Errorf("keys %q, want 5#", string(keys))
	}
	st := p.stats()
	if st.Ignored != 1 || st.Malformed != 1 || st.Digits != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestPortSendsOnePacketPerFrame(t *testing.T) {
	s := &sink{buf: make([]byte, 1500)}
	p := newTrackPort(media.PCMA, 0, s, nil)
	frame := audiotest.Tone(8000, 1000, 0.3, 160)
	var first rtp.Packet
	for i := range 3 {
		if err := p.Send(frame); err != nil {
			t.Fatal(err)
		}
		var got rtp.Packet
		if err := got.Unmarshal(s.buf[:s.n]); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = got
			if !got.Marker || got.PayloadType != 8 || len(got.Payload) != 160 {
				t.Errorf("first packet %+v", got.Header)
			}
			continue
		}
		if got.Marker || got.SequenceNumber != first.SequenceNumber+uint16(i) || got.Timestamp != first.Timestamp+uint32(160*i) {
			t.Errorf("packet %d: %+v after %+v", i, got.Header, first.Header)
		}
	}
}

// BenchmarkPort is the per-frame cost of a browser leg's Port: one packet
// in (decode, jitter buffer), one frame out of the buffer, one frame
// encoded and packetised. SRTP and the socket are pion's and not counted.
func BenchmarkPort(b *testing.B) {
	p := newTrackPort(media.PCMU, 101, &sink{buf: make([]byte, 1500)}, func(media.Digit) {})
	tone := audiotest.Tone(8000, 1000, 0.3, 160)
	payload := media.PCMU.Encode(nil, tone)
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 7}, Payload: payload}
	dst := make([]int16, 160)
	start := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		pkt.SequenceNumber = uint16(i)
		pkt.Timestamp = uint32(i * 160)
		p.handle(pkt, start.Add(time.Duration(i)*media.FrameDuration))
		p.Receive(dst)
		if err := p.Send(tone); err != nil {
			b.Fatal(err)
		}
	}
}
