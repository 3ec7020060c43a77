package llm

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultConfig(t *testing.T) {
	t.Setenv(envBaseURL, "")
	c := DefaultConfig()
	if c.BaseURL != "https://api.openai.com/v1" || c.Model != "gpt-4o-mini" || c.FirstTokenTimeout != 4*time.Second ||
		c.KeepTurns != 12 || c.KnowledgePassages != 3 || c.MaxToolRounds != 4 || len(c.Queues) != 0 || len(c.withDefaults().Queues) != 1 {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	for _, want := range []string{"caller's language", "short", "last four digits"} {
		if !strings.Contains(c.SystemPrompt, want) {
			t.Errorf("system prompt lacks %q", want)
		}
	}
	t.Setenv(envBaseURL, "http://localhost:8000/v1")
	if got := DefaultConfig().BaseURL; got != "http://localhost:8000/v1" {
		t.Errorf("base url from the environment: %q", got)
	}
}

func TestConfigFromYAML(t *testing.T) {
	c := DefaultConfig()
	err := yaml.Unmarshal([]byte(`
model: qwen2.5-7b-instruct
base_url: http://vllm:8000/v1
temperature: 0.2
max_tokens: 200
first_token_timeout: 2500ms
turn_timeout: 15s
system_prompt: You answer for Example Bank.
knowledge_passages: 5
keep_turns: 8
queues: [general, cards, fraud]
max_tool_rounds: 3
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Model: "qwen2.5-7b-instruct", BaseURL: "http://vllm:8000/v1", Temperature: 0.2, MaxTokens: 200,
		FirstTokenTimeout: 2500 * time.Millisecond, TurnTimeout: 15 * time.Second, SystemPrompt: "You answer for Example Bank.",
		KnowledgePassages: 5, KeepTurns: 8, Queues: []string{"general", "cards", "fraud"}, MaxToolRounds: 3,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.BaseURL = "api.openai.com" }, "llm.base_url"},
		{func(c *Config) { c.Temperature = 2.5 }, "llm.temperature"},
		{func(c *Config) { c.MaxTokens = -1 }, "llm.max_tokens"},
		{func(c *Config) { c.FirstTokenTimeout = -time.Second }, "llm.first_token_timeout"},
		{func(c *Config) { c.TurnTimeout = time.Second }, "llm.turn_timeout"},
		{func(c *Config) { c.KnowledgePassages = -2 }, "llm.knowledge_passages"},
		{func(c *Config) { c.KeepTurns = 1 }, "llm.keep_turns"},
		{func(c *Config) { c.Queues = []string{"general", " "} }, "llm.queues"},
		{func(c *Config) { c.Queues = []string{"cards", "cards"} }, "llm.queues"},
		{func(c *Config) { c.MaxToolRounds = -1 }, "llm.max_tool_rounds"},
	} {
		cfg := DefaultConfig()
		c.mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error about %s, got %v", c.want, err)
		}
		if _, err := New(cfg, Deps{}, nil); err == nil {
			t.Errorf("New accepted what Validate refuses (%s)", c.want)
		}
	}
	// Zero fields take the defaults.
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}
