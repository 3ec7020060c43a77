// Package ivr is Hotline's first call flow: a greeting and a menu the caller
// answers by key or by voice, with an echo test, a message recorder and
// spoken answers to configured questions. The dialog manager replaces it as
// the conversation; it stays as the offline fallback and as a line check.
package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/asr"
	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/tts"
)

// Config tunes the menu.
type Config struct {
	// PromptsDir holds replacements for the shipped prompts (see
	// LoadPrompts). Default "": the prompts shipped in the binary.
	PromptsDir string `yaml:"prompts_dir"`
	// MenuTimeout is how long the menu waits for a key or speech before
	// repeating. Default 8s.
	MenuTimeout time.Duration `yaml:"menu_timeout"`
	// MenuRepeats is how many times the menu is offered (after a timeout
	// or a choice not understood) before goodbye. Default 3.
	MenuRepeats int `yaml:"menu_repeats"`
	// EchoLimit bounds an echo test. Default 60s.
	EchoLimit time.Duration `yaml:"echo_limit"`
	// MessageLimit bounds a recorded message. Default 120s.
	MessageLimit time.Duration `yaml:"message_limit"`
	// MessageSilence ends a message after this much continuous silence.
	// Default 4s.
	MessageSilence time.Duration `yaml:"message_silence"`
	// Speech lets callers speak their choices and interrupt prompts by
	// talking. Off, or without a recognizer, the menu takes keys only.
	// Default true.
	Speech bool `yaml:"speech"`
	// EndSilence ends the caller's turn after this much quiet. Default
	// 600ms.
	EndSilence time.Duration `yaml:"end_silence"`
	// HoldOn is how long the caller may wait in silence for Hotline to
	// understand or answer before it says "one moment, please" (again
	// every HoldOn), so a slow provider never leaves a dead line. Default
	// 1.5s.
	HoldOn time.Duration `yaml:"hold_on"`
	// HoldMusic is a WAV file callers hear while they wait for an agent,
	// instead of the music shipped in the binary. Default "": the shipped
	// loop.
	HoldMusic string `yaml:"hold_music"`
	// Uninterruptible names prompts that always play to the end, whatever
	// the caller says or keys meanwhile: "greeting" when it carries a legal
	// notice, say. Others a caller may interrupt: greeting, menu, invalid,
	// not-understood, answer. Default none.
	Uninterruptible []string `yaml:"uninterruptible"`
	// Answers are questions the menu answers with synthesized speech.
	Answers []Answer `yaml:"answers"`
}

// Answer is a question the menu answers by voice.
type Answer struct {
	// Phrases are what the caller may say to ask it, in lower case words.
	Phrases []string `yaml:"phrases"`
	// Key optionally asks it by DTMF: one of 0-9, * or #, not a key the
	// menu already uses (1, 2, 0).
	Key string `yaml:"key"`
	// Say is the answer, spoken by the speech synthesizer.
	Say string `yaml:"say"`
}

// DefaultConfig returns the menu's defaults.
func DefaultConfig() Config {
	return Config{
		MenuTimeout:     8 * time.Second,
		MenuRepeats:     3,
		EchoLimit:       60 * time.Second,
		MessageLimit:    120 * time.Second,
		MessageSilence:  4 * time.Second,
		Speech:          true,
		EndSilence:      600 * time.Millisecond,
		HoldOn:          1500 * time.Millisecond,
		Uninterruptible: []string{},
		Answers: []Answer{{
			Phrases: []string{"opening hours", "when are you open"},
			Key:     "3",
			Say:     "We are open Monday to Friday, from eight in the morning until eight in the evening.",
		}},
	}
}

// Validate reports settings the menu cannot run with.
func (c Config) Validate() error {
	switch {
	case c.MenuTimeout <= 0:
		return errors.New("ivr.menu_timeout must be positive")
	case c.MenuRepeats < 1:
		return errors.New("ivr.menu_repeats must be at least 1")
	case c.EchoLimit <= 0, c.MessageLimit <= 0, c.MessageSilence <= 0:
		return errors.New("ivr echo_limit, message_limit and message_silence must be positive")
	case c.EndSilence <= 0, c.HoldOn <= 0:
		return errors.New("ivr end_silence and hold_on must be positive")
	}
	for _, name := range c.Uninterruptible {
		if !slices.Contains(interruptible, name) {
			return fmt.Errorf("ivr.uninterruptible: %q is not one of %s", name, strings.Join(interruptible, ", "))
		}
	}
	_, err := buildOptions(c.Answers)
	return err
}

// interruptible are the prompts a caller may cut short, unless configured
// otherwise; the rest (goodbye, record, beep, ...) always play out.
var interruptible = []string{"greeting", "menu", "invalid", "not-understood", "answer"}

// silenceDBFS is the level under which a frame of a message counts as
// silence: above G.711's idle noise, below quiet speech.
const silenceDBFS = -45

// Engines are the speech engines the menu may use; either may be nil.
type Engines struct {
	// ASR recognizes spoken choices; nil takes keys only.
	ASR asr.Recognizer
	// TTS speaks answers; nil leaves answers unspoken (logged at New).
	TTS tts.Synthesizer
}

// Menu runs the call flow on one leg at a time; it is safe for concurrent
// calls because all per-call state lives in Serve.
type Menu struct {
	cfg     Config
	prompts *Prompts
	eng     Engines
	opts    *options
}

// New returns a Menu with its prompts and engines.
func New(cfg Config, p *Prompts, eng Engines, log *slog.Logger) (*Menu, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if eng.TTS == nil && len(cfg.Answers) > 0 {
		log.Warn("no speech synthesizer: the configured answers are not offered")
		cfg.Answers = nil
	}
	opts, err := buildOptions(cfg.Answers)
	if err != nil {
		return nil, err
	}
	if !cfg.Speech {
		eng.ASR = nil
	}
	logEngines(log, eng, cfg)
	return &Menu{cfg: cfg, prompts: p, eng: eng, opts: opts}, nil
}

// Call is what the menu needs to know about the call it serves.
type Call struct {
	Leg media.Leg
	Log *slog.Logger
	// MessagePath is where a message left with key 0 is recorded.
	MessagePath string
	// OnTurn, if set, is told each turn of the conversation as it ends:
	// the call's record.
	OnTurn func(Turn)
	// Emotion, if set, hears each of the caller's spoken turns and gives
	// it an emotion cue.
	Emotion *prosody.Tracker
	// Caller is who is calling: their number, and what the customer
	// directory knows of them.
	Caller dialog.Profile
	// OnCrisis, if set, is told when a caller may be at risk of harming
	// themselves: the supervisors' alert.
	OnCrisis func(dialog.Crisis)
	// Agents, if set, takes the calls the dialog transfers to a queue to
	// a person; without it the caller of a transfer may leave a message.
	Agents Agents
	// TransferOut, if set, gives the way to hand the call to a destination
	// outside Hotline the dialog transferred it to by name; nil when the
	// name is not one (a queue). The way returns once the caller's part
	// with Hotline is over.
	TransferOut func(destination string) func(ctx context.Context, caller media.Leg) error
	// Transfers, if set, brings the queues an agent talking with the
	// caller transfers the call on to: the agent's leg ends and the caller
	// waits in the new queue, keeping their place in time.
	Transfers <-chan string
	// OnCallback, if set, is told the number a caller who chose not to
	// wait for an agent wants to be called back at.
	OnCallback func(number string)
	// Greeting, if set, opens a conversation instead of the dialog's
	// greeting: a call Hotline placed says why it calls.
	Greeting string
}

// Turn is one thing said on the call, by the caller or by Hotline.
type Turn struct {
	// At is when the turn began, from the start of the call flow.
	At time.Duration
	// Speaker is "caller" or "hotline".
	Speaker string
	// Text is what was said or recognized; empty when the caller spoke
	// but nothing was understood.
	Text string
	// Prompt names a recorded prompt Hotline played.
	Prompt string
	// Key is a DTMF key the caller pressed.
	Key string
	// Duration is how long the turn's audio lasted (for prompts: until
	// it ended or was interrupted).
	Duration time.Duration
	// Latency is, for the caller's speech, from the end of speech to the
	// transcript; for Hotline's synthesized speech, from the request to
	// the first audio.
	Latency time.Duration
	// Response is, for Hotline's reply to the caller's speech, the time
	// from the end of the caller's voice to the reply's first audio: the
	// turn latency the caller lives with.
	Response time.Duration
	// Provider is the engine that recognized or synthesized it.
	Provider string
	// Confidence of the transcript, 0..1; -1 when the engine gives none.
	Confidence float64
	// Interrupted is set on a prompt the caller cut short.
	Interrupted bool
	// Intent is, on Hotline's reply, the flow's intent it served.
	Intent string
	// Emotion is the cue of the caller's spoken turn, when the call has
	// an emotion tracker.
	Emotion *prosody.Cue
	// Transfer is set when Hotline hands the call to a person.
	Transfer *TransferTurn
	// Cite, on Hotline's reply, names the knowledge article it answered
	// from (the first, when it spoke from several).
	Cite *dialog.Citation
}

// Serve plays the greeting and runs the menu until the caller is done, the
// menu times out, or the leg ends. It returns nil when the call ended
// normally from either side.
func (m *Menu) Serve(ctx context.Context, c Call) error {
	s := newSession(m, c)
	err := s.run(ctx)
	if errors.Is(err, media.ErrHangup) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (s *session) run(ctx context.Context) error {
	m := s.m
	in, err := s.prompt(ctx, "greeting", m.prompts.Greeting, true)
	if err != nil {
		return err
	}
	// tries counts menus offered without a choice. A caller who talks on
	// over "not understood" is still making the same attempt (a sentence
	// with pauses is heard as several turns), up to MenuRepeats times.
	talkingOn := 0
	for tries := 0; tries < m.cfg.MenuRepeats; {
		if in.none() {
			if in, err = s.prompt(ctx, "menu", m.prompts.Menu, true); err != nil {
				return err
			}
		}
		if in.none() {
			if in, err = s.wait(ctx, m.cfg.MenuTimeout); err != nil {
				return err
			}
		}
		if in.none() {
			tries++
			continue
		}
		opt, err := s.understand(ctx, in)
		if err != nil {
			return err
		}
		if opt == nil {
			// Then the menu again, unless the caller is already talking.
			name, pcm := "not-understood", m.prompts.NotUnderstood
			if in.key != 0 {
				name, pcm = "invalid", m.prompts.Invalid
			}
			if in, err = s.prompt(ctx, name, pcm, true); err != nil {
				return err
			}
			if in.speech {
				talkingOn++
			} else {
				talkingOn = 0
			}
			if !in.speech || talkingOn > m.cfg.MenuRepeats {
				tries++
			}
			continue
		}
		talkingOn = 0
		in = input{}
		switch opt.act {
		case actGreeting:
			in, err = s.prompt(ctx, "greeting", m.prompts.Greeting, true)
		case actMenu:
		case actEcho:
			err = s.echo(ctx)
		case actAnswer:
			var spoken bool
			in, spoken, err = s.say(ctx, opt.say)
			if err == nil && spoken && in.none() {
				// The caller has heard the answer; give them the floor
				// before offering the menu again.
				in, err = s.wait(ctx, m.cfg.MenuTimeout)
			}
		case actAgent:
			if _, err = s.prompt(ctx, "no-agent", m.prompts.NoAgent, false); err == nil {
				err = s.leaveMessage(ctx)
			}
			if err == nil {
				return s.goodbye(ctx)
			}
		case actMessage:
			if _, err = s.prompt(ctx, "record", m.prompts.Record, false); err == nil {
				err = s.leaveMessage(ctx)
			}
			if err == nil {
				return s.goodbye(ctx)
			}
		case actGoodbye:
			return s.goodbye(ctx)
		}
		if err != nil {
			return err
		}
	}
	return s.goodbye(ctx)
}

func (s *session) goodbye(ctx context.Context) error {
	_, err := s.prompt(ctx, "goodbye", s.m.prompts.Goodbye, false)
	return err
}

// echo plays back what the caller says until # or the limit.
func (s *session) echo(ctx context.Context) error {
	if _, err := s.prompt(ctx, "echo", s.m.prompts.Echo, false); err != nil {
		return err
	}
	leg := s.c.Leg
	ctx, cancel := context.WithTimeout(ctx, s.m.cfg.EchoLimit)
	defer cancel()
	for {
		select {
		case d := <-leg.Digits():
			if d == '#' {
				leg.Flush()
				return nil
			}
		default:
		}
		f, err := leg.ReadFrame(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := leg.WriteFrame(ctx, f); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
	}
}

// leaveMessage records the caller after the tone until #, a long silence or
// the limit, then thanks them.
func (s *session) leaveMessage(ctx context.Context) error {
	if _, err := s.prompt(ctx, "beep", s.m.prompts.Beep, false); err != nil {
		return err
	}
	leg := s.c.Leg
	rec, err := media.NewRecorder(s.c.MessagePath, leg.SampleRate(), 1)
	if err != nil {
		return fmt.Errorf("record message: %w", err)
	}
	why, err := s.recordUntilDone(ctx, rec)
	if cerr := rec.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("record message: %w", cerr)
	}
	s.c.Log.Info("message recorded", "path", filepath.Clean(rec.Path()),
		"seconds", float64(rec.Samples())/float64(leg.SampleRate()), "ended_by", why)
	if err != nil {
		return err
	}
	_, err = s.prompt(ctx, "saved", s.m.prompts.Saved, false)
	return err
}

func (s *session) recordUntilDone(ctx context.Context, rec *media.Recorder) (string, error) {
	leg := s.c.Leg
	ctx, cancel := context.WithTimeout(ctx, s.m.cfg.MessageLimit)
	defer cancel()
	silentFrames, maxSilent := 0, int(s.m.cfg.MessageSilence/media.FrameDuration)
	for {
		select {
		case d := <-leg.Digits():
			if d == '#' {
				return "key", nil
			}
		default:
		}
		f, err := leg.ReadFrame(ctx)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return "limit", nil
		case errors.Is(err, media.ErrHangup):
			return "hangup", err
		case err != nil:
			return "error", err
		}
		if err := rec.WriteMono(f); err != nil {
			return "error", fmt.Errorf("record message: %w", err)
		}
		if media.Level(f) < silenceDBFS {
			silentFrames++
			if silentFrames >= maxSilent {
				return "silence", nil
			}
		} else {
			silentFrames = 0
		}
	}
}

// action is what a menu option does.
type action uint8

const (
	actGreeting action = iota + 1
	actEcho
	actMessage
	actAgent
	actGoodbye
	actMenu
	actAnswer
)

func (a action) String() string {
	return [...]string{"", "greeting", "echo", "message", "agent", "goodbye", "menu", "answer"}[a]
}

// option is one thing the caller can ask the menu for.
type option struct {
	act     action
	key     media.Digit
	phrases []string
	say     string
}

// builtin are the menu's own options; their phrases are what the menu
// prompt invites callers to say, and the usual ways of asking for a human.
var builtin = []option{
	{act: actGreeting, key: '1', phrases: []string{"repeat", "repeat the greeting", "one"}},
	{act: actEcho, key: '2', phrases: []string{"echo test", "two"}},
	{act: actMessage, key: '0', phrases: []string{"leave a message", "zero"}},
	{act: actAgent, phrases: []string{"agent", "representative", "operator", "talk to a person"}},
	{act: actGoodbye, phrases: []string{"goodbye", "that is all"}},
	{act: actMenu, phrases: []string{"main menu", "help"}},
}

// options index the menu's options by key and by phrase.
type options struct {
	all      []option
	byKey    map[media.Digit]*option
	byPhrase map[string]*option
	grammar  []string
}

func buildOptions(answers []Answer) (*options, error) {
	all := append([]option(nil), builtin...)
	for i, a := range answers {
		if strings.TrimSpace(a.Say) == "" {
			return nil, fmt.Errorf("ivr.answers[%d]: say is empty", i)
		}
		if len(a.Phrases) == 0 && a.Key == "" {
			return nil, fmt.Errorf("ivr.answers[%d]: needs phrases or a key", i)
		}
		o := option{act: actAnswer, phrases: a.Phrases, say: a.Say}
		if a.Key != "" {
			if d := media.Digit(a.Key[0]); len(a.Key) != 1 || !d.Valid() {
				return nil, fmt.Errorf("ivr.answers[%d]: key %q is not one DTMF key", i, a.Key)
			}
			o.key = media.Digit(a.Key[0])
		}
		all = append(all, o)
	}
	o := &options{all: all, byKey: map[media.Digit]*option{}, byPhrase: map[string]*option{}}
	for i := range o.all {
		opt := &o.all[i]
		if opt.key != 0 {
			if prev, dup := o.byKey[opt.key]; dup {
				return nil, fmt.Errorf("ivr: key %s is both %s and %s", opt.key, prev.act, opt.act)
			}
			o.byKey[opt.key] = opt
		}
		for _, p := range opt.phrases {
			norm := strings.Join(asr.NormalizeWords(p), " ")
			if norm == "" {
				return nil, fmt.Errorf("ivr: phrase %q has no words", p)
			}
			if prev, dup := o.byPhrase[norm]; dup && prev != opt {
				return nil, fmt.Errorf("ivr: phrase %q is both %s and %s", p, prev.act, opt.act)
			}
			o.byPhrase[norm] = opt
			o.grammar = append(o.grammar, norm)
		}
	}
	return o, nil
}

// forKey is the option a key selects, or nil.
func (o *options) forKey(d media.Digit) *option { return o.byKey[d] }

// forText is the option a transcript selects, or nil.
func (o *options) forText(text string) *option {
	return o.byPhrase[strings.Join(asr.NormalizeWords(text), " ")]
}

// complete reports whether text is a whole phrase that no longer phrase
// begins with, so nothing the caller could still add would change the
// choice: the turn may end before the full end-of-turn silence.
func (o *options) complete(text string) bool {
	_, ok := o.byPhrase[strings.Join(asr.NormalizeWords(text), " ")]
	return ok && completePhrase(o.grammar, text)
}
