package webrtc

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline-cc/hotline/media"
)

// The jitter buffer's bounds: the same as a SIP leg's, since a browser on
// a home network jitters no less than a trunk.
const (
	minPlayoutDelay = 40 * time.Millisecond
	maxPlayoutDelay = 200 * time.Millisecond
	// maxPayload is 120 ms of G.711, the most any sane sender packs.
	maxPayload = 960
)

// rtpWriter is where a port's packets go: the call's outgoing track.
type rtpWriter interface {
	WriteRTP(p *rtp.Packet) error
}

// trackPort is a browser leg's media.Port. Packets from the browser's
// track (already decrypted by DTLS-SRTP) go through media's jitter buffer
// and G.711 decoder; each frame the clock hands it is G.711-encoded into
// one packet on the outgoing track. RFC 4733 events become digits.
//
// It repeats the packet handling of media.RTPSession, which cannot serve
// here because it owns its UDP sockets; see the package doc.
type trackPort struct {
	codec   media.Codec
	dtmfPT  uint8 // negotiated telephone-event payload type; 0: none
	out     rtpWriter
	onDigit func(media.Digit)

	mu     sync.Mutex
	jb     *media.JitterBuffer
	events eventDedup

	// Send side: touched by the Stream's clock goroutine only.
	pkt     rtp.Packet
	payload []byte

	received, malformed, ignored, digits, sent atomic.Uint64
}

func newTrackPort(codec media.Codec, dtmfPT uint8, out rtpWriter, onDigit func(media.Digit)) *trackPort {
	rate := codec.ClockRate()
	return &trackPort{
		codec:   codec,
		dtmfPT:  dtmfPT,
		out:     out,
		onDigit: onDigit,
		jb:      media.NewJitterBuffer(rate, media.FrameSamples(rate), minPlayoutDelay, maxPlayoutDelay),
		pkt: rtp.Packet{Header: rtp.Header{
			Version:        2,
			PayloadType:    codec.PayloadType(),
			SequenceNumber: uint16(rand.Uint32()),
			Timestamp:      rand.Uint32(),
			Marker:         true,
		}},
	}
}

// maxReadErrors in a row means the track is broken rather than fed a bad
// packet, and reading stops instead of spinning.
const maxReadErrors = 50

// readFrom feeds the port from read (the browser's track) until it ends
// (the peer connection closed) or ctx does.
func (p *trackPort) readFrom(ctx context.Context, read func([]byte) (int, error)) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for errs := 0; ctx.Err() == nil && errs < maxReadErrors; {
		n, err := read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
				return
			}
			// A packet the track could not take (an unknown payload
			// type): skip it, the next read blocks again.
			p.ignored.Add(1)
			errs++
			continue
		}
		errs = 0
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			p.malformed.Add(1)
			continue
		}
		p.handle(&pkt, time.Now())
	}
}

// handle takes one packet from the browser.
func (p *trackPort) handle(pkt *rtp.Packet, now time.Time) {
	audio := pkt.PayloadType == p.codec.PayloadType()
	event := p.dtmfPT != 0 && pkt.PayloadType == p.dtmfPT
	switch {
	case !audio && !event:
		p.ignored.Add(1)
		return
	case len(pkt.Payload) > maxPayload:
		p.malformed.Add(1)
		return
	}
	p.received.Add(1)
	if event {
		e, err := media.ParseTelephoneEvent(pkt.Payload)
		if err != nil {
			p.malformed.Add(1)
			return
		}
		p.mu.Lock()
		d, ok := p.events.accept(pkt.SSRC, pkt.Timestamp, e)
		p.mu.Unlock()
		if ok {
			p.digits.Add(1)
			p.onDigit(d)
		}
		return
	}
	if len(pkt.Payload) == 0 {
		return
	}
	pcm := p.codec.Decode(nil, pkt.Payload) // the buffer keeps it
	p.mu.Lock()
	p.jb.Push(pkt.SSRC, pkt.Timestamp, pcm, now)
	p.mu.Unlock()
}

// Receive is the Stream's playout: the next frame from the jitter buffer.
func (p *trackPort) Receive(dst []int16) {
	p.mu.Lock()
	p.jb.Pop(dst)
	p.mu.Unlock()
}

// Send encodes one frame into one packet on the outgoing track. Before
// DTLS is up the track has no binding and the packet goes nowhere; the
// timestamp advances all the same, so the browser sees real time.
func (p *trackPort) Send(frame []int16) error {
	p.payload = p.codec.Encode(p.payload, frame)
	p.pkt.Payload = p.payload
	err := p.out.WriteRTP(&p.pkt)
	p.pkt.SequenceNumber++
	p.pkt.Timestamp += uint32(len(frame))
	p.pkt.Marker = false
	if err != nil {
		return err
	}
	p.sent.Add(1)
	return nil
}

// PortStats counts a browser leg's packets.
type PortStats struct {
	Sent, Received, Malformed, Ignored, Digits uint64
	Jitter                                     media.JitterStats
}

func (p *trackPort) stats() PortStats {
	p.mu.Lock()
	jb := p.jb.Stats()
	p.mu.Unlock()
	return PortStats{
		Sent: p.sent.Load(), Received: p.received.Load(), Malformed: p.malformed.Load(),
		Ignored: p.ignored.Load(), Digits: p.digits.Load(), Jitter: jb,
	}
}

// eventDedup reports each key press once: every packet of one event,
// the three end packets included, carries the event's start timestamp.
type eventDedup struct {
	ssrc, ts uint32
	event    uint8
	seen     bool
}

func (r *eventDedup) accept(ssrc, ts uint32, e media.TelephoneEvent) (media.Digit, bool) {
	d, ok := e.Digit()
	if !ok || (r.seen && r.ssrc == ssrc && r.ts == ts && r.event == e.Event) {
		return 0, false
	}
	r.ssrc, r.ts, r.event, r.seen = ssrc, ts, e.Event, true
	return d, true
}
