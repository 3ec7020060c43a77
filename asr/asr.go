// Package asr turns a caller's speech into text. A Recognizer opens one
// Stream per utterance: the call feeds it 20 ms frames of 16-bit mono PCM as
// they arrive and calls Finish at the end of speech for the final transcript.
//
// Two providers register themselves by name:
//
//   - "embedded": pocketsphinx through cgo with Debian's en-us model, offline.
//     It decodes each frame as it arrives, so Finish returns within
//     milliseconds. On telephony (8 kHz, G.711) audio it recognizes only a
//     grammar, the phrases the caller may say in the current dialog state
//     (Options.Grammar): its n-gram language model turns companded narrowband
//     speech into nonsense, so open-vocabulary recognition is offered on
//     wideband (16 kHz and up) audio only. A garbage model competes with the
//     grammar, so silence, noise, clipped audio and most speech outside the
//     grammar give an empty transcript rather than the nearest phrase. It
//     gives no confidence (-1). English only.
//   - "openai": any OpenAI-compatible transcription endpoint (OpenAI itself,
//     or a self-hosted server with the same API). The utterance is sent as a
//     WAV file when it ends. Any language the service knows, Chinese included.
//
// Fallback wraps two recognizers: when the first fails or times out, the
// buffered utterance is recognized again by the second.
package asr

import (
	"context"
	"errors"
	"time"
)

// Result of recognizing one utterance (or a partial guess while it is spoken).
type Result struct {
	// Text is what was said; empty when nothing was recognized (silence,
	// noise). With a grammar it is the Options.Grammar phrase recognized,
	// spelled as given there.
	Text  string
	Final bool
	// Confidence is 0..1; -1 when the provider gives none.
	Confidence float64
	// Start and End bound the recognized words within the utterance's
	// audio, measured from its first sample.
	Start, End time.Duration
	// Provider names the recognizer that produced the result.
	Provider string
}

// Options for one utterance.
type Options struct {
	// SampleRate of the frames written: 8000 (telephony) or 16000/48000
	// (wideband).
	SampleRate int
	// Language is "en", "zh", ...; empty means the recognizer's configured
	// language.
	Language string
	// Grammar lists the phrases the caller may say now; empty means open
	// vocabulary.
	Grammar []string
}

// Stream recognizes one utterance: frames go in as they arrive, Finish ends
// it. Write and Finish are called from one goroutine; Close may be called
// from any goroutine at any time.
type Stream interface {
	// Write takes 16-bit mono PCM at Options.SampleRate, any length
	// (usually 20 ms). The stream does not keep pcm.
	Write(pcm []int16) error
	// Partials delivers partial hypotheses while the utterance is spoken,
	// if the provider makes any; a slow reader misses some, never blocks
	// Write. Closed by Finish or Close.
	Partials() <-chan Result
	// Finish ends the utterance and returns the final result.
	Finish(ctx context.Context) (Result, error)
	// Close abandons the stream. It is idempotent, also after Finish.
	Close() error
}

// Recognizer makes Streams.
type Recognizer interface {
	Name() string
	NewStream(ctx context.Context, opts Options) (Stream, error)
}

var (
	// ErrClosed is returned by a Stream used after Finish or Close.
	ErrClosed = errors.New("asr: stream already finished or closed")
	// ErrNeedGrammar is returned by the embedded recognizer when asked for
	// open-vocabulary recognition of narrowband audio, which it cannot do
	// well enough to be useful.
	ErrNeedGrammar = errors.New("asr: embedded recognizer needs a grammar for narrowband (below 16 kHz) audio; " +
		"open vocabulary works only on wideband legs or with the openai provider")
	// ErrEmbeddedUnavailable is returned by New for the embedded provider
	// in a build without cgo, which leaves pocketsphinx out.
	ErrEmbeddedUnavailable = errors.New("asr: embedded recognizer not compiled in (built with CGO_ENABLED=0)")
	// ErrLanguage is returned for a language the recognizer has no model for.
	ErrLanguage = errors.New("asr: language not supported by this recognizer")
)

// samplesDuration is the duration of n samples at rate.
func samplesDuration(n int64, rate int) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(n * int64(time.Second) / int64(rate))
}
