package ivr

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
)

const rate = 8000

func seconds(s float64) int { return int(s * rate) }

// tonePrompts gives every prompt its own frequency, so the test can tell
// from the audio alone which prompt the caller heard.
func tonePrompts() *Prompts {
	tone := func(f, s float64) []int16 { return audiotest.Tone(rate, f, 0.3, seconds(s)) }
	return &Prompts{
		Greeting: tone(500, 1), Menu: tone(600, 1), Echo: tone(700, 0.5),
		Record: tone(800, 0.5), Beep: tone(1000, 0.2), Saved: tone(900, 0.5),
		Invalid: tone(1100, 0.5), Goodbye: tone(1200, 0.5),
		NotUnderstood: tone(1300, 0.5), NoAgent: tone(1400, 0.5), OneMoment: tone(1500, 0.5),
	}
}

// newMenu builds a menu on tone prompts.
func newMenu(t *testing.T, cfg Config, eng Engines) *Menu {
	t.Helper()
	m, err := New(cfg, tonePrompts(), eng, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// listener keeps every frame the caller hears.
type listener struct {
	mu     sync.Mutex
	frames [][]int16
}

func (l *listener) run(ctx context.Context, leg media.Leg) {
	for {
		f, err := leg.ReadFrame(ctx)
		if err != nil {
			return
		}
		l.mu.Lock()
		l.frames = append(l.frames, f)
		l.mu.Unlock()
	}
}

// heard reports how many frames so far carried mostly freq.
func (l *listener) heard(freq float64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, f := range l.frames {
		if media.Level(f) > -40 && audiotest.ToneShare(f, rate, freq) > 0.7 {
			n++
		}
	}
	return n
}

func speak(t *testing.T, ctx context.Context, leg media.Leg, pcm []int16) {
	t.Helper()
	n := media.FrameSamples(rate)
	for off := 0; off+n <= len(pcm); off += n {
		if err := leg.WriteFrame(ctx, pcm[off:off+n]); err != nil {
			t.Fatalf("caller write: %v", err)
		}
	}
}

func TestMenuGreetingEchoAndMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, rate)
		cfg := DefaultConfig()
		cfg.MessageSilence = 500 * time.Millisecond
		msgPath := filepath.Join(t.TempDir(), "msg.wav")
		m := newMenu(t, cfg, Engines{})

		served := make(chan error, 1)
		go func() {
			served <- m.Serve(ctx, Call{Leg: hotline, Log: slog.New(slog.DiscardHandler), MessagePath: msgPath})
		}()
		var l listener
		go l.run(ctx, caller)

		time.Sleep(400 * time.Millisecond)
		if n := l.heard(500); n < 10 {
			t.Fatalf("greeting: %d frames of 500 Hz heard in 400 ms", n)
		}
		caller.SendDigit('2') // barges into the greeting
		time.Sleep(800 * time.Millisecond)
		greetingFrames := l.heard(500)
		if greetingFrames > 30 {
			t.Errorf("greeting not cut by the key: %d frames heard", greetingFrames)
		}
		if n := l.heard(700); n < 20 {
			t.Fatalf("echo prompt: %d frames heard", n)
		}
		speak(t, ctx, caller, audiotest.Tone(rate, 440, 0.3, seconds(1)))
		time.Sleep(200 * time.Millisecond)
		if n := l.heard(440); n < 40 {
			t.Errorf("echo: %d frames of the caller's 440 Hz came back, want ≈50", n)
		}
		caller.SendDigit('#')
		time.Sleep(100 * time.Millisecond)
		caller.SendDigit('0')
		time.Sleep(900 * time.Millisecond) // record prompt and beep
		if l.heard(800) < 20 || l.heard(1000) < 5 {
			t.Fatalf("record prompt %d frames, beep %d frames", l.heard(800), l.heard(1000))
		}
		speak(t, ctx, caller, audiotest.Tone(rate, 300, 0.3, seconds(1)))

		select {
		case err := <-served:
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("menu did not finish after the message")
		}
		if l.heard(900) < 20 {
			t.Errorf("saved prompt: %d frames", l.heard(900))
		}
		time.Sleep(100 * time.Millisecond)
		if l.heard(1200) < 20 {
			t.Errorf("goodbye: %d frames", l.heard(1200))
		}
		msg, err := media.LoadWAVFile(msgPath, rate)
		if err != nil {
			t.Fatal(err)
		}
		if d := float64(len(msg)) / rate; d < 1.4 || d > 2.5 {
			t.Errorf("message lasts %.2f s, want the 1 s tone plus ≈0.5 s of silence", d)
		}
		toneFrames := 0
		for off := 0; off+160 <= len(msg); off += 160 {
			if audiotest.ToneShare(msg[off:off+160], rate, 300) > 0.7 && media.Level(msg[off:off+160]) > -30 {
				toneFrames++
			}
		}
		if toneFrames < 45 {
			t.Errorf("message holds %d frames of the caller's tone, want ≈50", toneFrames)
		}
		cancel()
	})
}

func TestMenuTimesOutToGoodbye(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, rate)
		cfg := DefaultConfig()
		cfg.MenuTimeout = time.Second
		cfg.MenuRepeats = 2
		var l listener
		go l.run(ctx, caller)
		start := time.Now()
		err := newMenu(t, cfg, Engines{}).Serve(ctx, Call{Leg: hotline, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		// greeting 1 s + 2 × (menu 1 s + wait 1 s) + goodbye 0.5 s
		if d := time.Since(start); d < 5*time.Second || d > 6*time.Second {
			t.Errorf("menu ran %v", d)
		}
		if n := l.heard(600); n < 90 {
			t.Errorf("menu heard %d frames, want two plays ≈100", n)
		}
		cancel()
	})
}

func TestMenuInvalidKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, rate)
		cfg := DefaultConfig()
		cfg.MenuTimeout = 500 * time.Millisecond
		cfg.MenuRepeats = 1
		var l listener
		go l.run(ctx, caller)
		go func() {
			time.Sleep(1500 * time.Millisecond) // during the menu
			caller.SendDigit('7')
		}()
		if err := newMenu(t, cfg, Engines{}).Serve(ctx, Call{Leg: hotline, Log: slog.New(slog.DiscardHandler)}); err != nil {
			t.Fatal(err)
		}
		if n := l.heard(1100); n < 20 {
			t.Errorf("invalid-choice prompt: %d frames", n)
		}
		cancel()
	})
}

func TestUninterruptibleGreetingPlaysOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, rate)
		cfg := DefaultConfig()
		cfg.Uninterruptible = []string{"greeting"}
		var l listener
		go l.run(ctx, caller)
		go func() {
			time.Sleep(300 * time.Millisecond)
			caller.SendDigit('2')
		}()
		go newMenu(t, cfg, Engines{}).Serve(ctx, Call{Leg: hotline, Log: slog.New(slog.DiscardHandler)})
		time.Sleep(2 * time.Second)
		// The whole 1 s greeting, then the key is taken: the echo test.
		if n := l.heard(500); n < 45 {
			t.Errorf("greeting: %d frames, want all ≈50", n)
		}
		if n := l.heard(700); n < 20 {
			t.Errorf("echo prompt: %d frames after the greeting", n)
		}
		cancel()
	})
}

func TestCallerHangupEndsMenuQuietly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, rate)
		go func() {
			time.Sleep(300 * time.Millisecond)
			caller.Hangup(ctx)
		}()
		if err := newMenu(t, DefaultConfig(), Engines{}).Serve(ctx, Call{Leg: hotline, Log: slog.New(slog.DiscardHandler)}); err != nil {
			t.Fatalf("a caller hanging up is a normal end, got %v", err)
		}
	})
}

func TestShippedPromptsLoad(t *testing.T) {
	p, err := LoadPrompts("", rate)
	if err != nil {
		t.Fatal(err)
	}
	for name, pcm := range map[string][]int16{"greeting": p.Greeting, "menu": p.Menu, "goodbye": p.Goodbye, "beep": p.Beep} {
		if d := float64(len(pcm)) / rate; d < 0.3 {
			t.Errorf("%s lasts %.2f s", name, d)
		}
		if lv := media.Level(pcm); lv < -35 {
			t.Errorf("%s is near silent: %.1f dBFS", name, lv)
		}
	}
}

func TestLoadPromptsNamesTheBadFile(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadPrompts(dir, rate)
	if err == nil || !strings.Contains(err.Error(), ".wav") {
		t.Fatalf("err = %v, want one naming the missing prompt", err)
	}
}
