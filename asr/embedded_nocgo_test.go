//go:build !cgo

package asr

import (
	"strings"
	"testing"
)

func TestEmbeddedNotCompiledIn(t *testing.T) {
	_, err := New(DefaultConfig(), nil)
	if err == nil || !strings.Contains(err.Error(), "embedded recognizer not compiled in (built with CGO_ENABLED=0)") {
		t.Errorf("error %v", err)
	}
	cfg := DefaultConfig()
	cfg.Provider, cfg.Fallback = "openai", "embedded"
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "not compiled in") {
		t.Errorf("embedded fallback: %v", err)
	}
}
