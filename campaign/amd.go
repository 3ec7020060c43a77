package campaign

import (
	"context"
	"errors"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// Answering-machine detection times.
const (
	// amdWait is how long after the answer the callee may stay silent: a
	// person who says nothing is greeted all the same.
	amdWait = 3 * time.Second
	// amdPause is the pause that ends a person's "hello?"; a machine's
	// greeting runs on without one.
	amdPause = 500 * time.Millisecond
	// beepWait is the quiet that tells the greeting (and its beep) is over
	// and a message may start; beepMax bounds the wait for it.
	beepWait = 1500 * time.Millisecond
	beepMax  = 30 * time.Second
)

// DetectMachine listens right after the answer and guesses who answered:
// a greeting that runs longer than greeting without a pause is a
// machine's; a short "hello?" followed by a pause, or silence, is a
// person's. It reads the leg's frames itself, so it runs before the
// conversation starts.
func DetectMachine(ctx context.Context, leg media.Leg, greeting time.Duration) (bool, error) {
	u, err := media.Listen(ctx, leg, media.ListenOptions{NoInput: amdWait, MaxSpeech: greeting,
		VAD: media.VADConfig{EndSilence: amdPause}})
	switch {
	case errors.Is(err, media.ErrNoInput):
		return false, nil
	case err != nil:
		return false, err
	}
	return u.Truncated, nil
}

// AwaitBeep waits until a machine's greeting, and the beep after it, are
// over: beepWait of quiet, at most beepMax.
func AwaitBeep(ctx context.Context, leg media.Leg) error {
	ctx, cancel := context.WithTimeout(ctx, beepMax)
	defer cancel()
	for {
		_, err := media.Listen(ctx, leg, media.ListenOptions{NoInput: beepWait, MaxSpeech: beepMax,
			VAD: media.VADConfig{EndSilence: amdPause}})
		switch {
		case errors.Is(err, media.ErrNoInput):
			return nil
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			// Still talking after beepMax: speak anyway.
			return nil
		case err != nil:
			return err
		}
	}
}
