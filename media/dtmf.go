package media

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// TelephoneEvent is the payload of an RFC 4733 telephone-event packet.
type TelephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8 // 0 to 63, in -dBm0
	Duration uint16
}

// ErrShortEvent is returned for a telephone-event payload under 4 bytes.
var ErrShortEvent = errors.New("media: telephone-event payload shorter than 4 bytes")

// ParseTelephoneEvent reads the first event of an RFC 4733 payload. Further
// events in the same payload (redundancy) are ignored: the sender repeats
// each event until it ends, so nothing is lost.
func ParseTelephoneEvent(b []byte) (TelephoneEvent, error) {
	if len(b) < 4 {
		return TelephoneEvent{}, ErrShortEvent
	}
	return TelephoneEvent{
		Event:    b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(b[2:4]),
	}, nil
}

// AppendTo appends the event's 4-byte payload to b.
func (e TelephoneEvent) AppendTo(b []byte) []byte {
	flags := e.Volume & 0x3F
	if e.End {
		flags |= 0x80
	}
	return binary.BigEndian.AppendUint16(append(b, e.Event, flags), e.Duration)
}

// Digit is the DTMF key of events 0-15; other events (flash, tones) are not
// keys.
func (e TelephoneEvent) Digit() (Digit, bool) {
	switch {
	case e.Event <= 9:
		return Digit('0' + e.Event), true
	case e.Event == 10:
		return '*', true
	case e.Event == 11:
		return '#', true
	case e.Event <= 15:
		return Digit('A' + e.Event - 12), true
	}
	return 0, false
}

// eventCode is the RFC 4733 event code of a DTMF key.
func eventCode(d Digit) (uint8, error) {
	switch {
	case d >= '0' && d <= '9':
		return uint8(d - '0'), nil
	case d == '*':
		return 10, nil
	case d == '#':
		return 11, nil
	case d >= 'A' && d <= 'D':
		return uint8(d-'A') + 12, nil
	}
	return 0, fmt.Errorf("media: %q is not a DTMF key", rune(d))
}

// eventReceiver reports each key press once. Every packet of one event
// carries the event's start timestamp, including the three retransmitted
// end packets, so a new (SSRC, timestamp, event) is a new key press.
type eventReceiver struct {
	ssrc, ts uint32
	event    uint8
	seen     bool
}

func (r *eventReceiver) accept(ssrc, ts uint32, e TelephoneEvent) (Digit, bool) {
	d, ok := e.Digit()
	if !ok {
		return 0, false
	}
	if r.seen && r.ssrc == ssrc && r.ts == ts && r.event == e.Event {
		return 0, false
	}
	r.ssrc, r.ts, r.event, r.seen = ssrc, ts, e.Event, true
	return d, true
}

// Sending a key: tone packets every frame for toneFrames, the end packet
// three times (RFC 4733 2.5.1.4), then gapFrames of audio before the next.
const (
	toneFrames   = 5
	endRepeats   = 3
	gapFrames    = 3
	eventVolume  = 10
	eventPackets = toneFrames + endRepeats
)

// eventSender is the state of the key being sent; it lives on the clock
// goroutine.
type eventSender struct {
	code   uint8
	ts     uint32 // the event's start timestamp
	sent   int    // packets sent so far
	gap    int    // frames of audio still owed before the next key
	active bool
}

// next returns this frame's event payload and whether it is the event's
// first (marker) packet.
func (s *eventSender) next(frame int) (e TelephoneEvent, first bool) {
	first = s.sent == 0
	dur := min(s.sent+1, toneFrames) * frame
	e = TelephoneEvent{Event: s.code, Volume: eventVolume, Duration: uint16(dur), End: s.sent >= toneFrames}
	s.sent++
	if s.sent == eventPackets {
		s.active, s.gap = false, gapFrames
	}
	return e, first
}
