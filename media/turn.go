package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Turn-taking: Play speaks to the caller and stops when the caller talks or
// keys over it (barge-in); Listen waits for the caller's turn and ends it
// when they stop. Both read the leg themselves, so while one runs it is the
// only reader of the leg's frames and digits.

// FrameSource yields a prompt's audio one frame at a time: a WAV prompt cut
// into frames, a synthesizer's stream.
type FrameSource interface {
	// Next returns the next frame, of exactly one frame at the leg's rate,
	// or io.EOF after the last. It should return promptly when ctx ends.
	Next(ctx context.Context) ([]int16, error)
}

// FramesOf cuts pcm at rate into 20 ms frames; the last is padded with
// silence. The frames share pcm's memory.
func FramesOf(pcm []int16, rate int) FrameSource {
	return &pcmFrames{pcm: pcm, n: FrameSamples(rate)}
}

type pcmFrames struct {
	pcm []int16
	n   int
}

func (p *pcmFrames) Next(context.Context) ([]int16, error) {
	if len(p.pcm) == 0 || p.n <= 0 {
		return nil, io.EOF
	}
	if len(p.pcm) < p.n {
		f := make([]int16, p.n)
		copy(f, p.pcm)
		p.pcm = nil
		return f, nil
	}
	f := p.pcm[:p.n:p.n]
	p.pcm = p.pcm[p.n:]
	return f, nil
}

// leadInFrames is how much audio from before a detected onset goes with the
// utterance: the onset estimate can be a frame late on a soft consonant,
// and recognizers like a little quiet before the first word.
const leadInFrames = 3

// PlayReason says why Play returned.
type PlayReason uint8

const (
	// Finished: the whole prompt was played.
	Finished PlayReason = iota
	// BargeInSpeech: the caller started speaking.
	BargeInSpeech
	// BargeInDigit: the caller pressed a key.
	BargeInDigit
)

func (r PlayReason) String() string {
	switch r {
	case BargeInSpeech:
		return "barge-in-speech"
	case BargeInDigit:
		return "barge-in-digit"
	}
	return "finished"
}

// PlayOptions says what may interrupt a prompt. The zero value plays it to
// the end whatever the caller does (a legal notice).
type PlayOptions struct {
	// BargeIn stops the prompt when the caller starts speaking.
	BargeIn bool
	// DTMFBargeIn stops the prompt when the caller presses a key; the key
	// is consumed and returned. Without it, keys pressed during the prompt
	// wait in the leg for whoever reads them next.
	DTMFBargeIn bool
	// VAD configures the detector Play makes when Detector is nil.
	VAD VADConfig
	// Detector, if set, is used instead of a new one, so the noise floor
	// it learnt on earlier prompts and turns carries over. Play resets any
	// speech in progress in it at the start. Pass the same detector to
	// Listen after a barge-in and the utterance continues without a seam.
	Detector *VAD
}

// PlayResult is how a prompt ended.
type PlayResult struct {
	Reason PlayReason
	// Digit is the key that barged in (BargeInDigit).
	Digit Digit
	// Heard is, for BargeInSpeech, the caller's audio from just before the
	// onset of their speech to the moment it was confirmed: hand it to
	// Listen as ListenOptions.Preroll so the recognizer hears the first
	// syllable too.
	Heard []int16
}

// Play sends src's frames to leg, paced by the leg, while it listens to the
// leg for barge-in. It returns:
//
//   - Finished once the last frame of the prompt has been handed to the
//     transport: after src's io.EOF, Play waits for the leg's send queue to
//     drain (60 ms on a Stream), still listening, so a hang-up or a next
//     prompt right after Play does not cut the end off;
//   - BargeInSpeech as soon as the caller's speech is confirmed (after
//     VADConfig.MinSpeech of voice), with the queued prompt audio already
//     dropped, so the prompt stops within the queue's depth of the decision;
//   - BargeInDigit when a key is pressed, if DTMFBargeIn;
//   - ErrHangup when the leg ends, ctx.Err() when ctx does, and src's error,
//     wrapped, if it fails with anything but io.EOF.
//
// Play reads the leg's frames for its whole duration (they go through the
// detector even when BargeIn is off, so a shared Detector keeps learning the
// line) and, with DTMFBargeIn, its digits; nothing else may read them
// meanwhile. All goroutines Play starts have ended when it returns.
func Play(ctx context.Context, leg Leg, src FrameSource, opt PlayOptions) (PlayResult, error) {
	if err := ctx.Err(); err != nil {
		return PlayResult{}, err
	}
	vad := opt.Detector
	if vad == nil {
		vad = NewVAD(leg.SampleRate(), opt.VAD)
	}
	vad.Reset()
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	l := &playListener{
		leg:  leg,
		opt:  opt,
		vad:  vad,
		ring: newFrameRing(ringFrames(vad.Config()), FrameSamples(leg.SampleRate())),
		stop: stop,
		done: make(chan struct{}),
	}
	go l.run(pctx)

	werr := writeFrames(pctx, leg, src)
	stop()
	<-l.done
	// The listener flushed at the moment of barge-in; this catches a frame
	// the writer queued while it was being stopped, and the silence that
	// drained the queue.
	leg.Flush()

	switch {
	case l.res.Reason != Finished:
		return l.res, nil
	case ctx.Err() != nil:
		return PlayResult{}, ctx.Err()
	case errors.Is(l.err, ErrHangup), errors.Is(werr, ErrHangup):
		return PlayResult{}, ErrHangup
	case l.err != nil:
		return PlayResult{}, l.err
	case werr != nil:
		return PlayResult{}, werr
	}
	return PlayResult{Reason: Finished}, nil
}

// writeFrames writes src to leg until it ends, then writes silence until the
// last prompt frame has left the send queue.
func writeFrames(ctx context.Context, leg Leg, src FrameSource) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("media: prompt source: %w", err)
		}
		if err := leg.WriteFrame(ctx, f); err != nil {
			return err
		}
	}
	// WriteFrame takes a frame when the queue has room, so once as many
	// more frames as the queue holds are taken, the prompt's last frame has
	// been sent. Silence sounds the same as an idle leg; Play flushes it.
	silence := make([]int16, FrameSamples(leg.SampleRate()))
	for range sendQueueFrames {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := leg.WriteFrame(ctx, silence); err != nil {
			return err
		}
	}
	return nil
}

// playListener is Play's reader of the leg: it runs the detector on every
// frame and stops the prompt on barge-in.
type playListener struct {
	leg  Leg
	opt  PlayOptions
	vad  *VAD
	ring *frameRing
	stop context.CancelFunc
	done chan struct{}

	// Written by run before done is closed.
	res PlayResult
	err error
}

func (l *playListener) run(ctx context.Context) {
	defer close(l.done)
	for {
		if l.opt.DTMFBargeIn {
			select {
			case d := <-l.leg.Digits():
				l.bargeIn(PlayResult{Reason: BargeInDigit, Digit: d})
				return
			default:
			}
		}
		f, err := l.leg.ReadFrame(ctx)
		if err != nil {
			if ctx.Err() == nil { // not Play stopping us: the leg failed
				l.err = err
				l.stop()
			}
			return
		}
		l.ring.push(f)
		if ev := l.vad.Process(f); ev.Kind == SpeechStart && l.opt.BargeIn {
			l.bargeIn(PlayResult{Reason: BargeInSpeech, Heard: l.ring.last(ev.Frames + leadInFrames)})
			return
		}
	}
}

// bargeIn stops the writer and drops what it queued, at once: the clock
// may tick again any moment.
func (l *playListener) bargeIn(res PlayResult) {
	l.res = res
	l.stop()
	l.leg.Flush()
}

// ErrNoInput is returned by Listen when the caller does not start speaking
// within ListenOptions.NoInput.
var ErrNoInput = errors.New("media: no speech heard")

// Listen defaults.
const (
	DefaultNoInput   = 5 * time.Second
	DefaultMaxSpeech = 30 * time.Second
)

// ListenOptions configures one turn of the caller's.
type ListenOptions struct {
	// VAD configures the detector Listen makes when Detector is nil.
	VAD VADConfig
	// Detector, if set, is used instead of a new one (see PlayOptions).
	Detector *VAD
	// NoInput is how long to wait for speech to start (0: DefaultNoInput).
	NoInput time.Duration
	// MaxSpeech caps the utterance, from its onset (0: DefaultMaxSpeech).
	MaxSpeech time.Duration
	// Preroll is the start of an utterance already under way, normally
	// PlayResult.Heard after a barge-in: Listen begins in speech, hands
	// Preroll to OnFrame first and puts it at the head of the Utterance.
	Preroll []int16
	// OnFrame, if set, is called with each frame of the utterance as it is
	// heard, from just before the onset, so a streaming recognizer is fed
	// while the caller speaks. The frame may be kept but not modified.
	OnFrame func(frame []int16)
	// EndEarly, if set, is asked once a frame while the caller is quiet
	// after speech; true ends the turn then, before EndSilence: the
	// recognizer already has a confident final result.
	EndEarly func() bool
}

// Utterance is one turn of the caller's.
type Utterance struct {
	// PCM is everything handed to OnFrame: from just before the onset
	// (or Preroll) to the frame that ended the turn, trailing quiet
	// included.
	PCM []int16
	// Start and End bound the speech, from Listen's start on the leg's
	// frame clock (20 ms a frame read), to the frame. Start is the frame
	// the onset was found in, or, with a Preroll, the (negative) time the
	// preroll began; End is the end of the last voice, without the
	// trailing silence.
	Start, End time.Duration
	// Digit is the key that ended the turn, if one did: a menu takes keys
	// or speech.
	Digit Digit
	// Truncated is set when the utterance reached MaxSpeech.
	Truncated bool
}

// Listen waits for the caller to speak and returns their utterance when
// they stop: EndSilence after the last voice, at MaxSpeech, when EndEarly
// says so, or when they press a key (returned in Digit, with whatever
// speech came before it). No speech within NoInput is ErrNoInput; the leg
// ending is ErrHangup; ctx ending is ctx.Err(). Listen reads the leg's
// frames and digits in the calling goroutine and starts none.
func Listen(ctx context.Context, leg Leg, opt ListenOptions) (Utterance, error) {
	if opt.NoInput <= 0 {
		opt.NoInput = DefaultNoInput
	}
	if opt.MaxSpeech <= 0 {
		opt.MaxSpeech = DefaultMaxSpeech
	}
	vad := opt.Detector
	if vad == nil {
		vad = NewVAD(leg.SampleRate(), opt.VAD)
	}
	fs := FrameSamples(leg.SampleRate())
	ring := newFrameRing(ringFrames(vad.Config()), fs)

	var u Utterance
	emit := func(f []int16) {
		at := len(u.PCM)
		u.PCM = append(u.PCM, f...)
		if opt.OnFrame != nil {
			opt.OnFrame(u.PCM[at:len(u.PCM):len(u.PCM)])
		}
	}
	speaking := false
	if len(opt.Preroll) > 0 {
		if !vad.Speaking() {
			// A detector that did not hear the onset learns the line
			// from the preroll's lead-in and goes into speech.
			vad.Reset()
			for off := 0; off < len(opt.Preroll); off += fs {
				vad.Process(opt.Preroll[off:min(off+fs, len(opt.Preroll))])
			}
			if !vad.Speaking() {
				vad.assumeSpeech()
			}
		}
		for off := 0; off < len(opt.Preroll); off += fs {
			emit(opt.Preroll[off:min(off+fs, len(opt.Preroll))])
		}
		u.Start = -time.Duration(len(opt.Preroll)) * time.Second / time.Duration(leg.SampleRate())
		speaking = true
	} else {
		vad.Reset()
	}

	var now time.Duration // end of the last frame read, on the frame clock
	for {
		select {
		case d := <-leg.Digits():
			u.Digit = d
			u.End = now
			if speaking {
				u.End = now - vad.SinceVoice()
			}
			return u, nil
		default:
		}
		f, err := leg.ReadFrame(ctx)
		if err != nil {
			return Utterance{}, err
		}
		now += FrameDuration
		ev := vad.Process(f)
		if !speaking {
			ring.push(f)
			if ev.Kind == SpeechStart {
				speaking = true
				u.Start = now - time.Duration(ev.Frames)*FrameDuration
				for _, p := range ring.frames(ev.Frames + leadInFrames) {
					emit(p)
				}
				continue
			}
			if now >= opt.NoInput {
				return Utterance{}, ErrNoInput
			}
			continue
		}
		emit(f)
		switch {
		case ev.Kind == SpeechEnd:
			u.End = now - time.Duration(ev.Frames-1)*FrameDuration
			return u, nil
		case now-u.Start >= opt.MaxSpeech:
			u.End, u.Truncated = now-vad.SinceVoice(), true
			return u, nil
		case opt.EndEarly != nil && vad.SinceVoice() >= FrameDuration && opt.EndEarly():
			u.End = now - vad.SinceVoice()
			return u, nil
		}
	}
}

// ringFrames is how many frames of history an onset can reach back over,
// with the lead-in: the voice that confirms speech may have gaps, so up to
// three times MinSpeech.
func ringFrames(cfg VADConfig) int {
	minFrames := int((cfg.MinSpeech + FrameDuration - 1) / FrameDuration)
	return 3*minFrames + leadInFrames + 2
}

// frameRing keeps the last few frames heard.
type frameRing struct {
	buf  [][]int16
	next int
	n    int
}

func newFrameRing(frames, samples int) *frameRing {
	r := &frameRing{buf: make([][]int16, frames)}
	for i := range r.buf {
		r.buf[i] = make([]int16, 0, samples)
	}
	return r
}

func (r *frameRing) push(f []int16) {
	r.buf[r.next] = append(r.buf[r.next][:0], f...)
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// frames returns copies of the last n frames (fewer if fewer were pushed),
// oldest first.
func (r *frameRing) frames(n int) [][]int16 {
	n = min(n, r.n)
	out := make([][]int16, n)
	for i := range n {
		j := (r.next - n + i + len(r.buf)) % len(r.buf)
		out[i] = append([]int16(nil), r.buf[j]...)
	}
	return out
}

// last returns the last n frames joined.
func (r *frameRing) last(n int) []int16 {
	var out []int16
	for _, f := range r.frames(n) {
		out = append(out, f...)
	}
	return out
}
