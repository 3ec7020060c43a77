package media_test

import (
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
)

func TestPipeCarriesAudioAndDigits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		a, b := media.NewPipe(ctx, 8000)
		tone := audiotest.Tone(8000, 1000, 0.5, 160)
		go func() {
			for range 10 {
				if err := a.WriteFrame(ctx, tone); err != nil {
					return
				}
			}
		}()
		toneFrames := 0
		for range 20 {
			f, err := b.ReadFrame(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if audiotest.ToneShare(f, 8000, 1000) > 0.9 {
				toneFrames++
			}
		}
		if toneFrames != 10 {
			t.Errorf("b heard %d tone frames, want 10", toneFrames)
		}
		a.SendDigit('5')
		if d := <-b.Digits(); d != '5' {
			t.Errorf("digit %v", d)
		}
	})
}

func TestHangupEndsBothEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := media.NewPipe(t.Context(), 8000)
		if err := a.Hangup(t.Context()); err != nil {
			t.Fatal(err)
		}
		<-b.Done()
		if _, err := b.ReadFrame(t.Context()); err != media.ErrHangup {
			t.Errorf("read after hangup: %v", err)
		}
		if err := b.WriteFrame(t.Context(), make([]int16, 160)); err != media.ErrHangup {
			t.Errorf("write after hangup: %v", err)
		}
	})
}

func TestWriteFrameRejectsWrongLength(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := media.NewPipe(t.Context(), 8000)
		if err := a.WriteFrame(t.Context(), make([]int16, 100)); err == nil {
			t.Error("a 100-sample frame was accepted at 8 kHz")
		}
		a.Hangup(t.Context())
	})
}

func TestFlushDropsQueuedAudio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		a, b := media.NewPipe(ctx, 8000)
		tone := audiotest.Tone(8000, 1000, 0.5, 160)
		for range 3 { // fills the send queue without blocking
			if err := a.WriteFrame(ctx, tone); err != nil {
				t.Fatal(err)
			}
		}
		a.Flush()
		for range 5 {
			f, _ := b.ReadFrame(ctx)
			if media.Level(f) > media.SilenceDBFS {
				t.Fatal("flushed audio was still sent")
			}
		}
	})
}

func TestRecordLegIsStereoCallerLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caller, hotline := media.NewPipe(ctx, 8000)
		path := filepath.Join(t.TempDir(), "call.wav")
		rec, err := media.RecordLeg(ctx, hotline, path)
		if err != nil {
			t.Fatal(err)
		}
		callerTone := audiotest.Tone(8000, 400, 0.5, 160)
		botTone := audiotest.Tone(8000, 1200, 0.5, 160)
		go func() {
			for range 50 {
				caller.WriteFrame(ctx, callerTone)
			}
		}()
		for range 50 {
			if err := hotline.WriteFrame(ctx, botTone); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		if err := rec.Stop(); err != nil {
			t.Fatal(err)
		}
		left, right := media.LoadStereo(t, path)
		if s := audiotest.ToneShare(left, 8000, 400); s < 0.8 {
			t.Errorf("left channel: 400 Hz share %.2f, want the caller", s)
		}
		if s := audiotest.ToneShare(right, 8000, 1200); s < 0.8 {
			t.Errorf("right channel: 1200 Hz share %.2f, want Hotline", s)
		}
		if n := len(left); n < 50*160 {
			t.Errorf("recorded %d samples per channel, want ≥ %d", n, 50*160)
		}
	})
}
