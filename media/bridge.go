package media

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/internal/logctx"
)

// Side names a leg of a bridge.
type Side uint8

const (
	// SideNone: neither leg ended; the bridge's context did, or it failed.
	SideNone Side = iota
	// SideA is the first leg given to Bridge, the caller by convention.
	SideA
	// SideB is the second leg, the agent by convention.
	SideB
)

func (s Side) String() string {
	switch s {
	case SideA:
		return "a"
	case SideB:
		return "b"
	}
	return "none"
}

// BridgeOptions shape a bridge. The zero value carries audio both ways.
type BridgeOptions struct {
	// MuteAToB keeps a's audio from b: b hears silence. a is still read,
	// so a recording of a keeps what a said.
	MuteAToB bool
	// MuteBToA keeps b's audio from a.
	MuteBToA bool
}

// BridgeResult says how a bridge ended.
type BridgeResult struct {
	// HungUp is the leg that ended the bridge, SideNone when ctx did.
	HungUp Side
	// Duration is how long the bridge ran.
	Duration time.Duration
	// AToB and BToA count the frames written each way.
	AToB, BToA uint64
	// DroppedAToB and DroppedBToA count frames dropped because they were
	// stale: heard before the bridge began or queued behind a stall.
	DroppedAToB, DroppedBToA uint64
}

// staleRead is how quickly ReadFrame must return for the frame to count as
// queued rather than fresh: a fresh frame comes on the leg's next tick,
// milliseconds away, a queued one at once.
const staleRead = FrameDuration / 10

// Bridge connects a and b: each frame heard on one leg is written to the
// other, resampled when their rates differ, until either leg ends or ctx is
// done. Digits and everything else stay where they are. Bridge ends neither
// leg: the caller decides what follows a hang-up (wrap-up, a survey).
//
// Each direction is paced by its own legs' clocks: read on the source's
// tick, queued for the destination's. Bridge never touches the legs' taps,
// so a recording of the caller's leg goes on unchanged: the caller on the
// left and, on the right, what the caller heard, now the agent.
//
// While bridged, Bridge is the only reader of both legs' frames. All the
// goroutines it starts have ended when it returns. It returns ctx's error
// when ctx ended the bridge, nil when a leg hung up.
func Bridge(ctx context.Context, a, b Leg, opt BridgeOptions) (BridgeResult, error) {
	start := time.Now()
	log := logctx.From(ctx, nil).With("leg_a", a.ID(), "leg_b", b.ID())
	pumpCtx, stop := context.WithCancel(ctx)
	defer stop()
	// Hold music or a prompt still queued would come before the other
	// party's voice; the conversation starts now.
	a.Flush()
	b.Flush()

	ab := newBridgeDir(a, b, opt.MuteAToB)
	ba := newBridgeDir(b, a, opt.MuteBToA)
	failed := make(chan error, 2)
	var wg sync.WaitGroup
	for _, d := range []*bridgeDir{ab, ba} {
		wg.Go(func() {
			if err := d.run(pumpCtx); err != nil {
				failed <- err
			}
		})
	}
	log.Debug("bridge started", "rate_a", a.SampleRate(), "rate_b", b.SampleRate())

	var res BridgeResult
	var err error
	select {
	case <-a.Done():
		res.HungUp = SideA
	case <-b.Done():
		res.HungUp = SideB
	case <-ctx.Done():
		err = ctx.Err()
	case err = <-failed:
	}
	stop()
	wg.Wait()

	res.Duration = time.Since(start)
	res.AToB, res.BToA = ab.written.Load(), ba.written.Load()
	res.DroppedAToB, res.DroppedBToA = ab.dropped.Load(), ba.dropped.Load()
	log.Info("bridge ended", "hung_up", res.HungUp, "duration", res.Duration,
		"frames_a_to_b", res.AToB, "frames_b_to_a", res.BToA,
		"stale_a_to_b", res.DroppedAToB, "stale_b_to_a", res.DroppedBToA)
	return res, err
}

// bridgeDir carries one direction of a bridge.
type bridgeDir struct {
	from, to Leg
	mute     bool
	rs       *Resampler
	size     int     // samples in one of to's frames
	out      []int16 // resampled audio not yet written
	conv     []int16 // Process's output, reused

	written, dropped atomic.Uint64
}

func newBridgeDir(from, to Leg, mute bool) *bridgeDir {
	return &bridgeDir{
		from: from,
		to:   to,
		mute: mute,
		rs:   NewResampler(from.SampleRate(), to.SampleRate()),
		size: FrameSamples(to.SampleRate()),
	}
}

// run copies frames until a leg ends (nil) or ctx is done (nil: Bridge
// knows why it stopped). Other failures are returned.
//
// A frame that was already queued when asked for is stale when the one
// before it was queued too: the source heard it while nobody read (before
// the bridge, or while the destination stalled). Forwarding such a backlog
// would add its length to this direction's delay for the rest of the call,
// so it is dropped and the delay stays within a frame or two.
func (d *bridgeDir) run(ctx context.Context) error {
	prevQueued := false
	for {
		asked := time.Now()
		f, err := d.from.ReadFrame(ctx)
		if err != nil {
			return d.quietEnd(ctx, err)
		}
		queued := time.Since(asked) < staleRead
		stale := queued && prevQueued
		prevQueued = queued
		if stale {
			d.dropped.Add(1)
			continue
		}
		if d.mute {
			continue
		}
		if err := d.forward(ctx, f); err != nil {
			return d.quietEnd(ctx, err)
		}
	}
}

// forward resamples f to the destination's rate and writes every whole
// frame it completes; with rates whose frames are not whole numbers of
// samples the remainder waits for the next frame.
func (d *bridgeDir) forward(ctx context.Context, f []int16) error {
	d.conv = d.rs.Process(d.conv, f)
	d.out = append(d.out, d.conv...)
	n := 0
	for ; n+d.size <= len(d.out); n += d.size {
		if err := d.to.WriteFrame(ctx, d.out[n:n+d.size]); err != nil {
			return err
		}
		d.written.Add(1)
	}
	d.out = d.out[:copy(d.out, d.out[n:])]
	return nil
}

// quietEnd turns the ways a bridge normally ends into nil and names the
// legs in anything else.
func (d *bridgeDir) quietEnd(ctx context.Context, err error) error {
	if errors.Is(err, ErrHangup) || ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("media: bridge %s to %s: %w", d.from.ID(), d.to.ID(), err)
}
