// Package media is Hotline's audio plane: legs, codecs, RTP, jitter buffering,
// pacing, DTMF, resampling and recording. It knows nothing of SIP or WebRTC;
// those transports build Legs out of it.
package media

import (
	"context"
	"errors"
	"time"
)

// FrameDuration is the length of every audio frame inside Hotline.
const FrameDuration = 20 * time.Millisecond

// FrameSamples is the number of samples in one frame at rate.
func FrameSamples(rate int) int { return rate / 50 }

// Digit is a DTMF key: '0'-'9', '*', '#' or 'A'-'D'.
type Digit byte

// Valid reports whether d is one of the sixteen DTMF keys.
func (d Digit) Valid() bool {
	return (d >= '0' && d <= '9') || d == '*' || d == '#' || (d >= 'A' && d <= 'D')
}

func (d Digit) String() string { return string(rune(d)) }

// ErrHangup is returned by a Leg's reads and writes once the leg has ended.
var ErrHangup = errors.New("media: leg ended")

// Leg is one party's audio and events, whatever the transport. Frames are
// 20 ms of 16-bit mono PCM at SampleRate.
type Leg interface {
	// ID identifies the leg in logs: the SIP Call-ID, the WebRTC session id.
	ID() string
	// SampleRate of the frames read from and written to the leg.
	SampleRate() int
	// ReadFrame returns the next frame heard from the far end. Frames come
	// on the leg's clock, one every 20 ms; lost audio is concealed.
	ReadFrame(ctx context.Context) ([]int16, error)
	// WriteFrame queues one frame for the far end. It blocks while the send
	// queue is full, so a writer is paced by the leg's clock.
	WriteFrame(ctx context.Context, frame []int16) error
	// Flush drops queued frames not yet sent, so barge-in is immediate.
	Flush()
	// Digits delivers the DTMF keys pressed by the far end.
	Digits() <-chan Digit
	// SetTap installs fn to be called on every clock tick with the frame
	// heard and the frame sent (silence when idle); recording uses it.
	// fn must not block. nil removes it.
	SetTap(fn Tap)
	// Done is closed when the leg has ended, from either side.
	Done() <-chan struct{}
	// Hangup ends the leg from our side.
	Hangup(ctx context.Context) error
}

// Tap sees both directions of a leg at each tick; the slices are only valid
// during the call.
type Tap func(heard, sent []int16)
