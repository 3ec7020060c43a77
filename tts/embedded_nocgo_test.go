//go:build !cgo

package tts

import (
	"errors"
	"testing"
)

func TestEmbeddedNotCompiledIn(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CacheDir = ""
	_, err := New(cfg, nil)
	if !errors.Is(err, ErrEmbeddedUnavailable) || err.Error() != "tts: embedded synthesizer not compiled in (built with CGO_ENABLED=0)" {
		t.Fatalf("New embedded without cgo: %v", err)
	}
	cfg.Voice = "hal9000"
	if _, err := New(cfg, nil); err == nil || errors.Is(err, ErrEmbeddedUnavailable) {
		t.Fatalf("an unknown voice should be named before the missing engine: %v", err)
	}
}
