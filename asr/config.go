package asr

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config is the asr section of the configuration file.
type Config struct {
	// Provider is the recognizer used: embedded or openai. Default embedded.
	Provider string `yaml:"provider"`
	// Fallback, when set, is the provider that recognizes an utterance again
	// when Provider fails or times out on it; it must differ from Provider.
	Fallback string `yaml:"fallback"`
	// Language is the callers' language when a stream does not name one.
	// Default en.
	Language string         `yaml:"language"`
	Embedded EmbeddedConfig `yaml:"embedded"`
	OpenAI   OpenAIConfig   `yaml:"openai"`
}

// EmbeddedConfig configures the pocketsphinx recognizer. The defaults are
// where Debian's pocketsphinx-en-us package installs its model.
type EmbeddedConfig struct {
	// ModelDir is the acoustic model directory (holding mdef, means, ...).
	ModelDir string `yaml:"model_dir"`
	// Dict is the pronunciation dictionary; grammar words must be in it.
	Dict string `yaml:"dict"`
	// LM is the n-gram language model for open-vocabulary recognition of
	// wideband audio; empty disables open vocabulary.
	LM string `yaml:"lm"`
	// Idle is how many decoders are kept loaded for reuse between
	// utterances. Default 8.
	Idle int `yaml:"idle"`
	// Rejection is what each phone of the out-of-grammar (garbage) model
	// costs, in natural log units: lower rejects more speech outside the
	// grammar (and more inside it), higher rejects less; 0 turns rejection
	// off, so every utterance maps to its nearest phrase. Default 25,
	// measured on telephony audio: 96 % of menu phrases recognized, 87 % of
	// other sentences, noise and clipped speech rejected.
	Rejection float64 `yaml:"rejection"`
}

// OpenAIConfig configures the OpenAI-compatible recognizer. The API key is
// read from the environment variable OPENAI_API_KEY only.
type OpenAIConfig struct {
	// Model is the transcription model. Default whisper-1.
	Model string `yaml:"model"`
	// BaseURL of the API. Default $OPENAI_BASE_URL, else
	// https://api.openai.com/v1.
	BaseURL string `yaml:"base_url"`
	// Language is the hint sent with each utterance; empty means the asr
	// section's language.
	Language string `yaml:"language"`
	// Timeout bounds one transcription request. Default 3s.
	Timeout time.Duration `yaml:"timeout"`
}

// Debian's pocketsphinx-en-us model.
const (
	debianModelDir = "/usr/share/pocketsphinx/model/en-us/en-us"
	debianDict     = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
	debianLM       = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
)

const (
	defaultOpenAIURL   = "https://api.openai.com/v1"
	defaultOpenAIModel = "whisper-1"
	// EnvAPIKey holds the OpenAI-compatible API key.
	EnvAPIKey = "OPENAI_API_KEY"
	// EnvBaseURL overrides the default OpenAI-compatible base URL.
	EnvBaseURL = "OPENAI_BASE_URL"
)

// DefaultConfig returns the embedded recognizer, English, no fallback.
func DefaultConfig() Config {
	return Config{
		Provider: "embedded",
		Language: "en",
		Embedded: DefaultEmbeddedConfig(),
		OpenAI:   DefaultOpenAIConfig(),
	}
}

// DefaultEmbeddedConfig points at Debian's pocketsphinx-en-us files.
func DefaultEmbeddedConfig() EmbeddedConfig {
	return EmbeddedConfig{ModelDir: debianModelDir, Dict: debianDict, LM: debianLM, Idle: 8, Rejection: 25}
}

// DefaultOpenAIConfig is whisper-1 at $OPENAI_BASE_URL or OpenAI itself.
func DefaultOpenAIConfig() OpenAIConfig {
	base := os.Getenv(EnvBaseURL)
	if base == "" {
		base = defaultOpenAIURL
	}
	return OpenAIConfig{Model: defaultOpenAIModel, BaseURL: base, Timeout: 3 * time.Second}
}

// Validate reports the first setting the recognizers cannot run with. It
// does not open model files: New does.
func (c Config) Validate() error {
	names := Providers()
	if !slices.Contains(names, c.Provider) {
		return fmt.Errorf("asr.provider %q: want one of %s", c.Provider, strings.Join(names, ", "))
	}
	if c.Fallback != "" {
		if !slices.Contains(names, c.Fallback) {
			return fmt.Errorf("asr.fallback %q: want one of %s, or empty", c.Fallback, strings.Join(names, ", "))
		}
		if c.Fallback == c.Provider {
			return fmt.Errorf("asr.fallback %q: same as asr.provider", c.Fallback)
		}
	}
	if c.Language == "" {
		return errors.New("asr.language must not be empty")
	}
	uses := func(p string) bool { return c.Provider == p || c.Fallback == p }
	if uses("embedded") {
		if c.Embedded.ModelDir == "" || c.Embedded.Dict == "" {
			return errors.New("asr.embedded.model_dir and asr.embedded.dict must not be empty")
		}
		if c.Embedded.Idle < 0 {
			return fmt.Errorf("asr.embedded.idle %d: must not be negative", c.Embedded.Idle)
		}
		if c.Embedded.Rejection < 0 {
			return fmt.Errorf("asr.embedded.rejection %v: must not be negative", c.Embedded.Rejection)
		}
	}
	if uses("openai") {
		o := c.OpenAI
		if o.Model == "" {
			return errors.New("asr.openai.model must not be empty")
		}
		if !strings.HasPrefix(o.BaseURL, "http://") && !strings.HasPrefix(o.BaseURL, "https://") {
			return fmt.Errorf("asr.openai.base_url %q: want an http:// or https:// URL", o.BaseURL)
		}
		if o.Timeout <= 0 {
			return fmt.Errorf("asr.openai.timeout %v: must be positive", o.Timeout)
		}
	}
	return nil
}

// Factory builds a provider's Recognizer from the whole asr section.
type Factory func(cfg Config, log *slog.Logger) (Recognizer, error)

var registry struct {
	sync.Mutex
	m map[string]Factory
}

// Register makes a provider available to New under name. It panics on a
// duplicate name, like other registrations done at init.
func Register(name string, f Factory) {
	registry.Lock()
	defer registry.Unlock()
	if registry.m == nil {
		registry.m = make(map[string]Factory)
	}
	if _, dup := registry.m[name]; dup {
		panic("asr: provider " + name + " registered twice")
	}
	registry.m[name] = f
}

// Providers lists the registered provider names, sorted.
func Providers() []string {
	registry.Lock()
	defer registry.Unlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func factory(name string) Factory {
	registry.Lock()
	defer registry.Unlock()
	return registry.m[name]
}

// New builds the configured recognizer, wrapped in a Fallback when
// cfg.Fallback is set. Model files are opened here, so a missing package
// is a start-up error.
func New(cfg Config, log *slog.Logger) (Recognizer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	primary, err := factory(cfg.Provider)(cfg, log)
	if err != nil {
		return nil, err
	}
	if cfg.Fallback == "" {
		return primary, nil
	}
	fb, err := factory(cfg.Fallback)(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("asr fallback: %w", err)
	}
	return NewFallback(primary, fb, log), nil
}
