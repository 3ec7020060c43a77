//go:build !cgo

package tts

import "log/slog"

func newEmbedded(voice string, _ *slog.Logger) (Synthesizer, error) {
	if err := checkEmbeddedVoice(voice); err != nil {
		return nil, err
	}
	return nil, ErrEmbeddedUnavailable
}
