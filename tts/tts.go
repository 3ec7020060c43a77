// Package tts turns text into speech for a call: 16-bit mono PCM at the
// rate the call needs, delivered as a stream so that playback can start
// while the rest is still being made.
//
// Two providers ship: the embedded one (flite, linked through cgo, offline)
// and any OpenAI-compatible speech endpoint. New wraps the configured
// provider in a prompt cache (memory and disk) and, when a fallback is
// configured, in a wrapper that switches to the fallback provider when the
// primary errors or is slow to start. Speak splits a long reply into
// sentences and synthesizes them one after another, so the first sentence
// plays while the next is made.
//
// The embedded provider speaks English only (flite's voices); text with no
// English letters or digits gets ErrUnspeakable, so Chinese replies need
// the OpenAI-compatible provider, as primary or as fallback. It needs
// Debian's flite1-dev to build and libflite1 to run; a CGO_ENABLED=0 build
// leaves it out and New says so.
//
// Streams must be closed. Audio is 16-bit mono PCM at the rate asked for;
// voices of another rate are converted by media's resampler.
package tts

import (
	"context"
	"errors"
	"io"
)

// Stream is synthesized speech: 16-bit mono PCM at the requested rate, in
// chunks.
type Stream interface {
	// Read returns the next chunk (any length, never empty unless err is
	// set), or io.EOF at the end. The caller owns the returned slice.
	Read(ctx context.Context) ([]int16, error)
	// Close releases the stream; it may be called at any time, also
	// before the end, and more than once.
	Close() error
}

// Synthesizer speaks text.
type Synthesizer interface {
	// Name identifies the provider and voice, such as "embedded/slt" or
	// "openai/tts-1/alloy".
	Name() string
	// Synthesize speaks text at rate (8000 for telephony). It returns as
	// soon as audio can start. ctx bounds the whole synthesis, including
	// reading the stream.
	Synthesize(ctx context.Context, text string, rate int) (Stream, error)
}

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("tts: stream closed")

// frameSamples is one 20 ms frame at rate, the chunk size of streams that
// hold their audio in memory.
func frameSamples(rate int) int { return max(rate/50, 1) }

// pcmStream is a Stream over audio already in memory. Chunks are 20 ms
// copies, so a caller may change them without touching the source, which
// may be shared (the cache hands out the same audio to many calls).
type pcmStream struct {
	pcm    []int16
	frame  int
	closed bool
}

func newPCMStream(pcm []int16, rate int) *pcmStream {
	return &pcmStream{pcm: pcm, frame: frameSamples(rate)}
}

func (s *pcmStream) Read(ctx context.Context) ([]int16, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(s.pcm) == 0 {
		return nil, io.EOF
	}
	n := min(s.frame, len(s.pcm))
	out := append([]int16(nil), s.pcm[:n]...)
	s.pcm = s.pcm[n:]
	return out, nil
}

func (s *pcmStream) Close() error {
	s.closed = true
	s.pcm = nil
	return nil
}

// ReadAll reads s to the end and closes it.
func ReadAll(ctx context.Context, s Stream) ([]int16, error) {
	defer s.Close()
	var pcm []int16
	for {
		chunk, err := s.Read(ctx)
		pcm = append(pcm, chunk...)
		if errors.Is(err, io.EOF) {
			return pcm, nil
		}
		if err != nil {
			return pcm, err
		}
	}
}
