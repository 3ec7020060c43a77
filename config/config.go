// Package config is Hotline's one YAML file: every setting with a default, so
// the server runs with no file at all. Each package owns its own section's
// struct and defaults; this package puts them together. Secrets never live
// here: a setting names the environment variable that holds one.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/asr"
	"github.com/hotline-cc/hotline/campaign"
	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/dialog/llm"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
	"github.com/hotline-cc/hotline/tts"
	"github.com/hotline-cc/hotline/webrtc"
)

// Config is the whole configuration file.
type Config struct {
	// Node names this server in the call records; default the host name.
	Node      string         `yaml:"node"`
	Log       Log            `yaml:"log"`
	SIP       sip.Config     `yaml:"sip"`
	IVR       ivr.Config     `yaml:"ivr"`
	ASR       asr.Config     `yaml:"asr"`
	TTS       tts.Config     `yaml:"tts"`
	Emotion   prosody.Config `yaml:"emotion"`
	Dialog    dialog.Config  `yaml:"dialog"`
	LLM       llm.Config     `yaml:"llm"`
	Recording Recording      `yaml:"recording"`
	Store     store.Config   `yaml:"store"`
	Routing   routing.Config `yaml:"routing"`
	API       api.Config     `yaml:"api"`
	WebRTC    webrtc.Config  `yaml:"webrtc"`

	// Campaigns is where outbound campaign calls go.
	Campaigns campaign.Config `yaml:"campaigns"`
}

// Log configures the structured log.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is text or json. Default text.
	Format string `yaml:"format"`
}

// Recording configures call recordings.
type Recording struct {
	// Dir is where recordings are written, one stereo WAV per call (caller
	// left, Hotline right) and one mono WAV per message. Default "recordings".
	Dir string `yaml:"dir"`
	// Calls records every call in full. Default true.
	Calls bool `yaml:"calls"`
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Log:       Log{Level: "info", Format: "text"},
		SIP:       sip.DefaultConfig(),
		IVR:       ivr.DefaultConfig(),
		ASR:       asr.DefaultConfig(),
		TTS:       tts.DefaultConfig(),
		Emotion:   prosody.DefaultConfig(),
		Dialog:    dialog.DefaultConfig(),
		LLM:       llm.DefaultConfig(),
		Recording: Recording{Dir: "recordings", Calls: true},
		Store:     store.DefaultConfig(),
		Routing:   routing.DefaultConfig(),
		API:       api.DefaultConfig(),
		WebRTC:    webrtc.DefaultConfig(),
		Campaigns: campaign.DefaultConfig(),
	}
}

// Load reads the file at path over the defaults; an empty path means
// defaults only.
func Load(path string) (Config, error) {
	if path == "" {
		c := Default()
		return c, c.Validate()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML over the defaults. Unknown keys are errors, so a typo
// does not silently leave a default in place.
func Parse(data []byte) (Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate reports the first setting Hotline cannot run with.
func (c Config) Validate() error {
	if _, err := c.Log.SlogLevel(); err != nil {
		return err
	}
	if f := c.Log.Format; f != "text" && f != "json" {
		return fmt.Errorf("log.format %q: want text or json", f)
	}
	if c.Recording.Dir == "" {
		return errors.New("recording.dir must not be empty")
	}
	if err := c.SIP.Validate(); err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	if err := c.WebRTC.Validate(); err != nil {
		return err
	}
	if err := c.API.Validate(); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if err := c.Campaigns.Validate(); err != nil {
		return err
	}
	if err := c.Routing.Validate(); err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	if err := c.Store.Validate(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := c.Dialog.Validate(); err != nil {
		return err
	}
	if c.Dialog.Brain == dialog.BrainLLM {
		if err := c.LLM.Validate(); err != nil {
			return fmt.Errorf("llm: %w", err)
		}
	}
	if err := c.Emotion.Validate(); err != nil {
		return fmt.Errorf("emotion: %w", err)
	}
	if err := c.IVR.Validate(); err != nil {
		return err
	}
	if err := c.ASR.Validate(); err != nil {
		return err
	}
	return c.TTS.Validate()
}

// SlogLevel parses Level.
func (l Log) SlogLevel() (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(l.Level))); err != nil {
		return 0, fmt.Errorf("log.level %q: want debug, info, warn or error", l.Level)
	}
	return lv, nil
}

// Logger builds the process logger writing to w.
func (l Log) Logger(w io.Writer) *slog.Logger {
	lv, _ := l.SlogLevel()
	opts := &slog.HandlerOptions{Level: lv}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
