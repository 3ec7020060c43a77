package asr

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/internal/logctx"
)

// maxBuffered bounds the audio a Fallback stream keeps for a second try:
// two minutes at 48 kHz. An utterance longer than that is a recording, not
// a turn; its fallback hears the last part only.
const maxBuffered = 2 * 60 * 48000

// Fallback recognizes each utterance with Primary and, when its Finish
// fails or times out, recognizes the same audio again with Secondary. The
// switch is logged with the logger the stream's context carries (see
// logctx.With), so the line names the call.
type Fallback struct {
	Primary, Secondary Recognizer
	log                *slog.Logger
}

// NewFallback wraps primary with secondary as its fallback.
func NewFallback(primary, secondary Recognizer, log *slog.Logger) *Fallback {
	return &Fallback{Primary: primary, Secondary: secondary, log: log}
}

// Name is the primary's name.
func (f *Fallback) Name() string { return f.Primary.Name() }

// NewStream opens a primary stream; if the primary cannot open one, the
// secondary serves the whole utterance.
func (f *Fallback) NewStream(ctx context.Context, opts Options) (Stream, error) {
	p, err := f.Primary.NewStream(ctx, opts)
	if err != nil {
		logctx.From(ctx, f.log).Warn("asr primary unavailable, using fallback",
			"primary", f.Primary.Name(), "fallback", f.Secondary.Name(), "err", err)
		s, err2 := f.Secondary.NewStream(ctx, opts)
		if err2 != nil {
			return nil, errors.Join(err, err2)
		}
		return s, nil
	}
	return &fallbackStream{f: f, opts: opts, primary: p}, nil
}

type fallbackStream struct {
	f    *Fallback
	opts Options

	mu      sync.Mutex
	primary Stream
	audio   []int16 // the utterance so far, for the second try
	werr    error   // the primary's Write failure, if any
	done    bool
	second  Stream // the fallback stream while Finish runs it
}

func (s *fallbackStream) Partials() <-chan Result { return s.primary.Partials() }

func (s *fallbackStream) Write(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return ErrClosed
	}
	if len(s.audio)+len(pcm) > maxBuffered {
		drop := min(len(s.audio), len(s.audio)+len(pcm)-maxBuffered)
		s.audio = s.audio[:copy(s.audio, s.audio[drop:])]
	}
	s.audio = append(s.audio, pcm...)
	if s.werr == nil {
		// A primary that fails mid-utterance is finished by the fallback:
		// the audio is kept, the caller need not know.
		s.werr = s.primary.Write(pcm)
	}
	return nil
}

func (s *fallbackStream) Finish(ctx context.Context) (Result, error) {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return Result{}, ErrClosed
	}
	s.done = true
	werr, audio := s.werr, s.audio
	s.mu.Unlock()

	began := time.Now()
	var r Result
	err := werr
	if err == nil {
		r, err = s.primary.Finish(ctx)
	}
	s.primary.Close()
	if err == nil {
		return r, nil
	}
	if ctx.Err() != nil {
		// The caller gave up (hang-up, barge-in): no second try.
		return Result{}, err
	}
	log := logctx.From(ctx, s.f.log)
	log.Warn("asr primary failed, using fallback",
		"primary", s.f.Primary.Name(), "fallback", s.f.Secondary.Name(), "err", err,
		"waited", time.Since(began).Round(time.Millisecond),
		"audio", samplesDuration(int64(len(audio)), s.opts.SampleRate))
	sec, err2 := s.f.Secondary.NewStream(ctx, s.opts)
	if err2 != nil {
		return Result{}, errors.Join(err, err2)
	}
	s.mu.Lock()
	s.second = sec
	s.mu.Unlock()
	defer sec.Close()
	step := max(s.opts.SampleRate/50, 1) // 20 ms frames, as a leg gives them
	for i := 0; i < len(audio); i += step {
		if err2 = sec.Write(audio[i:min(i+step, len(audio))]); err2 != nil {
			return Result{}, errors.Join(err, err2)
		}
	}
	r, err2 = sec.Finish(ctx)
	if err2 != nil {
		return Result{}, errors.Join(err, err2)
	}
	log.Info("asr fallback recognized the utterance", "provider", r.Provider,
		"took", time.Since(began).Round(time.Millisecond))
	return r, nil
}

func (s *fallbackStream) Close() error {
	s.mu.Lock()
	s.done = true
	sec := s.second
	s.audio = nil
	s.mu.Unlock()
	if sec != nil {
		sec.Close()
	}
	return s.primary.Close()
}
