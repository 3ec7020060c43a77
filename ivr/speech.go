package ivr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/hotline-cc/hotline/asr"
	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/internal/logctx"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/tts"
)

// session is one call's way through the menu: the turn-taking between
// Hotline's prompts and the caller's keys and speech.
type session struct {
	m     *Menu
	c     Call
	rate  int
	vad   *media.VAD // shared by every prompt and turn: it learns the line
	start time.Time
}

func newSession(m *Menu, c Call) *session {
	rate := c.Leg.SampleRate()
	return &session{
		m:     m,
		c:     c,
		rate:  rate,
		vad:   media.NewVAD(rate, media.VADConfig{EndSilence: m.cfg.EndSilence}),
		start: time.Now(),
	}
}

// input is how the caller took the floor: a key, or speech already under
// way (heard holds its start).
type input struct {
	key    media.Digit
	speech bool
	heard  []int16
	// during names the prompt the caller interrupted, if any.
	during string
}

func (in input) none() bool { return in.key == 0 && !in.speech }

func (s *session) listening() bool { return s.m.eng.ASR != nil }

func (s *session) record(t Turn) {
	if s.c.OnTurn != nil {
		s.c.OnTurn(t)
	}
}

// prompt plays a recorded prompt. An interruptible one stops at a key or,
// with speech on, when the caller starts talking; how the caller took the
// floor is returned.
func (s *session) prompt(ctx context.Context, name string, pcm []int16, interruptible bool) (input, error) {
	began := time.Now()
	in, err := s.play(ctx, name, media.FramesOf(pcm, s.rate), interruptible)
	s.record(Turn{At: began.Sub(s.start), Speaker: "hotline", Prompt: name,
		Duration: time.Since(began), Interrupted: !in.none()})
	return in, err
}

func (s *session) play(ctx context.Context, name string, src media.FrameSource, interruptible bool) (input, error) {
	interruptible = interruptible && !slices.Contains(s.m.cfg.Uninterruptible, name)
	res, err := media.Play(ctx, s.c.Leg, src, media.PlayOptions{
		BargeIn:     interruptible && s.listening(),
		DTMFBargeIn: interruptible,
		Detector:    s.vad,
	})
	if err != nil {
		return input{}, err
	}
	switch res.Reason {
	case media.BargeInDigit:
		if name != "" {
			s.c.Log.Info("barge-in", "prompt", name, "by", "key", "digit", res.Digit.String())
		}
		return input{key: res.Digit, during: name}, nil
	case media.BargeInSpeech:
		if name != "" {
			s.c.Log.Info("barge-in", "prompt", name, "by", "speech")
		}
		return input{speech: true, heard: res.Heard, during: name}, nil
	}
	return input{}, nil
}

// wait gives the caller the floor for up to d: a key, or (with speech on)
// the start of speech, ends it. Nothing within d is no input.
func (s *session) wait(ctx context.Context, d time.Duration) (input, error) {
	if !s.listening() {
		return s.waitKey(ctx, d)
	}
	// Listening is done by understand, which needs the whole utterance;
	// here only its start is awaited, by playing silence that speech
	// interrupts (unnamed: not a prompt the caller barges in on).
	return s.play(ctx, "", &silence{frames: int(d / media.FrameDuration), n: media.FrameSamples(s.rate)}, true)
}

// waitKey returns the next key, or no input when none came within d.
func (s *session) waitKey(ctx context.Context, d time.Duration) (input, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	leg := s.c.Leg
	select {
	case k := <-leg.Digits():
		return input{key: k}, nil
	case <-t.C:
		return input{}, nil
	case <-leg.Done():
		return input{}, media.ErrHangup
	case <-ctx.Done():
		return input{}, ctx.Err()
	}
}

// silence is a FrameSource of n-sample silent frames.
type silence struct{ frames, n int }

func (s *silence) Next(context.Context) ([]int16, error) {
	if s.frames <= 0 {
		return nil, io.EOF
	}
	s.frames--
	return make([]int16, s.n), nil
}

// understand turns the caller's input into a menu option: a key directly,
// speech through the recognizer. nil means not understood.
func (s *session) understand(ctx context.Context, in input) (*option, error) {
	if in.key != 0 {
		s.record(Turn{At: time.Since(s.start), Speaker: "caller", Key: in.key.String()})
		opt := s.m.opts.forKey(in.key)
		if opt != nil {
			s.c.Log.Info("menu choice", "choice", opt.act.String(), "by", "key", "digit", in.key.String())
		}
		return opt, nil
	}
	h, err := s.recognize(ctx, in, s.m.opts.grammar, s.m.opts.complete)
	text, key := h.text, h.key
	if err != nil || key != 0 {
		if key != 0 {
			return s.understand(ctx, input{key: key})
		}
		return nil, err
	}
	opt := s.m.opts.forText(text)
	if opt != nil {
		s.c.Log.Info("menu choice", "choice", opt.act.String(), "by", "speech", "text", text)
	}
	return opt, nil
}

// heard is the caller's turn as recognized.
type heard struct {
	text string
	// key is the key that cut the turn short, if one did.
	key media.Digit
	// cue is the turn's emotion, when the call tracks it.
	cue *prosody.Cue
	// at is when the turn began, from the start of the call flow.
	at time.Duration
	// ended is when the caller's voice ended.
	ended time.Time
}

// recognize listens to the caller's utterance, feeding the recognizer as
// it is spoken, and returns its transcript, or the key that cut it short.
// grammar is what the caller may say (for a recognizer that needs one);
// a turn ends early when the partial transcript is complete.
func (s *session) recognize(ctx context.Context, in input, grammar []string, complete func(string) bool) (heard, error) {
	began := time.Now()
	rctx := logctx.With(ctx, s.c.Log)
	stream, err := s.m.eng.ASR.NewStream(rctx, asr.Options{SampleRate: s.rate, Grammar: grammar})
	if err != nil {
		return heard{}, fmt.Errorf("speech recognition: %w", err)
	}
	defer stream.Close()

	var partial string
	var werr error
	var spoken time.Duration
	var lastVoice time.Time // wall clock of the last frame with voice
	u, err := media.Listen(ctx, s.c.Leg, media.ListenOptions{
		Detector:  s.vad,
		NoInput:   s.m.cfg.MenuTimeout,
		MaxSpeech: 10 * time.Second,
		Preroll:   in.heard,
		OnFrame: func(f []int16) {
			spoken += time.Duration(len(f)) * time.Second / time.Duration(s.rate)
			if s.vad.Speaking() && s.vad.SinceVoice() < media.FrameDuration {
				lastVoice = time.Now()
			}
			if werr == nil {
				werr = stream.Write(f)
			}
			for {
				select {
				case r, ok := <-stream.Partials():
					if ok && r.Text != "" {
						partial = r.Text
						continue
					}
				default:
				}
				return
			}
		},
		EndEarly: func() bool {
			return spoken <= maxPhrase && s.vad.SinceVoice() >= earlyEnd && complete(partial)
		},
	})
	switch {
	case errors.Is(err, media.ErrNoInput):
		return heard{}, nil
	case err != nil:
		return heard{}, err
	case u.Digit != 0:
		return heard{key: u.Digit}, nil
	}
	// Latency counts from the caller's last voice, the end-of-turn quiet
	// included.
	endOfSpeech := lastVoice
	if endOfSpeech.IsZero() {
		endOfSpeech = time.Now()
	}
	var res asr.Result
	ferr := s.holdOn(ctx, func(ctx context.Context) error {
		var err error
		res, err = stream.Finish(rctx)
		return err
	})
	if errors.Is(ferr, media.ErrHangup) || ctx.Err() != nil {
		return heard{}, errors.Join(ferr, ctx.Err())
	}
	if ferr == nil {
		ferr = werr
	}
	latency := time.Since(endOfSpeech)
	speech := u.End - u.Start
	if ferr != nil {
		// The recognizer failed (its fallback too, if any): the caller is
		// asked again, as for speech not understood.
		s.c.Log.Warn("speech not recognized", "err", ferr, "speech_ms", speech.Milliseconds())
	}
	s.c.Log.Info("caller said", "text", res.Text, "provider", res.Provider, "confidence", res.Confidence,
		"speech_ms", speech.Milliseconds(), "latency_ms", latency.Milliseconds(),
		"barge_in", in.during != "", "truncated", u.Truncated)
	at := began.Sub(s.start) + u.Start
	h := heard{text: res.Text, cue: s.feel(u, res.Text, at), at: at, ended: endOfSpeech}
	s.record(Turn{At: at, Speaker: "caller", Text: res.Text, Duration: u.End - u.Start, Latency: latency,
		Provider: res.Provider, Confidence: res.Confidence, Emotion: h.cue})
	return h, nil
}

// feel gives the caller's turn its emotion cue; nil without a tracker.
func (s *session) feel(u media.Utterance, text string, at time.Duration) *prosody.Cue {
	if s.c.Emotion == nil {
		return nil
	}
	cue := s.c.Emotion.Observe(prosody.Utterance{PCM: u.PCM, Rate: s.rate, Text: text, Start: at})
	s.c.Log.Info("caller emotion", "turn", cue.Turn, "label", cue.Label, "arousal", round2(cue.Arousal),
		"confidence", round2(cue.Confidence), "trend", cue.Trend, "why", cue.Why)
	return &cue
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// A turn whose partial transcript is already a complete menu phrase ends
// after earlyEnd of quiet instead of the full EndSilence, if it is short
// like a phrase: a caller still talking after maxPhrase is saying a
// sentence, and its pauses must not cut it into turns.
const (
	earlyEnd  = 300 * time.Millisecond
	maxPhrase = 2 * time.Second
)

// say speaks text with the synthesizer; the caller may interrupt it. When
// the synthesizer fails (its fallback too, if any) nothing is spoken and
// spoken is false.
func (s *session) say(ctx context.Context, text string) (in input, spoken bool, err error) {
	stream := tts.Speak(logctx.With(ctx, s.c.Log), s.m.eng.TTS, text, s.rate)
	return s.speak(ctx, stream, func() (string, *dialog.Citation, string) { return text, nil, "" }, time.Time{})
}

// speak plays a synthesized stream, sentence by sentence as it is made;
// said tells what it says so far, the article it is from and the intent it
// serves, if any. replyTo, when set, is when the caller's voice ended: the
// turn's response time counts from it.
func (s *session) speak(ctx context.Context, stream tts.Stream, said func() (text string, cite *dialog.Citation, intent string), replyTo time.Time) (in input, spoken bool, err error) {
	began := time.Now()
	defer stream.Close()
	frames := &ttsFrames{s: stream, n: media.FrameSamples(s.rate)}
	err = s.holdOn(ctx, frames.prime)
	if errors.Is(err, media.ErrHangup) || ctx.Err() != nil {
		return input{}, false, errors.Join(err, ctx.Err())
	}
	if err != nil {
		s.c.Log.Warn("answer not spoken", "err", err)
		return input{}, false, nil
	}
	if len(frames.buf) == 0 {
		return input{}, false, nil
	}
	firstAudio := time.Since(began)
	var response time.Duration
	if !replyTo.IsZero() {
		response = time.Since(replyTo)
	}
	text, cite, _ := said()
	attrs := []any{"text", text, "provider", s.m.eng.TTS.Name(),
		"first_audio_ms", firstAudio.Milliseconds(), "response_ms", response.Milliseconds()}
	if cite != nil {
		attrs = append(attrs, "article", cite.Article, "article_version", cite.Version)
	}
	s.c.Log.Info("hotline said", attrs...)
	in, err = s.play(ctx, "answer", frames, true)
	if err != nil && !errors.Is(err, media.ErrHangup) && ctx.Err() == nil {
		// A later sentence failed to synthesize: the caller heard the
		// start of the answer, and the call goes on.
		s.c.Log.Warn("answer cut short", "err", err)
		err = nil
	}
	text, cite, intent := said()
	s.record(Turn{At: began.Sub(s.start), Speaker: "hotline", Text: text, Intent: intent, Duration: time.Since(began),
		Latency: firstAudio, Response: response, Provider: s.m.eng.TTS.Name(), Interrupted: !in.none(), Cite: cite})
	return in, true, err
}

// holdOn runs work while the caller waits. Whenever it has kept the line
// silent for HoldOn, the caller hears "one moment, please", so a slow
// provider never leaves a dead line. work must not use the leg.
func (s *session) holdOn(ctx context.Context, work func(context.Context) error) error {
	done := make(chan error, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { done <- work(wctx) }()
	t := time.NewTimer(s.m.cfg.HoldOn)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-t.C:
			s.c.Log.Info("asking the caller to hold on", "after", s.m.cfg.HoldOn)
			if _, err := s.prompt(ctx, "one-moment", s.m.prompts.OneMoment, false); err != nil {
				cancel()
				<-done
				return err
			}
			t.Reset(s.m.cfg.HoldOn)
		}
	}
}

// ttsFrames cuts a synthesizer's chunks into the leg's frames; the last is
// padded with silence.
type ttsFrames struct {
	s   tts.Stream
	n   int
	buf []int16
	eof bool
}

// prime reads until a frame is ready (or the speech ended), so that the
// wait for the first audio can be timed apart from playing it.
func (f *ttsFrames) prime(ctx context.Context) error {
	for !f.eof && len(f.buf) < f.n {
		chunk, err := f.s.Read(ctx)
		f.buf = append(f.buf, chunk...)
		if errors.Is(err, io.EOF) {
			f.eof = true
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (f *ttsFrames) Next(ctx context.Context) ([]int16, error) {
	if err := f.prime(ctx); err != nil {
		return nil, err
	}
	if len(f.buf) == 0 {
		return nil, io.EOF
	}
	frame := make([]int16, f.n)
	k := copy(frame, f.buf)
	f.buf = f.buf[k:]
	return frame, nil
}

// logEngines says at start-up which engines the menu uses, so an operator
// sees at once when a build or a setting left speech out.
func logEngines(log *slog.Logger, eng Engines, cfg Config) {
	switch {
	case !cfg.Speech:
		log.Info("callers use keys only: ivr.speech is off")
	case eng.ASR == nil:
		log.Warn("callers use keys only: no speech recognizer")
	default:
		log.Info("callers use keys and speech", "recognizer", eng.ASR.Name())
	}
}
