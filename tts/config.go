package tts

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Providers, by the names the configuration uses.
const (
	ProviderEmbedded = "embedded"
	ProviderOpenAI   = "openai"
)

// Config is the tts section of the configuration file.
type Config struct {
	// Provider is "embedded" (flite, offline) or "openai" (any
	// OpenAI-compatible speech endpoint). Default "embedded".
	Provider string `yaml:"provider"`
	// Fallback is the provider used when Provider errors or does not
	// start within its timeout: "" (none), "embedded" or "openai".
	Fallback string `yaml:"fallback"`
	// Voice is the embedded voice: slt (default), rms, awb, kal16 or kal.
	Voice string `yaml:"voice"`
	// CacheDir holds synthesized prompts across restarts; "" keeps no disk
	// cache. Default "cache/tts".
	CacheDir string `yaml:"cache_dir"`
	// CacheMemoryMB bounds the in-memory prompt cache; 0 disables it.
	// Default 32 (about 35 minutes of 8 kHz audio).
	CacheMemoryMB int `yaml:"cache_memory_mb"`
	// CacheDiskMB bounds CacheDir; the least recently used files go first.
	// Default 1024.
	CacheDiskMB int `yaml:"cache_disk_mb"`
	// OpenAI configures the OpenAI-compatible provider.
	OpenAI OpenAIConfig `yaml:"openai"`
}

// DefaultConfig returns the embedded voice slt with the cache on.
func DefaultConfig() Config {
	return Config{
		Provider:      ProviderEmbedded,
		Voice:         "slt",
		CacheDir:      "cache/tts",
		CacheMemoryMB: 32,
		CacheDiskMB:   1024,
		OpenAI: OpenAIConfig{
			Model:   "tts-1",
			Voice:   "alloy",
			Timeout: 1500 * time.Millisecond,
			Format:  "pcm",
		},
	}
}

// Validate reports settings the synthesizer cannot run with.
func (c Config) Validate() error {
	known := func(p string) bool { return p == ProviderEmbedded || p == ProviderOpenAI }
	switch {
	case !known(c.Provider):
		return fmt.Errorf("tts.provider %q: want embedded or openai", c.Provider)
	case c.Fallback != "" && !known(c.Fallback):
		return fmt.Errorf("tts.fallback %q: want embedded, openai or empty", c.Fallback)
	case c.Fallback == c.Provider:
		return fmt.Errorf("tts.fallback %q is the provider itself", c.Fallback)
	case c.CacheMemoryMB < 0 || c.CacheDiskMB < 0:
		return errors.New("tts.cache_memory_mb and tts.cache_disk_mb must not be negative")
	}
	if c.uses(ProviderEmbedded) {
		if err := checkEmbeddedVoice(c.Voice); err != nil {
			return fmt.Errorf("tts.voice: %w", err)
		}
	}
	if c.uses(ProviderOpenAI) {
		switch {
		case c.OpenAI.Model == "" || c.OpenAI.Voice == "":
			return errors.New("tts.openai.model and tts.openai.voice must be set")
		case c.OpenAI.Timeout <= 0:
			return errors.New("tts.openai.timeout must be positive")
		case c.OpenAI.Format != "pcm" && c.OpenAI.Format != "wav":
			return fmt.Errorf("tts.openai.format %q: want pcm or wav", c.OpenAI.Format)
		}
	}
	return nil
}

func (c Config) uses(p string) bool { return c.Provider == p || c.Fallback == p }

// New returns the configured provider behind the prompt cache, and behind
// the fallback wrapper when a fallback is configured (each provider with
// its own cache entries, so a fallback's audio is never served as the
// primary's). The Synthesizer returned is also an io.Closer: Close, at
// shutdown, waits for the cache's disk writes in progress and drops idle
// connections.
func New(cfg Config, log *slog.Logger) (Synthesizer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var cache *Cache
	if cfg.CacheMemoryMB > 0 || (cfg.CacheDir != "" && cfg.CacheDiskMB > 0) {
		dir := cfg.CacheDir
		if cfg.CacheDiskMB == 0 {
			dir = ""
		}
		var err error
		if cache, err = NewCache(dir, cfg.CacheMemoryMB, cfg.CacheDiskMB, log); err != nil {
			return nil, err
		}
	}
	build := func(name string) (Synthesizer, time.Duration, error) {
		var s Synthesizer
		var err error
		timeout := embeddedFirstAudio
		switch name {
		case ProviderEmbedded:
			s, err = newEmbedded(cfg.Voice, log)
		case ProviderOpenAI:
			s, err = newOpenAI(cfg.OpenAI, log)
			timeout = cfg.OpenAI.Timeout
		}
		if err != nil {
			return nil, 0, err
		}
		if cache != nil {
			s = Cached(s, cache)
		}
		return s, timeout, nil
	}
	s, timeout, err := build(cfg.Provider)
	if err != nil {
		return nil, err
	}
	if cfg.Fallback == "" {
		return s, nil
	}
	fb, _, err := build(cfg.Fallback)
	if err != nil {
		return nil, fmt.Errorf("tts fallback: %w", err)
	}
	return WithFallback(s, fb, timeout, log), nil
}
