// Package ivr is Hotline's first call flow: a greeting and a DTMF menu with
// an echo test and a message recorder. The dialog manager replaces it as the
// conversation; it stays as the offline fallback and as a line check.
package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// Config tunes the menu.
type Config struct {
	// PromptsDir holds greeting.wav, menu.wav, echo.wav, record.wav, saved.wav,
	// invalid.wav, goodbye.wav and beep.wav. Default "": the prompts shipped
	// in the binary.
	PromptsDir string `yaml:"prompts_dir"`
	// MenuTimeout is how long the menu waits for a key before repeating.
	// Default 8s.
	MenuTimeout time.Duration `yaml:"menu_timeout"`
	// MenuRepeats is how many times the menu is offered before goodbye.
	// Default 3.
	MenuRepeats int `yaml:"menu_repeats"`
	// EchoLimit bounds an echo test. Default 60s.
	EchoLimit time.Duration `yaml:"echo_limit"`
	// MessageLimit bounds a recorded message. Default 120s.
	MessageLimit time.Duration `yaml:"message_limit"`
	// MessageSilence ends a message after this much continuous silence.
	// Default 4s.
	MessageSilence time.Duration `yaml:"message_silence"`
}

// DefaultConfig returns the menu's defaults.
func DefaultConfig() Config {
	return Config{
		MenuTimeout:    8 * time.Second,
		MenuRepeats:    3,
		EchoLimit:      60 * time.Second,
		MessageLimit:   120 * time.Second,
		MessageSilence: 4 * time.Second,
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
	}
	return nil
}

// silenceDBFS is the level under which a frame of a message counts as
// silence: above G.711's idle noise, below quiet speech.
const silenceDBFS = -45

// Menu runs the call flow on one leg at a time; it is safe for concurrent
// calls because all per-call state lives in Serve.
type Menu struct {
	cfg     Config
	prompts *Prompts
}

// New returns a Menu with its prompts.
func New(cfg Config, p *Prompts) *Menu { return &Menu{cfg: cfg, prompts: p} }

// Call is what the menu needs to know about the call it serves.
type Call struct {
	Leg media.Leg
	Log *slog.Logger
	// MessagePath is where a message left with key 0 is recorded.
	MessagePath string
}

// Serve plays the greeting and runs the menu until the caller is done, the
// menu times out, or the leg ends. It returns nil when the call ended
// normally from either side.
func (m *Menu) Serve(ctx context.Context, c Call) error {
	err := m.serve(ctx, c)
	if errors.Is(err, media.ErrHangup) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (m *Menu) serve(ctx context.Context, c Call) error {
	key, err := play(ctx, c.Leg, m.prompts.Greeting, true)
	if err != nil {
		return err
	}
	for tries := 0; tries < m.cfg.MenuRepeats; {
		if key == 0 {
			if key, err = play(ctx, c.Leg, m.prompts.Menu, true); err != nil {
				return err
			}
		}
		if key == 0 {
			if key, err = m.waitKey(ctx, c.Leg, m.cfg.MenuTimeout); err != nil {
				return err
			}
		}
		if key == 0 {
			tries++
			continue
		}
		c.Log.Info("menu choice", "digit", key.String())
		choice := key
		key = 0
		switch choice {
		case '1':
			key, err = play(ctx, c.Leg, m.prompts.Greeting, true)
		case '2':
			err = m.echo(ctx, c)
		case '0':
			err = m.message(ctx, c)
			if err == nil {
				err = playAll(ctx, c.Leg, m.prompts.Saved)
			}
			if err == nil {
				return m.goodbye(ctx, c.Leg)
			}
		default:
			key, err = play(ctx, c.Leg, m.prompts.Invalid, true)
		}
		if err != nil {
			return err
		}
	}
	return m.goodbye(ctx, c.Leg)
}

func (m *Menu) goodbye(ctx context.Context, leg media.Leg) error {
	if err := playAll(ctx, leg, m.prompts.Goodbye); err != nil {
		return err
	}
	return drain(ctx, leg)
}

// play sends pcm to the leg. When interruptible, a key pressed meanwhile
// cuts it short (queued audio is flushed) and is returned.
func play(ctx context.Context, leg media.Leg, pcm []int16, interruptible bool) (media.Digit, error) {
	n := media.FrameSamples(leg.SampleRate())
	frame := make([]int16, n)
	for off := 0; off < len(pcm); off += n {
		if interruptible {
			select {
			case d := <-leg.Digits():
				leg.Flush()
				return d, nil
			default:
			}
		}
		clear(frame)
		copy(frame, pcm[off:min(off+n, len(pcm))])
		if err := leg.WriteFrame(ctx, frame); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// playAll sends pcm without letting keys interrupt it.
func playAll(ctx context.Context, leg media.Leg, pcm []int16) error {
	_, err := play(ctx, leg, pcm, false)
	return err
}

// drain waits until what is queued on the leg has been sent, so a hang-up
// right after does not cut off the last words.
func drain(ctx context.Context, leg media.Leg) error {
	silence := make([]int16, media.FrameSamples(leg.SampleRate()))
	for range 4 {
		if err := leg.WriteFrame(ctx, silence); err != nil {
			return err
		}
	}
	return nil
}

// waitKey returns the next key, or 0 when none came within d.
func (m *Menu) waitKey(ctx context.Context, leg media.Leg, d time.Duration) (media.Digit, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case k := <-leg.Digits():
		return k, nil
	case <-t.C:
		return 0, nil
	case <-leg.Done():
		return 0, media.ErrHangup
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// echo plays back what the caller says until # or the limit.
func (m *Menu) echo(ctx context.Context, c Call) error {
	if err := playAll(ctx, c.Leg, m.prompts.Echo); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.EchoLimit)
	defer cancel()
	for {
		select {
		case d := <-c.Leg.Digits():
			if d == '#' {
				c.Leg.Flush()
				return nil
			}
		default:
		}
		f, err := c.Leg.ReadFrame(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := c.Leg.WriteFrame(ctx, f); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
	}
}

// message records the caller after the tone until #, a long silence or the
// limit.
func (m *Menu) message(ctx context.Context, c Call) error {
	if err := playAll(ctx, c.Leg, m.prompts.Record); err != nil {
		return err
	}
	if err := playAll(ctx, c.Leg, m.prompts.Beep); err != nil {
		return err
	}
	rec, err := media.NewRecorder(c.MessagePath, c.Leg.SampleRate(), 1)
	if err != nil {
		return fmt.Errorf("record message: %w", err)
	}
	why, err := m.recordUntilDone(ctx, c.Leg, rec)
	if cerr := rec.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("record message: %w", cerr)
	}
	c.Log.Info("message recorded", "path", filepath.Clean(rec.Path()),
		"seconds", float64(rec.Samples())/float64(c.Leg.SampleRate()), "ended_by", why)
	return err
}

func (m *Menu) recordUntilDone(ctx context.Context, leg media.Leg, rec *media.Recorder) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.MessageLimit)
	defer cancel()
	silentFrames, maxSilent := 0, int(m.cfg.MessageSilence/media.FrameDuration)
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
