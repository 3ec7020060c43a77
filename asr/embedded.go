//go:build cgo

package asr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/internal/logctx"
	"github.com/hotline-cc/hotline/media"
)

// modelRate is the only rate the en-us acoustic model knows.
const modelRate = 16000

// partialEvery is how often a partial hypothesis is looked at.
const partialEvery = 200 * time.Millisecond

func init() {
	Register("embedded", func(cfg Config, log *slog.Logger) (Recognizer, error) {
		return NewEmbedded(cfg.Embedded, cfg.Language, log)
	})
}

// Embedded is the pocketsphinx recognizer. Decoders are kept in a pool
// between utterances, each with the grammars it has compiled: building one
// takes about 20 ms and 6 MB (the acoustic model; one with the n-gram model
// for open vocabulary, 0.6 s and 90 MB).
type Embedded struct {
	cfg  EmbeddedConfig
	lang string
	dict *Dictionary
	log  *slog.Logger

	mu       sync.Mutex
	idle     []*sphinxDecoder
	grammars map[string]*Grammar // by phrase list, see grammarFor
}

// NewEmbedded checks the model files, loads the dictionary and one decoder,
// so that a broken installation is found at start-up.
func NewEmbedded(cfg EmbeddedConfig, lang string, log *slog.Logger) (*Embedded, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if lang != "" && lang != "en" {
		return nil, fmt.Errorf("%w: embedded has an en model only, not %q; use the openai provider", ErrLanguage, lang)
	}
	for _, f := range []string{filepath.Join(cfg.ModelDir, "mdef"), cfg.Dict} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("asr: embedded model: %w (install Debian's pocketsphinx-en-us, see scripts/setup.sh)", err)
		}
	}
	if cfg.LM != "" {
		if _, err := os.Stat(cfg.LM); err != nil {
			return nil, fmt.Errorf("asr: embedded language model: %w", err)
		}
	}
	dict, err := loadDictionaryCached(cfg.Dict)
	if err != nil {
		return nil, err
	}
	e := &Embedded{cfg: cfg, lang: "en", dict: dict, log: log, grammars: map[string]*Grammar{}}
	d, err := newSphinxDecoder(cfg, false)
	if err != nil {
		return nil, err
	}
	e.put(d)
	return e, nil
}

// Name is "embedded".
func (e *Embedded) Name() string { return "embedded" }

// Dictionary is the pronunciation dictionary grammar words must be in.
func (e *Embedded) Dictionary() *Dictionary { return e.dict }

// CheckGrammar reports phrases the recognizer would leave out of a grammar
// because a word is not in its dictionary: call it at start-up on the
// phrases configured for each dialog state.
func (e *Embedded) CheckGrammar(phrases []string) error {
	g, err := BuildGrammar(e.dict, phrases, false)
	if err != nil {
		return err
	}
	if len(g.Dropped) > 0 {
		return fmt.Errorf("asr: phrases the embedded recognizer cannot hear: %v", g.Dropped)
	}
	return nil
}

// grammarFor builds (once) the grammar of a phrase list.
func (e *Embedded) grammarFor(phrases []string, log *slog.Logger) (*Grammar, error) {
	key := fmt.Sprintf("%q", phrases)
	e.mu.Lock()
	g := e.grammars[key]
	e.mu.Unlock()
	if g != nil {
		return g, nil
	}
	g, err := BuildGrammar(e.dict, phrases, e.cfg.Rejection > 0)
	if err != nil {
		return nil, err
	}
	if len(g.Dropped) > 0 {
		log.Warn("asr grammar phrases left out", "phrases", g.Dropped)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.grammars) >= 256 { // a runaway of generated grammars: start over
		clear(e.grammars)
	}
	e.grammars[key] = g
	return g, nil
}

// get takes an idle decoder, preferably one that has the grammar compiled,
// or builds one.
func (e *Embedded) get(lm bool, key string) (*sphinxDecoder, error) {
	e.mu.Lock()
	pick := -1
	for i, d := range e.idle {
		if d.lm != lm {
			continue
		}
		if pick < 0 {
			pick = i
		}
		if _, ok := d.searches[key]; ok || lm {
			pick = i
			break
		}
	}
	if pick >= 0 {
		d := e.idle[pick]
		e.idle = append(e.idle[:pick], e.idle[pick+1:]...)
		e.mu.Unlock()
		return d, nil
	}
	e.mu.Unlock()
	return newSphinxDecoder(e.cfg, lm)
}

// put returns a decoder to the pool, or frees it when the pool is full.
// Open-vocabulary decoders hold the n-gram model (90 MB against 6 MB for a
// grammar decoder), so only a quarter of the pool may be theirs.
func (e *Embedded) put(d *sphinxDecoder) {
	d.abort()
	e.mu.Lock()
	keep := len(e.idle) < max(e.cfg.Idle, 1)
	if keep && d.lm {
		n := 0
		for _, o := range e.idle {
			if o.lm {
				n++
			}
		}
		keep = n < max(e.cfg.Idle/4, 1)
	}
	if keep {
		e.idle = append(e.idle, d)
		d = nil
	}
	e.mu.Unlock()
	if d != nil {
		d.free()
	}
}

// Close frees the idle decoders. Streams still open free theirs when done.
func (e *Embedded) Close() error {
	e.mu.Lock()
	idle := e.idle
	e.idle = nil
	e.mu.Unlock()
	for _, d := range idle {
		d.free()
	}
	return nil
}

// NewStream starts an utterance. With a grammar it recognizes one of its
// phrases; without one it needs wideband audio (ErrNeedGrammar otherwise)
// and an n-gram model.
func (e *Embedded) NewStream(ctx context.Context, opts Options) (Stream, error) {
	if opts.SampleRate < 8000 {
		return nil, fmt.Errorf("asr: sample rate %d Hz: want 8000 or more", opts.SampleRate)
	}
	if opts.Language != "" && opts.Language != e.lang {
		return nil, fmt.Errorf("%w: embedded has an %s model only, not %q", ErrLanguage, e.lang, opts.Language)
	}
	log := logctx.From(ctx, e.log)
	var g *Grammar
	if len(opts.Grammar) > 0 {
		var err error
		if g, err = e.grammarFor(opts.Grammar, log); err != nil {
			return nil, err
		}
	} else {
		if opts.SampleRate < modelRate {
			return nil, ErrNeedGrammar
		}
		if e.cfg.LM == "" {
			return nil, errors.New("asr: embedded open-vocabulary recognition is off (no asr.embedded.lm); pass a grammar")
		}
	}
	key := ""
	if g != nil {
		key = g.Key
	}
	d, err := e.get(g == nil, key)
	if err != nil {
		return nil, err
	}
	if g != nil {
		err = d.useGrammar(g, e.cfg.Rejection)
	} else {
		err = d.useLM()
	}
	if err == nil {
		err = d.start(opts.SampleRate < modelRate)
	}
	if err != nil {
		d.free() // its state is unknown: do not pool it
		return nil, err
	}
	s := &embeddedStream{
		e:        e,
		dec:      d,
		grammar:  g,
		rate:     opts.SampleRate,
		partials: make(chan Result, 4),
	}
	if opts.SampleRate != modelRate {
		s.rs = media.NewResampler(opts.SampleRate, modelRate)
	}
	// A stream dropped without Finish or Close must not leak its decoder.
	s.cleanup = runtime.AddCleanup(s, func(d *sphinxDecoder) { d.free() }, d)
	return s, nil
}

type embeddedStream struct {
	e       *Embedded
	grammar *Grammar // nil: open vocabulary
	rate    int
	rs      *media.Resampler // nil at 16 kHz
	cleanup runtime.Cleanup

	mu          sync.Mutex
	dec         *sphinxDecoder // nil once finished or closed
	buf         []int16        // resampled audio
	samples     int64          // input samples written
	sinceHyp    int64          // input samples since the last partial look
	lastPartial string
	partials    chan Result
	err         error // a decode error, returned by Finish
}

func (s *embeddedStream) Partials() <-chan Result { return s.partials }

func (s *embeddedStream) Write(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dec == nil {
		return ErrClosed
	}
	if s.err != nil {
		return s.err
	}
	s.samples += int64(len(pcm))
	in := pcm
	if s.rs != nil {
		s.buf = s.rs.Process(s.buf, pcm)
		in = s.buf
	}
	if err := s.dec.process(in); err != nil {
		s.err = err
		return err
	}
	s.sinceHyp += int64(len(pcm))
	if samplesDuration(s.sinceHyp, s.rate) >= partialEvery {
		s.sinceHyp = 0
		s.partial()
	}
	return nil
}

// partial offers the hypothesis so far when it has changed, never waiting
// for the reader.
func (s *embeddedStream) partial() {
	h := s.dec.hyp()
	if s.grammar != nil {
		h = s.grammar.Phrase(h)
	}
	if h == "" || h == s.lastPartial {
		return
	}
	s.lastPartial = h
	r := Result{Text: h, Confidence: -1, Provider: "embedded"}
	select {
	case s.partials <- r:
	default:
	}
}

func (s *embeddedStream) Finish(ctx context.Context) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dec == nil {
		return Result{}, ErrClosed
	}
	defer s.release()
	if s.err != nil {
		return Result{}, s.err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if s.rs != nil {
		s.buf = s.rs.Flush(s.buf)
		if err := s.dec.process(s.buf); err != nil {
			return Result{}, err
		}
	}
	hyp, first, last, err := s.dec.end()
	if err != nil {
		return Result{}, err
	}
	r := Result{Text: hyp, Final: true, Confidence: -1, Provider: "embedded"}
	if s.grammar != nil {
		r.Text = s.grammar.Phrase(hyp)
	}
	if r.Text == "" {
		return r, nil
	}
	if first >= 0 {
		// Frames count from the first sample, less the resampler's delay.
		var lag time.Duration
		if s.rs != nil {
			lag = samplesDuration(int64(s.rs.Delay()), modelRate)
		}
		total := samplesDuration(s.samples, s.rate)
		clamp := func(d time.Duration) time.Duration { return min(max(d-lag, 0), total) }
		r.Start = clamp(time.Duration(first) * time.Second / frameRate)
		r.End = clamp(time.Duration(last+1) * time.Second / frameRate)
	}
	return r, nil
}

// release returns the decoder to the pool and closes Partials; s.mu held.
func (s *embeddedStream) release() {
	if s.dec == nil {
		return
	}
	s.cleanup.Stop()
	s.e.put(s.dec)
	s.dec = nil
	close(s.partials)
}

func (s *embeddedStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release()
	return nil
}
