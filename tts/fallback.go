package tts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/internal/logctx"
)

const (
	// embeddedFirstAudio is how long the embedded engine may take to start
	// when it is the primary provider: a long sentence on a busy machine
	// takes a few hundred milliseconds.
	embeddedFirstAudio = 2 * time.Second
	// fallbackCooldown is how long the fallback serves alone after the
	// primary failed, so that every sentence does not wait out the primary's
	// timeout while it is down.
	fallbackCooldown = 30 * time.Second
)

// fallback speaks with primary, and with secondary when primary errors or
// gives no first audio within timeout.
type fallback struct {
	primary, secondary Synthesizer
	timeout            time.Duration
	log                *slog.Logger

	mu        sync.Mutex
	skipUntil time.Time // primary failed: secondary alone until then
	now       func() time.Time
}

// WithFallback returns a Synthesizer that uses primary and, when it fails
// to start within timeout, secondary. Once primary has failed, secondary
// serves alone for 30 s before primary is tried again. Errors that are
// about the text, not the provider (ErrUnspeakable), fall back without
// that pause.
func WithFallback(primary, secondary Synthesizer, timeout time.Duration, log *slog.Logger) Synthesizer {
	return &fallback{primary: primary, secondary: secondary, timeout: timeout, log: log, now: time.Now}
}

func (f *fallback) Name() string { return f.primary.Name() }

// Close closes both providers that can be closed.
func (f *fallback) Close() error {
	return errors.Join(closeSynth(f.primary), closeSynth(f.secondary))
}

func closeSynth(s Synthesizer) error {
	if c, ok := s.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

type attempt struct {
	st    Stream
	first []int16
	err   error
}

func (f *fallback) Synthesize(ctx context.Context, text string, rate int) (Stream, error) {
	f.mu.Lock()
	skip := f.now().Before(f.skipUntil)
	f.mu.Unlock()
	if skip {
		return f.secondary.Synthesize(ctx, text, rate)
	}

	pctx, cancel := context.WithCancel(ctx)
	res := make(chan attempt, 1)
	go func() {
		st, err := f.primary.Synthesize(pctx, text, rate)
		if err != nil {
			res <- attempt{err: err}
			return
		}
		first, err := st.Read(pctx)
		if err != nil && !errors.Is(err, io.EOF) {
			st.Close()
			res <- attempt{err: err}
			return
		}
		res <- attempt{st: st, first: first, err: err}
	}()
	abandon := func() {
		cancel()
		go func() { // the primary stops soon after cancel; release what it made
			if a := <-res; a.st != nil {
				a.st.Close()
			}
		}()
	}

	timer := time.NewTimer(f.timeout)
	defer timer.Stop()
	var err error
	select {
	case a := <-res:
		if a.err == nil || errors.Is(a.err, io.EOF) {
			return &prefixStream{first: a.first, eof: a.err != nil, st: a.st, cancel: cancel}, nil
		}
		cancel()
		err = a.err
	case <-timer.C:
		abandon()
		err = fmt.Errorf("%s: no audio within %v: %w", f.primary.Name(), f.timeout, ErrTimeout)
	case <-ctx.Done():
		abandon()
		return nil, ctx.Err()
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	log := logctx.From(ctx, f.log)
	if errors.Is(err, ErrUnspeakable) {
		log.Info("tts: text not for the primary provider, using the fallback",
			"provider", f.primary.Name(), "fallback", f.secondary.Name(), "err", err)
	} else {
		f.mu.Lock()
		f.skipUntil = f.now().Add(fallbackCooldown)
		f.mu.Unlock()
		log.Warn("tts: provider failed, falling back", "provider", f.primary.Name(),
			"fallback", f.secondary.Name(), "pause", fallbackCooldown, "err", err)
	}
	return f.secondary.Synthesize(ctx, text, rate)
}

// prefixStream returns a chunk already read from st, then the rest of st.
type prefixStream struct {
	first  []int16
	eof    bool // st ended with first
	st     Stream
	cancel context.CancelFunc
	closed bool
}

func (p *prefixStream) Read(ctx context.Context) ([]int16, error) {
	switch {
	case p.closed:
		return nil, ErrClosed
	case len(p.first) > 0:
		c := p.first
		p.first = nil
		return c, nil
	case p.eof:
		return nil, io.EOF
	}
	return p.st.Read(ctx)
}

func (p *prefixStream) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	err := p.st.Close()
	p.cancel()
	return err
}
