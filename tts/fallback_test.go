package tts

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/logbuf"
	"github.com/hotline-cc/hotline/internal/logctx"
)

func TestFallbackOnError(t *testing.T) {
	noLeaks(t)
	down := errors.New("HTTP 503")
	primary := &fakeSynth{name: "primary/v", fail: func(string) error { return down }}
	secondary := &fakeSynth{name: "secondary/v"}
	var logs logbuf.Buffer
	f := WithFallback(primary, secondary, time.Second, quiet()).(*fallback)
	ctx := logctx.With(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)).With("call", "c-42"))

	const text = "Thank you for calling Hotline."
	st, err := f.Synthesize(ctx, text, 8000)
	if err != nil {
		t.Fatal(err)
	}
	if pcm, _ := ReadAll(ctx, st); !slices.Equal(pcm, fakeAudio(text, 8000)) {
		t.Fatal("wrong audio from the fallback")
	}
	if _, n := secondary.counts(); n != 1 {
		t.Fatalf("fallback called %d times", n)
	}
	if l := logs.String(); !strings.Contains(l, "falling back") || !strings.Contains(l, "call=c-42") || !strings.Contains(l, "HTTP 503") {
		t.Errorf("log %q: want the fallback, the call id and the error", l)
	}

	// While the primary is paused, it is not asked.
	ReadAll(ctx, must(f.Synthesize(ctx, text, 8000)))
	if n, _ := primary.counts(); n != 1 {
		t.Fatalf("primary asked %d times during its pause, want 1", n)
	}
	// After the pause it is tried again, and serves when it is back.
	f.mu.Lock()
	f.now = func() time.Time { return time.Now().Add(fallbackCooldown + time.Second) }
	f.mu.Unlock()
	primary.fail = nil
	ReadAll(ctx, must(f.Synthesize(ctx, text, 8000)))
	if _, n := primary.counts(); n != 1 {
		t.Fatalf("primary served %d times after its pause, want 1", n)
	}
	if f.Name() != "primary/v" {
		t.Errorf("Name %q", f.Name())
	}
}

func must(st Stream, err error) Stream {
	if err != nil {
		panic(err)
	}
	return st
}

func TestFallbackOnSlowStart(t *testing.T) {
	noLeaks(t)
	primary := &fakeSynth{name: "slow/v", delay: 2 * time.Second}
	secondary := &fakeSynth{name: "fast/v"}
	f := WithFallback(primary, secondary, 100*time.Millisecond, quiet())
	t0 := time.Now()
	st, err := f.Synthesize(context.Background(), "Please hold.", 8000)
	if err != nil {
		t.Fatal(err)
	}
	first, err := st.Read(context.Background())
	if err != nil || len(first) == 0 {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("first audio after %v, want about 100 ms", d)
	}
	st.Close()
	if _, n := secondary.counts(); n != 1 {
		t.Errorf("fallback called %d times", n)
	}
}

// A stream that starts but gives no first audio in time also falls back.
func TestFallbackOnSilentStream(t *testing.T) {
	noLeaks(t)
	primary := &silentSynth{}
	secondary := &fakeSynth{}
	f := WithFallback(primary, secondary, 100*time.Millisecond, quiet())
	st, err := f.Synthesize(context.Background(), "Please hold.", 8000)
	if err != nil {
		t.Fatal(err)
	}
	ReadAll(context.Background(), st)
	if _, n := secondary.counts(); n != 1 {
		t.Errorf("fallback called %d times", n)
	}
}

// silentSynth returns streams that never deliver until cancelled.
type silentSynth struct{}

func (silentSynth) Name() string { return "silent/v" }
func (silentSynth) Synthesize(ctx context.Context, _ string, _ int) (Stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	return newPipe(ctx, cancel, func(func([]int16) bool) error {
		<-ctx.Done()
		return ctx.Err()
	}), nil
}

func TestFallbackUnspeakableNoPause(t *testing.T) {
	noLeaks(t)
	primary := &fakeSynth{name: "embedded/slt", fail: func(text string) error {
		if strings.ContainsFunc(text, isHan) {
			return ErrUnspeakable
		}
		return nil
	}}
	secondary := &fakeSynth{name: "openai/tts-1/alloy"}
	f := WithFallback(primary, secondary, time.Second, quiet())
	ctx := context.Background()
	ReadAll(ctx, must(f.Synthesize(ctx, "您好，欢迎致电。", 8000)))
	ReadAll(ctx, must(f.Synthesize(ctx, "Hello there.", 8000)))
	if _, n := primary.counts(); n != 1 {
		t.Errorf("primary spoke %d times, want the English sentence", n)
	}
	if _, n := secondary.counts(); n != 1 {
		t.Errorf("fallback spoke %d times, want the Chinese sentence", n)
	}
}

func TestFallbackPrimaryAudioIntact(t *testing.T) {
	noLeaks(t)
	primary := &fakeSynth{}
	f := WithFallback(primary, &fakeSynth{}, time.Second, quiet())
	const text = "Your order shipped this morning."
	if pcm, err := ReadAll(context.Background(), must(f.Synthesize(context.Background(), text, 8000))); err != nil || !slices.Equal(pcm, fakeAudio(text, 8000)) {
		t.Fatalf("%d samples, %v", len(pcm), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Synthesize(ctx, text, 8000); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// The fallback's audio is cached as the fallback's, never as the
// primary's: once the primary is back, it is the primary that is heard.
func TestFallbackCachesSeparately(t *testing.T) {
	c := newTestCache(t, t.TempDir(), 8, 64)
	primary := &fakeSynth{name: "openai/tts-1/alloy", fail: func(string) error { return errors.New("down") }}
	secondary := &fakeSynth{name: "embedded/slt"}
	f := WithFallback(Cached(primary, c), Cached(secondary, c), time.Second, quiet()).(*fallback)
	const text = "Thank you for calling Hotline."
	ctx := context.Background()
	ReadAll(ctx, must(f.Synthesize(ctx, text, 8000)))
	primary.fail = nil
	f.mu.Lock()
	f.skipUntil = time.Time{}
	f.mu.Unlock()
	pcm, _ := ReadAll(ctx, must(f.Synthesize(ctx, text, 8000)))
	if _, n := primary.counts(); n != 1 {
		t.Fatalf("primary synthesized %d times, want 1 (not served the fallback's cached audio)", n)
	}
	if !slices.Equal(pcm, fakeAudio(text, 8000)) {
		t.Fatal("wrong audio")
	}
}
