package media

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// CallRecording records both directions of a leg as a stereo WAV: what the
// far end said on the left, what Hotline sent on the right. The leg's clock
// only hands frames over a channel; a goroutine of the recording's own does
// the disk writes, so a slow disk never delays audio.
type CallRecording struct {
	rec     *Recorder
	leg     Leg
	frames  chan [2][]int16
	dropped atomic.Uint64
	wg      sync.WaitGroup
	err     error

	mu     sync.Mutex // orders the tap's sends before the close of frames
	closed bool
}

// recordQueueFrames is how far the disk may fall behind (2 s) before frames
// are dropped rather than stalling the leg.
const recordQueueFrames = 100

// RecordLeg starts recording leg to path until Stop or ctx is done.
func RecordLeg(ctx context.Context, leg Leg, path string) (*CallRecording, error) {
	rec, err := NewRecorder(path, leg.SampleRate(), 2)
	if err != nil {
		return nil, fmt.Errorf("media: start recording: %w", err)
	}
	r := &CallRecording{rec: rec, leg: leg, frames: make(chan [2][]int16, recordQueueFrames)}
	done := make(chan struct{})
	r.wg.Add(1)
	go r.write(done)
	leg.SetTap(func(heard, sent []int16) {
		pair := [2][]int16{append([]int16(nil), heard...), append([]int16(nil), sent...)}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.closed {
			return
		}
		select {
		case r.frames <- pair:
		default:
			r.dropped.Add(1)
		}
	})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case <-ctx.Done():
		case <-done:
		}
		r.detach()
	}()
	return r, nil
}

func (r *CallRecording) write(done chan struct{}) {
	defer r.wg.Done()
	defer close(done)
	for pair := range r.frames {
		if r.err != nil {
			continue
		}
		if err := r.rec.WriteStereo(pair[0], pair[1]); err != nil {
			r.err = err
		}
	}
	if err := r.rec.Close(); err != nil && r.err == nil {
		r.err = err
	}
}

// detach removes the tap and lets the writer finish what is queued.
func (r *CallRecording) detach() {
	r.leg.SetTap(nil)
	// A tick that loaded the tap before SetTap(nil) may still be running.
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.frames)
	}
}

// Stop ends the recording, flushes the file and reports any write error.
func (r *CallRecording) Stop() error {
	r.detach()
	r.wg.Wait()
	if d := r.dropped.Load(); d > 0 {
		return errors.Join(r.err, fmt.Errorf("media: recording dropped %d frames", d))
	}
	return r.err
}

// Path is where the recording is written.
func (r *CallRecording) Path() string { return r.rec.Path() }
