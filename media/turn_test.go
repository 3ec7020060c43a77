package media_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
)

// Turn-taking runs over media.NewPipe: two in-memory legs on real 20 ms
// clocks (fake time, through synctest). Hotline plays and listens on one
// end; the test is the caller on the other, and a tap on the caller's leg
// sees, tick by tick, what the caller sent and heard. Latencies are counted
// in those ticks, not measured on a wall clock.

const frameLen = 160 // samples per frame at 8 kHz

// callerTap records what the caller's leg sent and heard at each tick.
type callerTap struct {
	mu          sync.Mutex
	sent, heard [][]int16
}

func tapLeg(leg media.Leg) *callerTap {
	c := &callerTap{}
	leg.SetTap(func(heard, sent []int16) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.sent = append(c.sent, slices.Clone(sent))
		c.heard = append(c.heard, slices.Clone(heard))
	})
	return c
}

func (c *callerTap) ticks() (sent, heard [][]int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent), slices.Clone(c.heard)
}

// say writes pcm to leg frame by frame, paced by the leg, until it ends or
// ctx does.
func say(ctx context.Context, leg media.Leg, pcm []int16) {
	for off := 0; off+frameLen <= len(pcm); off += frameLen {
		if leg.WriteFrame(ctx, pcm[off:off+frameLen]) != nil {
			return
		}
	}
}

// tickOf is the tick at which the frame of pcm at sample off was sent.
func tickOf(sent [][]int16, pcm []int16, off int) int {
	want := pcm[off/frameLen*frameLen : off/frameLen*frameLen+frameLen]
	for i, f := range sent {
		if slices.Equal(f, want) {
			return i
		}
	}
	return -1
}

func isSound(f []int16) bool { return media.Level(f) > -80 }

// prompt is a 440 Hz tone: every frame of it is audible, so the caller's
// last prompt frame is exact.
func prompt(d time.Duration) []int16 {
	return audiotest.Tone(telRate, 440, 0.25, int(d*telRate/time.Second))
}

// callerSpeech is what the caller sends: background, then p from speechAt,
// through G.711. It returns the audio and the sample of the true onset.
func callerSpeech(t *testing.T, p phrase, noiseDBFS float64, speechAt, total int) ([]int16, int) {
	sp := speech(t, p)
	clean := mix(make([]int16, total), sp, speechAt)
	first, _ := audibleSpan(clean, noiseDBFS)
	return g711(mix(clean, whiteNoise(total, noiseDBFS, 11), 0)), first * telRate / 100
}

// TestPlayBargeInStopsPromptWithin150ms is the feature's bound: from the
// onset of the caller's speech, in the frames the caller sent, to the last
// prompt frame the caller heard, under 150 ms. Speech is confirmed after
// 60 ms of voice; the rest is one tick for the caller's frame to reach
// Hotline and one for the prompt frame already on its way back.
func TestPlayBargeInStopsPromptWithin150ms(t *testing.T) {
	for _, bg := range backgrounds {
		// A line heard only as digital silence gives the detector no noise
		// floor, so steady sound must also vary before it counts as speech
		// (see VAD); that can cost up to 40 ms more.
		bound := 150
		if bg.level < -150 {
			bound = 190
		}
		worst := 0
		t.Run(bg.name, func(t *testing.T) {
			for _, p := range phrases {
				audio, onset := callerSpeech(t, p, bg.level, telRate, 4*telRate)
				t.Run(p.text, func(t *testing.T) {
					frames, heard := bargeIn(t, audio, onset)
					t.Logf("%v: prompt heard until %d frames (%d ms) after the onset; %d ms of speech handed over",
						p, frames, frames*20, heard*20)
					worst = max(worst, frames)
					if frames*20 >= bound {
						t.Errorf("the caller heard the prompt %d ms past the speech onset, want < %d ms", frames*20, bound)
					}
				})
			}
			t.Logf("worst: prompt stopped %d frames (%d ms) after the speech onset", worst, worst*20)
		})
	}
}

// bargeIn plays a 5 s prompt while the caller sends audio, whose speech
// starts at sample onset, and returns how many frames of the prompt the
// caller heard from the onset's frame on, and how many frames Heard holds.
func bargeIn(t *testing.T, audio []int16, onset int) (frames, heardFrames int) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, telRate)
		tap := tapLeg(caller)
		go say(ctx, caller, audio)

		res, err := media.Play(ctx, hotline, media.FramesOf(prompt(5*time.Second), telRate), media.PlayOptions{BargeIn: true})
		if err != nil || res.Reason != media.BargeInSpeech {
			t.Fatalf("Play = %v, %v; want barge-in", res.Reason, err)
		}
		time.Sleep(200 * time.Millisecond) // let anything in flight arrive
		sent, heard := tap.ticks()

		onsetTick := tickOf(sent, audio, onset)
		lastPrompt := -1
		for i, f := range heard {
			if isSound(f) {
				lastPrompt = i
			}
		}
		if onsetTick < 0 || lastPrompt < 0 {
			t.Fatalf("onset tick %d, last prompt tick %d", onsetTick, lastPrompt)
		}
		if prompted := slices.IndexFunc(heard, isSound); onsetTick-prompted < 45 {
			t.Errorf("only %d prompt frames before the onset", onsetTick-prompted)
		}
		// Heard runs contiguously from at most the lead-in before the
		// onset's frame to where speech was confirmed.
		n := len(res.Heard) / frameLen
		first := -1
		for i := max(onsetTick-5, 0); i+n <= len(sent); i++ {
			if slices.Equal(sent[i+n-1], res.Heard[(n-1)*frameLen:]) {
				first = i
				break
			}
		}
		if first < 0 || first > onsetTick || onsetTick-first > 4 {
			t.Errorf("Heard starts at tick %d, the onset is at %d", first, onsetTick)
		}
		for i := 0; first >= 0 && i < n; i++ {
			if !slices.Equal(res.Heard[i*frameLen:(i+1)*frameLen], sent[first+i]) {
				t.Fatalf("Heard departs from what the caller sent at frame %d", i)
			}
		}
		// From the start of the frame holding the onset to the end of the
		// last prompt frame the caller heard.
		frames, heardFrames = lastPrompt-onsetTick+1, len(res.Heard)/frameLen
	})
	return frames, heardFrames
}

func TestPlayCoughDoesNotBargeIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, telRate)
		tap := tapLeg(caller)
		go say(ctx, caller, g711(clicksAndCoughs(whiteNoise(4*telRate, -50, 3))))

		pr := prompt(3 * time.Second)
		res, err := media.Play(ctx, hotline, media.FramesOf(pr, telRate), media.PlayOptions{BargeIn: true, DTMFBargeIn: true})
		if err != nil || res.Reason != media.Finished {
			t.Fatalf("Play = %v, %v; want finished", res.Reason, err)
		}
		time.Sleep(100 * time.Millisecond)
		_, heard := tap.ticks()
		if n := countFunc(heard, isSound); n != len(pr)/frameLen {
			t.Errorf("caller heard %d prompt frames, want all %d", n, len(pr)/frameLen)
		}
	})
}

func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}

func TestPlayWithoutBargeInPlaysToTheEnd(t *testing.T) {
	audio, _ := callerSpeech(t, phrases[0], -60, telRate/2, 4*telRate)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, telRate)
		go say(ctx, caller, audio)
		sentByHotline := tapLeg(hotline)

		pr := prompt(2 * time.Second)
		res, err := media.Play(ctx, hotline, media.FramesOf(pr, telRate), media.PlayOptions{})
		if err != nil || res.Reason != media.Finished {
			t.Fatalf("Play = %v, %v; want finished", res.Reason, err)
		}
		// Play returns once the last frame has gone out, not before.
		sent, _ := sentByHotline.ticks()
		if n := countFunc(sent, isSound); n != len(pr)/frameLen {
			t.Errorf("%d prompt frames sent when Play returned, want all %d", n, len(pr)/frameLen)
		}
		if n := len(sent); n > len(pr)/frameLen+sendQueue+1 {
			t.Errorf("Play returned %d ticks after the start of a %d-frame prompt", n, len(pr)/frameLen)
		}
	})
}

const sendQueue = 3 // media.Stream's send queue, in frames

func TestPlayDTMFBargeIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, telRate)
		tap := tapLeg(caller)
		go func() {
			time.Sleep(time.Second)
			caller.SendDigit('7')
		}()
		res, err := media.Play(ctx, hotline, media.FramesOf(prompt(5*time.Second), telRate), media.PlayOptions{BargeIn: true, DTMFBargeIn: true})
		if err != nil || res.Reason != media.BargeInDigit || res.Digit != '7' {
			t.Fatalf("Play = %+v, %v; want barge-in by 7", res, err)
		}
		time.Sleep(200 * time.Millisecond)
		_, heard := tap.ticks()
		last := 0
		for i, f := range heard {
			if isSound(f) {
				last = i
			}
		}
		// The key was pressed at tick 50.
		if late := last - 50 + 1; late*20 >= 100 {
			t.Errorf("prompt heard %d ms after the key", late*20)
		}
	})
}

func TestPlayLeavesDigitsWithoutDTMFBargeIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, telRate)
		caller.SendDigit('1')
		res, err := media.Play(ctx, hotline, media.FramesOf(prompt(500*time.Millisecond), telRate), media.PlayOptions{BargeIn: true})
		if err != nil || res.Reason != media.Finished {
			t.Fatalf("Play = %v, %v", res.Reason, err)
		}
		u, err := media.Listen(ctx, hotline, media.ListenOptions{})
		if err != nil || u.Digit != '1' {
			t.Errorf("Listen after the prompt = %+v, %v; want the key pressed during it", u.Digit, err)
		}
	})
}

func TestPlayEnds(t *testing.T) {
	t.Run("hang-up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			caller, hotline := media.NewPipe(t.Context(), telRate)
			go func() {
				time.Sleep(300 * time.Millisecond)
				caller.Hangup(context.Background())
			}()
			_, err := media.Play(t.Context(), hotline, media.FramesOf(prompt(5*time.Second), telRate), media.PlayOptions{BargeIn: true})
			if !errors.Is(err, media.ErrHangup) {
				t.Errorf("Play = %v, want ErrHangup", err)
			}
		})
	})
	t.Run("hang-up while the source stalls", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			caller, hotline := media.NewPipe(t.Context(), telRate)
			go func() {
				time.Sleep(300 * time.Millisecond)
				caller.Hangup(context.Background())
			}()
			_, err := media.Play(t.Context(), hotline, stalling{}, media.PlayOptions{})
			if !errors.Is(err, media.ErrHangup) {
				t.Errorf("Play = %v, want ErrHangup", err)
			}
		})
	})
	t.Run("cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, hotline := media.NewPipe(t.Context(), telRate)
			pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer pcancel()
			_, err := media.Play(pctx, hotline, media.FramesOf(prompt(5*time.Second), telRate), media.PlayOptions{BargeIn: true})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Play = %v, want the context's error", err)
			}
			hotline.Hangup(ctx)
		})
	})
	t.Run("source error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, hotline := media.NewPipe(t.Context(), telRate)
			defer hotline.Hangup(t.Context())
			boom := errors.New("tts connection reset")
			_, err := media.Play(t.Context(), hotline, failing{boom}, media.PlayOptions{BargeIn: true})
			if !errors.Is(err, boom) {
				t.Errorf("Play = %v, want the source's error", err)
			}
		})
	})
}

// stalling is a source that never produces a frame until ctx ends.
type stalling struct{}

func (stalling) Next(ctx context.Context) ([]int16, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

type failing struct{ err error }

func (f failing) Next(context.Context) ([]int16, error) { return nil, f.err }

func TestFramesOf(t *testing.T) {
	src := media.FramesOf(make([]int16, 2*frameLen+10), telRate)
	var n int
	for {
		f, err := src.Next(t.Context())
		if err == io.EOF {
			break
		}
		if len(f) != frameLen {
			t.Fatalf("frame of %d samples", len(f))
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d frames, want 3 (the last padded)", n)
	}
}

func TestListenEndOfTurn(t *testing.T) {
	cfg := media.DefaultVADConfig()
	for _, p := range phrases {
		sp := speech(t, p)
		audio, onset := callerSpeech(t, p, -50, telRate/2, telRate/2+len(sp)+3*telRate)
		clean := mix(make([]int16, len(audio)), sp, telRate/2)
		_, last := audibleSpan(clean, -50)
		end := (last + 1) * telRate / 100
		t.Run(p.text, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				caller, hotline := media.NewPipe(ctx, telRate)
				go say(ctx, caller, audio)
				var fed []int16
				start := time.Now()
				u, err := media.Listen(ctx, hotline, media.ListenOptions{OnFrame: func(f []int16) { fed = append(fed, f...) }})
				if err != nil {
					t.Fatal(err)
				}
				// On synctest's clock, ticks are exactly 20 ms apart.
				took := time.Since(start)
				// The caller's audio reaches Listen's frame clock at most
				// one tick after it is sent.
				trueStart := time.Duration(onset) * time.Second / telRate
				trueEnd := time.Duration(end) * time.Second / telRate
				t.Logf("%-55v start %+4d ms, end %+4d ms from the true ones; %d ms of audio",
					p, (u.Start - trueStart).Milliseconds(), (u.End - trueEnd).Milliseconds(), len(u.PCM)/8)
				if d := u.Start - trueStart; d < -40*time.Millisecond || d > 100*time.Millisecond {
					t.Errorf("%v: start %v, true onset %v", p, u.Start, trueStart)
				}
				if d := u.End - trueEnd; d < -250*time.Millisecond || d > 80*time.Millisecond {
					t.Errorf("%v: end %v, true end %v", p, u.End, trueEnd)
				}
				// Listen returned EndSilence after the end of the speech.
				if d := took - u.End; d < cfg.EndSilence-20*time.Millisecond || d > cfg.EndSilence+20*time.Millisecond {
					t.Errorf("%v: turn ended %v after the speech, want %v", p, d, cfg.EndSilence)
				}
				if !slices.Equal(fed, u.PCM) {
					t.Errorf("OnFrame was fed %d samples, the utterance has %d", len(fed), len(u.PCM))
				}
				// The utterance is the caller's audio, from before the onset.
				if at := frameIndex(audio, u.PCM[:frameLen]); at < 0 || at > onset || !slices.Equal(u.PCM, audio[at:at+len(u.PCM)]) {
					t.Errorf("%v: the utterance is not the caller's audio from the onset on (starts at sample %d, onset %d)", p, at, onset)
				}
			})
		})
	}
}

// frameIndex is the sample offset of the frame f in pcm, or -1.
func frameIndex(pcm, f []int16) int {
	for off := 0; off+frameLen <= len(pcm); off += frameLen {
		if slices.Equal(pcm[off:off+frameLen], f) {
			return off
		}
	}
	return -1
}

func TestListenNoInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, telRate)
		go say(ctx, caller, g711(clicksAndCoughs(whiteNoise(5*telRate, -45, 8))))
		start := time.Now()
		_, err := media.Listen(ctx, hotline, media.ListenOptions{NoInput: 2 * time.Second})
		if !errors.Is(err, media.ErrNoInput) {
			t.Fatalf("Listen = %v, want ErrNoInput", err)
		}
		if d := time.Since(start); d < 2*time.Second || d > 2*time.Second+40*time.Millisecond {
			t.Errorf("gave up after %v, want 2s", d)
		}
	})
}

func TestListenEndEarly(t *testing.T) {
	audio, _ := callerSpeech(t, phrases[2], -55, telRate/2, 3*telRate) // "yes"
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, telRate)
		go say(ctx, caller, audio)
		asked := 0
		start := time.Now()
		u, err := media.Listen(ctx, hotline, media.ListenOptions{EndEarly: func() bool {
			asked++
			return asked >= 5 // the recognizer is confident 100 ms into the quiet
		}})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start) - u.End; d < 100*time.Millisecond || d > 140*time.Millisecond {
			t.Errorf("turn ended %v after the speech, want ~100 ms", d)
		}
	})
}

func TestListenTakesADigit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, telRate)
		go func() {
			time.Sleep(700 * time.Millisecond)
			caller.SendDigit('#')
		}()
		u, err := media.Listen(ctx, hotline, media.ListenOptions{})
		if err != nil || u.Digit != '#' {
			t.Fatalf("Listen = %+v, %v; want #", u, err)
		}
		if u.End < 680*time.Millisecond || u.End > 740*time.Millisecond {
			t.Errorf("key taken at %v, pressed at 700ms", u.End)
		}
	})
}

func TestListenMaxSpeech(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, telRate)
		go say(ctx, caller, mix(whiteNoise(6*telRate, -60, 2), toneBurst(5*time.Second), telRate/2))
		u, err := media.Listen(ctx, hotline, media.ListenOptions{MaxSpeech: time.Second})
		if err != nil || !u.Truncated {
			t.Fatalf("Listen = truncated %v, %v", u.Truncated, err)
		}
		if d := u.End - u.Start; d < time.Second-40*time.Millisecond || d > time.Second {
			t.Errorf("utterance of %v, want 1s", d)
		}
	})
}

func TestListenEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caller, hotline := media.NewPipe(t.Context(), telRate)
		go func() {
			time.Sleep(300 * time.Millisecond)
			caller.Hangup(context.Background())
		}()
		if _, err := media.Listen(t.Context(), hotline, media.ListenOptions{}); !errors.Is(err, media.ErrHangup) {
			t.Errorf("Listen = %v, want ErrHangup", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		_, hotline := media.NewPipe(t.Context(), telRate)
		defer hotline.Hangup(t.Context())
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		if _, err := media.Listen(ctx, hotline, media.ListenOptions{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Listen = %v, want the context's error", err)
		}
	})
}

// TestBargeInThenListenLosesNothing: after a barge-in, Listen with the
// Heard audio as preroll yields the caller's speech without a gap at the
// seam, whether the detector is carried over or not.
func TestBargeInThenListenLosesNothing(t *testing.T) {
	for _, shared := range []bool{true, false} {
		for _, p := range []phrase{phrases[0], phrases[4]} {
			audio, onset := callerSpeech(t, p, -50, telRate, 5*telRate)
			t.Run(fmt.Sprintf("shared=%v/%s", shared, p.text), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ctx, cancel := context.WithCancel(t.Context())
					defer cancel()
					caller, hotline := media.NewPipe(ctx, telRate)
					go say(ctx, caller, audio)

					var vad *media.VAD
					if shared {
						vad = media.NewVAD(telRate, media.VADConfig{})
					}
					res, err := media.Play(ctx, hotline, media.FramesOf(prompt(5*time.Second), telRate),
						media.PlayOptions{BargeIn: true, Detector: vad})
					if err != nil || res.Reason != media.BargeInSpeech {
						t.Fatalf("Play = %v, %v", res.Reason, err)
					}
					u, err := media.Listen(ctx, hotline, media.ListenOptions{Preroll: res.Heard, Detector: vad})
					if err != nil {
						t.Fatal(err)
					}
					// u.PCM is one contiguous stretch of what the caller sent.
					at := -1
					for off := 0; off+frameLen <= len(audio); off += frameLen {
						if slices.Equal(audio[off:off+frameLen], u.PCM[:frameLen]) {
							at = off
							break
						}
					}
					if at < 0 || at > onset {
						t.Fatalf("shared %v, %v: utterance starts at sample %d, onset at %d", shared, p, at, onset)
					}
					n := min(len(u.PCM), len(audio)-at)
					if !slices.Equal(u.PCM[:n], audio[at:at+n]) {
						i := 0
						for i < n && u.PCM[i] == audio[at+i] {
							i++
						}
						t.Errorf("shared %v, %v: utterance departs from the caller's audio at %d ms in (Heard was %d ms)",
							shared, p, i/8, len(res.Heard)/8)
					}
					sp := speech(t, p)
					if want := onset - at + len(sp); len(u.PCM) < want {
						t.Errorf("shared %v, %v: utterance of %d ms, the speech alone is %d ms", shared, p, len(u.PCM)/8, want/8)
					}
				})
			})
		}
	}
}

// TestTurnTakingLeavesNoGoroutines: whatever ends Play or Listen, the
// goroutines they started have ended by the time they return.
func TestTurnTakingLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t)
	audio, _ := callerSpeech(t, phrases[1], -55, telRate/2, 3*telRate)
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context, caller, hotline *media.PipeLeg) error
	}{
		{"finished", func(ctx context.Context, _, h *media.PipeLeg) error {
			_, err := media.Play(ctx, h, media.FramesOf(prompt(300*time.Millisecond), telRate), media.PlayOptions{BargeIn: true, DTMFBargeIn: true})
			return err
		}},
		{"speech", func(ctx context.Context, c, h *media.PipeLeg) error {
			go say(ctx, c, audio)
			_, err := media.Play(ctx, h, media.FramesOf(prompt(3*time.Second), telRate), media.PlayOptions{BargeIn: true})
			return err
		}},
		{"digit", func(ctx context.Context, c, h *media.PipeLeg) error {
			c.SendDigit('3')
			_, err := media.Play(ctx, h, media.FramesOf(prompt(3*time.Second), telRate), media.PlayOptions{DTMFBargeIn: true})
			return err
		}},
		{"cancel", func(ctx context.Context, _, h *media.PipeLeg) error {
			ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			media.Play(ctx, h, stalling{}, media.PlayOptions{BargeIn: true})
			return nil
		}},
		{"listen", func(ctx context.Context, c, h *media.PipeLeg) error {
			go say(ctx, c, audio)
			_, err := media.Listen(ctx, h, media.ListenOptions{})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				caller, hotline := media.NewPipe(ctx, telRate)
				before := goleak.IgnoreCurrent()
				if err := tc.run(ctx, caller, hotline); err != nil {
					t.Fatal(err)
				}
				// Only the test's own caller goroutine may remain.
				if err := goleak.Find(before, goleak.IgnoreAnyFunction("github.com/hotline-cc/hotline/media_test.say")); err != nil {
					t.Error(err)
				}
			})
		})
	}
}
