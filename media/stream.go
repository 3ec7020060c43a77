package media

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Port is the transport side of a Stream: it turns frames into packets and
// packets into frames. Both methods are called from the Stream's clock
// goroutine only, once per tick.
type Port interface {
	// Receive fills dst with the frame due for playout now, concealing loss.
	Receive(dst []int16)
	// Send transmits one frame.
	Send(frame []int16) error
}

const (
	// sendQueueFrames bounds what a writer may queue ahead of the clock; it is
	// also the most audio a Flush can drop, so it sets barge-in latency.
	sendQueueFrames = 3
	// heardQueueFrames is how much heard audio waits for a reader before the
	// oldest frame is dropped. It is short on purpose: a reader that starts
	// listening (an echo test, a recognizer after a prompt) wants what the
	// caller says now, not a backlog from while nobody listened.
	heardQueueFrames = 8
	// maxBehind is how many ticks the clock may fall behind (a stalled
	// process, a paused VM) before it skips ahead instead of bursting.
	maxBehind = 3
	// lateThreshold is how far past its slot a tick may run and still count
	// as on time.
	lateThreshold = 5 * time.Millisecond
)

// StreamStats counts what a Stream's clock did.
type StreamStats struct {
	Ticks   uint64 // frames sent and received
	Late    uint64 // ticks that ran more than 5 ms after their slot
	Skipped uint64 // slots skipped after a stall rather than sent in a burst
	SendErr uint64 // frames the Port failed to send
}

// Stream is the paced core of every Leg: one monotonic 20 ms clock that, on
// each tick, takes one frame from the Port for the reader and hands one
// queued frame (or silence) to the Port. Transports embed it and add ID and
// Hangup.
type Stream struct {
	rate    int
	port    Port
	heard   chan []int16
	send    chan []int16
	digits  chan Digit
	tap     atomic.Pointer[Tap]
	done    chan struct{}
	endOnce sync.Once
	silence []int16

	ticks, late, skipped, sendErr atomic.Uint64
}

// NewStream returns a Stream at rate over port. Its clock runs in Run.
func NewStream(rate int, port Port) *Stream {
	return &Stream{
		rate:    rate,
		port:    port,
		heard:   make(chan []int16, heardQueueFrames),
		send:    make(chan []int16, sendQueueFrames),
		digits:  make(chan Digit, 32),
		done:    make(chan struct{}),
		silence: make([]int16, FrameSamples(rate)),
	}
}

// Run drives the clock until ctx is done or the stream ends. Deadlines are
// computed from the start time and the tick count, so the clock does not
// drift however long the call; after a stall it skips the missed slots
// rather than sending them in a burst.
func (s *Stream) Run(ctx context.Context) {
	timer := time.NewTimer(FrameDuration)
	defer timer.Stop()
	start := time.Now()
	var n time.Duration
	for {
		n++
		due := start.Add(n * FrameDuration)
		wait := time.Until(due)
		if behind := -wait / FrameDuration; behind > maxBehind {
			n += behind
			s.skipped.Add(uint64(behind))
			due = start.Add(n * FrameDuration)
			wait = time.Until(due)
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			case <-s.done:
				return
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-s.done:
				return
			default:
			}
		}
		if time.Since(due) > lateThreshold {
			s.late.Add(1)
		}
		s.tick()
	}
}

func (s *Stream) tick() {
	s.ticks.Add(1)
	heard := make([]int16, len(s.silence))
	s.port.Receive(heard)
	sent := s.silence
	select {
	case sent = <-s.send:
	default:
	}
	if err := s.port.Send(sent); err != nil {
		s.sendErr.Add(1)
	}
	if tap := s.tap.Load(); tap != nil {
		(*tap)(heard, sent)
	}
	select {
	case s.heard <- heard:
	default:
		// The reader is behind: drop the oldest frame, keep the newest.
		select {
		case <-s.heard:
		default:
		}
		s.heard <- heard
	}
}

// SampleRate is the rate of the frames read and written.
func (s *Stream) SampleRate() int { return s.rate }

// ReadFrame returns the next frame heard from the far end.
func (s *Stream) ReadFrame(ctx context.Context) ([]int16, error) {
	select {
	case f := <-s.heard:
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, ErrHangup
	}
}

// WriteFrame queues frame for sending; it must be exactly one frame long.
func (s *Stream) WriteFrame(ctx context.Context, frame []int16) error {
	if len(frame) != len(s.silence) {
		return fmt.Errorf("media: frame of %d samples, want %d", len(frame), len(s.silence))
	}
	select {
	case <-s.done: // checked first: a free queue slot must not hide the end
		return ErrHangup
	default:
	}
	cp := append([]int16(nil), frame...)
	select {
	case s.send <- cp:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrHangup
	}
}

// Flush drops the frames queued for sending.
func (s *Stream) Flush() {
	for {
		select {
		case <-s.send:
		default:
			return
		}
	}
}

// Digits delivers the DTMF keys pressed by the far end.
func (s *Stream) Digits() <-chan Digit { return s.digits }

// PushDigit is called by the transport for each key the far end pressed.
// A reader that has fallen 32 keys behind loses the newest.
func (s *Stream) PushDigit(d Digit) {
	select {
	case s.digits <- d:
	default:
	}
}

// SetTap installs fn to see both directions at every tick.
func (s *Stream) SetTap(fn Tap) {
	if fn == nil {
		s.tap.Store(nil)
		return
	}
	s.tap.Store(&fn)
}

// Done is closed when the stream has ended.
func (s *Stream) Done() <-chan struct{} { return s.done }

// End stops the clock and fails pending reads and writes with ErrHangup.
// It is safe to call more than once.
func (s *Stream) End() { s.endOnce.Do(func() { close(s.done) }) }

// Stats returns the clock's counters.
func (s *Stream) Stats() StreamStats {
	return StreamStats{
		Ticks:   s.ticks.Load(),
		Late:    s.late.Load(),
		Skipped: s.skipped.Load(),
		SendErr: s.sendErr.Load(),
	}
}
