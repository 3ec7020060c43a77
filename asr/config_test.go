package asr

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultConfig(t *testing.T) {
	t.Setenv(EnvBaseURL, "")
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Provider != "embedded" || c.Fallback != "" || c.Language != "en" ||
		c.OpenAI.Model != "whisper-1" || c.OpenAI.BaseURL != "https://api.openai.com/v1" || c.OpenAI.Timeout != 3*time.Second ||
		c.Embedded.ModelDir != "/usr/share/pocketsphinx/model/en-us/en-us" ||
		c.Embedded.Dict != "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict" {
		t.Errorf("defaults %+v", c)
	}
	t.Setenv(EnvBaseURL, "http://127.0.0.1:8000/v1")
	if got := DefaultConfig().OpenAI.BaseURL; got != "http://127.0.0.1:8000/v1" {
		t.Errorf("base URL from the environment: %q", got)
	}
}

func TestConfigYAML(t *testing.T) {
	c := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(`
provider: openai
fallback: embedded
language: zh
embedded:
  model_dir: /opt/model
  dict: /opt/model/words.dict
  lm: ""
  idle: 2
  rejection: 30
openai:
  model: gpt-4o-mini-transcribe
  base_url: http://10.0.0.5:8000/v1
  language: zh
  timeout: 1500ms
`)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	want := Config{Provider: "openai", Fallback: "embedded", Language: "zh",
		Embedded: EmbeddedConfig{ModelDir: "/opt/model", Dict: "/opt/model/words.dict", Idle: 2, Rejection: 30},
		OpenAI:   OpenAIConfig{Model: "gpt-4o-mini-transcribe", BaseURL: "http://10.0.0.5:8000/v1", Language: "zh", Timeout: 1500 * time.Millisecond}}
	if c != want {
		t.Errorf("decoded %+v\nwant    %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Provider = "whisper" }, `asr.provider "whisper"`},
		{func(c *Config) { c.Fallback = "google" }, `asr.fallback "google"`},
		{func(c *Config) { c.Fallback = "embedded" }, "same as asr.provider"},
		{func(c *Config) { c.Language = "" }, "asr.language"},
		{func(c *Config) { c.Embedded.ModelDir = "" }, "model_dir"},
		{func(c *Config) { c.Embedded.Idle = -1 }, "idle"},
		{func(c *Config) { c.Embedded.Rejection = -1 }, "rejection"},
		{func(c *Config) { c.Provider = "openai"; c.OpenAI.Model = "" }, "asr.openai.model"},
		{func(c *Config) { c.Provider = "openai"; c.OpenAI.BaseURL = "api.openai.com" }, "base_url"},
		{func(c *Config) { c.Fallback = "openai"; c.OpenAI.Timeout = 0 }, "timeout"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one about %s", err, c.want)
		}
	}
	// Settings of a provider not in use are not checked.
	cfg := DefaultConfig()
	cfg.OpenAI.BaseURL = ""
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}

func TestNewOpenAIFromConfig(t *testing.T) {
	t.Setenv(EnvAPIKey, "")
	cfg := DefaultConfig()
	cfg.Provider = "openai"
	cfg.Language = "zh"
	var logs strings.Builder
	r, err := New(cfg, slogTo(&logs))
	if err != nil {
		t.Fatal(err)
	}
	if r.Name() != "openai" || r.(*OpenAI).cfg.Language != "zh" {
		t.Errorf("%s, %+v", r.Name(), r.(*OpenAI).cfg)
	}
	if !strings.Contains(logs.String(), "OPENAI_API_KEY is not set") {
		t.Errorf("no warning about the key:\n%s", logs.String())
	}
	if _, err := New(Config{Provider: "nope", Language: "en"}, nil); err == nil {
		t.Error("unknown provider accepted")
	}
	if len(Providers()) < 2 {
		t.Errorf("providers %v", Providers())
	}
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
