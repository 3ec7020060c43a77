package llm

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Config is the llm brain's section of the configuration file. The API key
// is read from the environment variable OPENAI_API_KEY only.
type Config struct {
	// Model is the chat model. Default gpt-4o-mini.
	Model string `yaml:"model"`
	// BaseURL of the API. Default $OPENAI_BASE_URL, else
	// https://api.openai.com/v1.
	BaseURL string `yaml:"base_url"`
	// Temperature of the replies, 0..2. Default 0.3. 0 sends none, so the
	// provider's own default applies.
	Temperature float32 `yaml:"temperature"`
	// MaxTokens bounds one reply of the model. Default 300.
	MaxTokens int `yaml:"max_tokens"`
	// FirstTokenTimeout is how long a caller may wait for the first word
	// (or tool call) of a reply before the brain gives up on the model
	// and the call falls back. Default 4s.
	FirstTokenTimeout time.Duration `yaml:"first_token_timeout"`
	// TurnTimeout bounds a whole turn, tool round trips included.
	// Default 20s.
	TurnTimeout time.Duration `yaml:"turn_timeout"`
	// SystemPrompt tells the model who it is: company, persona,
	// languages, policies. Default: a bank's hotline, see
	// DefaultSystemPrompt.
	SystemPrompt string `yaml:"system_prompt"`
	// KnowledgePassages is how many knowledge passages are retrieved for
	// each turn, and for each lookup_knowledge call. Default 3.
	KnowledgePassages int `yaml:"knowledge_passages"`
	// KeepTurns is the memory window: at most this many of the turns not
	// yet folded into the call's summary go to the model word for word,
	// so a turn's prompt stays bounded however long the call. Default 12,
	// as the dialog's keep_turns, which folds older turns away; a smaller
	// window leaves the turns between out of the request.
	KeepTurns int `yaml:"keep_turns"`
	// Queues are the agent queues transfer_to_agent may name. Default
	// empty: the server gives the routing section's queues (a brain made
	// on its own takes [general]).
	Queues []string `yaml:"queues"`
	// MaxToolRounds bounds the round trips of tool results to the model
	// within one turn; the last request allows no more tool calls.
	// Default 4.
	MaxToolRounds int `yaml:"max_tool_rounds"`
}

// The environment, read as the asr and tts providers read it.
const (
	envAPIKey  = "OPENAI_API_KEY"
	envBaseURL = "OPENAI_BASE_URL"
)

const defaultBaseURL = "https://api.openai.com/v1"

// DefaultSystemPrompt is a retail bank's hotline, in English, answering in
// the caller's language.
const DefaultSystemPrompt = `You are the voice assistant of a retail bank's customer hotline. You are on a telephone call: everything you write is spoken to the caller by a speech synthesizer.

- Answer in the caller's language: if they speak Chinese, answer in Chinese; if English, in English.
- Keep replies short and speakable: one to three short sentences, plain words, no lists, markdown, emoji or links. Say amounts, dates and times as a person would say them.
- Never read back a full card or account number, and never ask for a PIN, password or one-time code. Refer to a card or account by its last four digits only.
- Take facts about the bank's products, fees and procedures only from the knowledge passages you are given or find with lookup_knowledge. If they do not answer the question, say so and offer to transfer the caller to an agent.
- You cannot move money, block or unblock cards, or change account details yourself. For those, for complaints, suspected fraud, or when the caller asks for a person, transfer the call with transfer_to_agent.
- To get a number from the caller, such as the last four digits of a card or a menu choice, use collect_digits so they can key it in.
- When the caller has what they need, say a short goodbye and call end_call.`

// DefaultConfig returns gpt-4o-mini at $OPENAI_BASE_URL or OpenAI itself,
// with the bank hotline prompt.
func DefaultConfig() Config {
	base := os.Getenv(envBaseURL)
	if base == "" {
		base = defaultBaseURL
	}
	return Config{
		Model:             "gpt-4o-mini",
		BaseURL:           base,
		Temperature:       0.3,
		MaxTokens:         300,
		FirstTokenTimeout: 4 * time.Second,
		TurnTimeout:       20 * time.Second,
		SystemPrompt:      DefaultSystemPrompt,
		KnowledgePassages: 3,
		KeepTurns:         12,
		MaxToolRounds:     4,
	}
}

// withDefaults fills the zero fields from DefaultConfig, so a partly
// written Config works.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Model == "" {
		c.Model = d.Model
	}
	if c.BaseURL == "" {
		c.BaseURL = d.BaseURL
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = d.MaxTokens
	}
	if c.FirstTokenTimeout == 0 {
		c.FirstTokenTimeout = d.FirstTokenTimeout
	}
	if c.TurnTimeout == 0 {
		c.TurnTimeout = d.TurnTimeout
	}
	if strings.TrimSpace(c.SystemPrompt) == "" {
		c.SystemPrompt = d.SystemPrompt
	}
	if c.KnowledgePassages == 0 {
		c.KnowledgePassages = d.KnowledgePassages
	}
	if c.KeepTurns == 0 {
		c.KeepTurns = d.KeepTurns
	}
	if len(c.Queues) == 0 {
		c.Queues = []string{"general"}
	}
	if c.MaxToolRounds == 0 {
		c.MaxToolRounds = d.MaxToolRounds
	}
	return c
}

// Validate reports the first setting the brain cannot run with; zero
// fields are fine, they take the defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://"):
		return fmt.Errorf("llm.base_url %q: want an http:// or https:// URL", c.BaseURL)
	case c.Temperature < 0 || c.Temperature > 2:
		return fmt.Errorf("llm.temperature %v: want 0 to 2", c.Temperature)
	case c.MaxTokens < 0:
		return fmt.Errorf("llm.max_tokens %d: must not be negative", c.MaxTokens)
	case c.FirstTokenTimeout < 0:
		return fmt.Errorf("llm.first_token_timeout %v: must be positive", c.FirstTokenTimeout)
	case c.TurnTimeout < c.FirstTokenTimeout:
		return fmt.Errorf("llm.turn_timeout %v: must be at least first_token_timeout %v", c.TurnTimeout, c.FirstTokenTimeout)
	case c.KnowledgePassages < 0:
		return fmt.Errorf("llm.knowledge_passages %d: must not be negative", c.KnowledgePassages)
	case c.KeepTurns < 2:
		return fmt.Errorf("llm.keep_turns %d: must be at least 2", c.KeepTurns)
	case c.MaxToolRounds < 0:
		return fmt.Errorf("llm.max_tool_rounds %d: must not be negative", c.MaxToolRounds)
	}
	seen := make(map[string]bool, len(c.Queues))
	for _, q := range c.Queues {
		if strings.TrimSpace(q) == "" {
			return errors.New("llm.queues: a queue name is empty")
		}
		if seen[q] {
			return fmt.Errorf("llm.queues: %q twice", q)
		}
		seen[q] = true
	}
	return nil
}
