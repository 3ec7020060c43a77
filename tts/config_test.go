package tts

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigDefaults(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Provider != "embedded" || c.Voice != "slt" || c.CacheDir != "cache/tts" || c.OpenAI.Model != "tts-1" ||
		c.OpenAI.Voice != "alloy" || c.OpenAI.Format != "pcm" || c.OpenAI.Timeout <= 0 || c.CacheMemoryMB <= 0 {
		t.Errorf("defaults %+v", c)
	}
}

func TestConfigYAML(t *testing.T) {
	c := DefaultConfig()
	src := `
provider: openai
fallback: embedded
voice: kal16
cache_dir: /var/cache/hotline/tts
cache_memory_mb: 16
cache_disk_mb: 200
openai:
  model: tts-1-hd
  voice: nova
  base_url: http://localhost:8880/v1
  timeout: 800ms
  format: wav
`
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Provider: "openai", Fallback: "embedded", Voice: "kal16", CacheDir: "/var/cache/hotline/tts",
		CacheMemoryMB: 16, CacheDiskMB: 200,
		OpenAI: OpenAIConfig{Model: "tts-1-hd", Voice: "nova", BaseURL: "http://localhost:8880/v1", Timeout: 800 * time.Millisecond, Format: "wav"},
	}
	if c != want {
		t.Errorf("decoded %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Provider = "espeak" }, "tts.provider"},
		{func(c *Config) { c.Fallback = "polly" }, "tts.fallback"},
		{func(c *Config) { c.Fallback = "embedded" }, "is the provider itself"},
		{func(c *Config) { c.Voice = "hal9000" }, `unknown embedded voice "hal9000"`},
		{func(c *Config) { c.CacheMemoryMB = -1 }, "must not be negative"},
		{func(c *Config) { c.Provider = "openai"; c.OpenAI.Model = "" }, "tts.openai.model"},
		{func(c *Config) { c.Provider = "openai"; c.OpenAI.Timeout = 0 }, "tts.openai.timeout"},
		{func(c *Config) { c.Provider = "openai"; c.OpenAI.Format = "mp3" }, "tts.openai.format"},
		{func(c *Config) { c.Provider = "openai"; c.Fallback = "embedded"; c.Voice = "x" }, "tts.voice"},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", c, err, tc.want)
		}
		if _, nerr := New(c, nil); nerr == nil {
			t.Errorf("New accepted %+v", c)
		}
	}
	// The embedded voice does not matter when only openai is used.
	c := DefaultConfig()
	c.Provider, c.Voice = "openai", ""
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}
