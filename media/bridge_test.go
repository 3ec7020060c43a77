package media

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-audio/wav"
	"go.uber.org/goleak"

	"github.com/hotline-cc/hotline/internal/audiotest"
)

const (
	callerHz = 400.0
	agentHz  = 1200.0
)

// talk plays a continuous tone at freq into leg until it ends.
func talk(ctx context.Context, leg Leg, freq float64) {
	rate := leg.SampleRate()
	n := FrameSamples(rate)
	tone := audiotest.Tone(rate, freq, 0.5, 50*n) // a whole number of cycles for both tones
	for i := 0; ; i = (i + 1) % 50 {
		if leg.WriteFrame(ctx, tone[i*n:(i+1)*n]) != nil {
			return
		}
	}
}

// hear collects n frames from leg.
func hear(ctx context.Context, leg Leg, n int) <-chan []int16 {
	out := make(chan []int16, 1)
	go func() {
		var pcm []int16
		for range n {
			f, err := leg.ReadFrame(ctx)
			if err != nil {
				break
			}
			pcm = append(pcm, f...)
		}
		out <- pcm
	}()
	return out
}

// TestBridgeCarriesEachSideToTheOther: two calls, one the caller's and one
// the agent's, each with a phone at its far end; the bridge makes each phone
// hear the other's tone, at either rate, and the caller's recording keeps
// the caller left and the agent right.
func TestBridgeCarriesEachSideToTheOther(t *testing.T) {
	for _, rates := range [][2]int{{8000, 8000}, {8000, 16000}, {16000, 8000}} {
		t.Run(fmt.Sprintf("%d-%d", rates[0], rates[1]), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				callerPhone, callerLeg := NewPipe(ctx, rates[0])
				agentPhone, agentLeg := NewPipe(ctx, rates[1])
				path := filepath.Join(t.TempDir(), "call.wav")
				rec, err := RecordLeg(ctx, callerLeg, path)
				if err != nil {
					t.Fatal(err)
				}
				go talk(ctx, callerPhone, callerHz)
				go talk(ctx, agentPhone, agentHz)
				const frames = 50
				agentHeard, callerHeard := hear(ctx, agentPhone, frames), hear(ctx, callerPhone, frames)
				var byAgent, byCaller []int16
				go func() {
					byAgent, byCaller = <-agentHeard, <-callerHeard
					agentPhone.Hangup(ctx)
				}()
				before := goleak.IgnoreCurrent()

				res, err := Bridge(ctx, callerLeg, agentLeg, BridgeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if err := goleak.Find(before); err != nil {
					t.Errorf("bridge left goroutines: %v", err)
				}
				if res.HungUp != SideB {
					t.Errorf("hung up: %v, want b (the agent)", res.HungUp)
				}
				if res.AToB < frames-10 || res.BToA < frames-10 {
					t.Errorf("forwarded %d frames a→b and %d b→a in %v, want about %d", res.AToB, res.BToA, res.Duration, frames)
				}
				assertTone(t, "agent heard", byAgent[len(byAgent)/2:], rates[1], callerHz, agentHz)
				assertTone(t, "caller heard", byCaller[len(byCaller)/2:], rates[0], agentHz, callerHz)

				if err := rec.Stop(); err != nil {
					t.Fatal(err)
				}
				left, right := loadStereo(t, path)
				assertTone(t, "recording left", left, rates[0], callerHz, agentHz)
				assertTone(t, "recording right", right, rates[0], agentHz, callerHz)
			})
		})
	}
}

func assertTone(t *testing.T, what string, pcm []int16, rate int, want, not float64) {
	t.Helper()
	if len(pcm) == 0 {
		t.Errorf("%s nothing", what)
		return
	}
	if s := audiotest.ToneShare(pcm, rate, want); s < 0.8 {
		t.Errorf("%s %.0f Hz at %.2f of its energy, want ≥ 0.8", what, want, s)
	}
	if s := audiotest.ToneShare(pcm, rate, not); s > 0.05 {
		t.Errorf("%s %.0f Hz at %.2f of its energy, want none", what, not, s)
	}
}

// TestBridgeEndsWithEitherSide: whichever side hangs up is reported, the
// other leg is left up for what follows, and a cancelled context ends the
// bridge with its error.
func TestBridgeEndsWithEitherSide(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(callerPhone, agentPhone *PipeLeg, cancel context.CancelFunc)
		want Side
	}{
		{"caller", func(c, _ *PipeLeg, _ context.CancelFunc) { c.Hangup(context.Background()) }, SideA},
		{"agent", func(_, a *PipeLeg, _ context.CancelFunc) { a.Hangup(context.Background()) }, SideB},
		{"context", func(_, _ *PipeLeg, cancel context.CancelFunc) { cancel() }, SideNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				callerPhone, callerLeg := NewPipe(ctx, 8000)
				agentPhone, agentLeg := NewPipe(ctx, 8000)
				bridgeCtx, stopBridge := context.WithCancel(ctx)
				go func() {
					time.Sleep(300 * time.Millisecond)
					tc.end(callerPhone, agentPhone, stopBridge)
				}()
				before := goleak.IgnoreCurrent()

				res, err := Bridge(bridgeCtx, callerLeg, agentLeg, BridgeOptions{})
				if err := goleak.Find(before); err != nil {
					t.Errorf("bridge left goroutines: %v", err)
				}
				if res.HungUp != tc.want {
					t.Errorf("hung up: %v, want %v", res.HungUp, tc.want)
				}
				if tc.want == SideNone {
					if !errors.Is(err, context.Canceled) {
						t.Errorf("error %v, want context.Canceled", err)
					}
				} else if err != nil {
					t.Errorf("error %v after a hang-up", err)
				}
				for _, l := range []struct {
					side Side
					leg  Leg
				}{{SideA, callerLeg}, {SideB, agentLeg}} {
					select {
					case <-l.leg.Done():
						if l.side != tc.want {
							t.Errorf("leg %v ended, but only %v hung up", l.side, tc.want)
						}
					default:
					}
				}
				stopBridge()
			})
		})
	}
}

// TestBridgeMute: a muted direction carries silence; the other is untouched.
func TestBridgeMute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		callerPhone, callerLeg := NewPipe(ctx, 8000)
		agentPhone, agentLeg := NewPipe(ctx, 8000)
		go talk(ctx, callerPhone, callerHz)
		go talk(ctx, agentPhone, agentHz)
		agentHeard, callerHeard := hear(ctx, agentPhone, 30), hear(ctx, callerPhone, 30)
		var byAgent, byCaller []int16
		go func() {
			byAgent, byCaller = <-agentHeard, <-callerHeard
			callerPhone.Hangup(ctx)
		}()
		res, err := Bridge(ctx, callerLeg, agentLeg, BridgeOptions{MuteBToA: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.BToA != 0 {
			t.Errorf("%d frames forwarded to the caller while muted", res.BToA)
		}
		if l := Level(byCaller); l > SilenceDBFS {
			t.Errorf("muted: the caller heard %.1f dBFS", l)
		}
		assertTone(t, "agent heard", byAgent[len(byAgent)/2:], 8000, callerHz, agentHz)
	})
}

// TestBridgeDropsStaleAudio: audio the legs heard before the bridge began
// is not carried into the conversation as delay. The legs run half a second
// unread, so each holds a full backlog; the caller's first word must still
// reach the agent within a few frames.
func TestBridgeDropsStaleAudio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		callerPhone, callerLeg := NewPipe(ctx, 8000)
		agentPhone, agentLeg := NewPipe(ctx, 8000)
		time.Sleep(500 * time.Millisecond)

		spokeAt, heardAt := make(chan time.Time, 1), make(chan time.Time, 1)
		go func() {
			time.Sleep(200 * time.Millisecond)
			spokeAt <- time.Now()
			talk(ctx, callerPhone, callerHz)
		}()
		go func() {
			for {
				f, err := agentPhone.ReadFrame(ctx)
				if err != nil {
					return
				}
				if audiotest.ToneShare(f, 8000, callerHz) > 0.5 {
					heardAt <- time.Now()
					agentPhone.Hangup(ctx)
					return
				}
			}
		}()
		res, err := Bridge(ctx, callerLeg, agentLeg, BridgeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Four clocks each hand the frame on at their next tick: up to 80 ms
		// on the way; a carried backlog would add 160 ms to that.
		if delay := (<-heardAt).Sub(<-spokeAt); delay > 5*FrameDuration {
			t.Errorf("the agent heard the caller %v after they spoke, want ≤ %v", delay, 5*FrameDuration)
		}
		if res.DroppedAToB == 0 || res.DroppedBToA == 0 {
			t.Errorf("dropped %d and %d stale frames, want the backlogs", res.DroppedAToB, res.DroppedBToA)
		}
	})
}

// sinkLeg takes frames and throws them away; only what forward uses is
// implemented.
type sinkLeg struct {
	Leg
	rate int
}

func (s sinkLeg) ID() string                                { return "sink" }
func (s sinkLeg) SampleRate() int                           { return s.rate }
func (s sinkLeg) WriteFrame(context.Context, []int16) error { return nil }

// BenchmarkBridgeFrame is the bridge's own cost per 20 ms frame in one
// direction (resampling when the rates differ, and the hand-over), without
// the legs' clocks.
func BenchmarkBridgeFrame(b *testing.B) {
	for _, rates := range [][2]int{{8000, 8000}, {8000, 16000}, {16000, 8000}, {48000, 8000}} {
		b.Run(fmt.Sprintf("%d-%d", rates[0], rates[1]), func(b *testing.B) {
			d := newBridgeDir(sinkLeg{rate: rates[0]}, sinkLeg{rate: rates[1]}, false)
			frame := audiotest.Tone(rates[0], callerHz, 0.5, FrameSamples(rates[0]))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := d.forward(ctx, frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loadStereo reads a stereo 16-bit recording's two channels.
func loadStereo(t *testing.T, path string) (left, right []int16) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := wav.NewDecoder(f)
	buf, err := d.FullPCMBuffer()
	if err != nil {
		t.Fatal(err)
	}
	if d.NumChans != 2 || d.BitDepth != 16 {
		t.Fatalf("recording has %d channels of %d bits, want 2 of 16", d.NumChans, d.BitDepth)
	}
	for i := 0; i+1 < len(buf.Data); i += 2 {
		left = append(left, int16(buf.Data[i]))
		right = append(right, int16(buf.Data[i+1]))
	}
	return left, right
}
