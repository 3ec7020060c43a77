package tts

import (
	"context"
	"hash/fnv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeSynth is a Synthesizer for tests: it makes a deterministic signal
// whose length follows the text, after delay, counting what it is asked.
type fakeSynth struct {
	name  string
	delay time.Duration
	// gate, when set, is called before a text is synthesized; it may block.
	gate func(ctx context.Context, text string) error
	// fail, when set, decides an error for a text.
	fail func(text string) error

	mu       sync.Mutex
	started  []string
	finished []string
}

func (f *fakeSynth) Name() string {
	if f.name == "" {
		return "fake/voice"
	}
	return f.name
}

func (f *fakeSynth) Synthesize(ctx context.Context, text string, rate int) (Stream, error) {
	f.mu.Lock()
	f.started = append(f.started, text)
	f.mu.Unlock()
	if f.gate != nil {
		if err := f.gate(ctx, text); err != nil {
			return nil, err
		}
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.fail != nil {
		if err := f.fail(text); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	f.finished = append(f.finished, text)
	f.mu.Unlock()
	return newPCMStream(fakeAudio(text, rate), rate), nil
}

func (f *fakeSynth) counts() (started, finished int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started), len(f.finished)
}

// fakeAudio is 5 ms of signal per byte of text, its values seeded by the
// text, so different texts give different audio.
func fakeAudio(text string, rate int) []int16 {
	h := fnv.New32a()
	h.Write([]byte(text))
	seed := h.Sum32()
	pcm := make([]int16, len(text)*rate/200)
	for i := range pcm {
		seed = seed*1664525 + 1013904223
		pcm[i] = int16(seed>>16) / 4
	}
	return pcm
}

// noLeaks checks, after the test and its cleanups (test servers closed),
// that no goroutine it started is left.
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}
