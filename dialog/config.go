package dialog

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hotline-cc/hotline/dialog/guard"
)

// The brains Config.Brain may name.
const (
	BrainMenu  = "menu"
	BrainRules = "rules"
	BrainLLM   = "llm"
)

// What Config.OnNoReply may name.
const (
	NoReplyRules    = "rules"
	NoReplyTransfer = "transfer"
)

// Config is the dialog section of the configuration file.
type Config struct {
	// Brain answers callers: rules (the embedded flow, offline), llm (an
	// OpenAI-compatible chat model, section llm) or menu (the key and
	// voice menu of section ivr, no dialog). Default rules.
	Brain string `yaml:"brain"`
	// Flow is the rule brain's YAML flow; the LLM brain falls back on it
	// and takes the recognizer's grammar from it. Default "": the sample
	// bank's flow built into the binary (examples/bank/flow.yaml).
	Flow string `yaml:"flow"`
	// Knowledge is the folder of Markdown articles both brains answer
	// from. It is followed while Hotline runs: a changed article answers
	// the next turn of every call, and one that does not load leaves the
	// previous articles serving. Articles put through the API are
	// written into it. Default "": the sample bank's articles built into
	// the binary (examples/bank/knowledge), which cannot be changed.
	Knowledge string `yaml:"knowledge"`
	// OnNoReply is what happens when the LLM gives no first token in time
	// or fails: rules answers the turn with the rule brain, transfer hands
	// the call to HumanQueue. Default rules.
	OnNoReply string `yaml:"on_no_reply"`
	// RedactForLLM keeps personal data (card numbers, phone numbers,
	// e-mail, identity numbers) out of what is sent to the LLM. What is
	// stored and logged is always redacted. Default true.
	RedactForLLM bool `yaml:"redact_for_llm"`
	// KeepTurns is how many recent turns the brains see word for word;
	// older ones are folded into a running summary. Default 12.
	KeepTurns int `yaml:"keep_turns"`
	// HumanQueue takes callers who ask for a person or stay upset.
	// Default general.
	HumanQueue string `yaml:"human_queue"`
	// CrisisQueue takes callers at risk of harming themselves, at once,
	// with a supervisor alert. Default crisis.
	CrisisQueue string `yaml:"crisis_queue"`
	// CrisisMessage is said before that transfer. Default: a short, safe
	// message that a person is coming.
	CrisisMessage string `yaml:"crisis_message"`
	// Mood says when sustained anger or anxiety offers a person, then
	// transfers.
	Mood guard.MoodConfig `yaml:"mood"`
}

// DefaultConfig is the rule brain on the sample bank.
func DefaultConfig() Config {
	return Config{
		Brain:        BrainRules,
		OnNoReply:    NoReplyRules,
		RedactForLLM: true,
		KeepTurns:    12,
		HumanQueue:   "general",
		CrisisQueue:  "crisis",
		CrisisMessage: "I am really sorry you are going through this. You do not have to go through it alone. " +
			"I am connecting you with a person right now; please stay on the line.",
		Mood: guard.DefaultMoodConfig(),
	}
}

// Validate reports the first setting the dialog cannot run with.
func (c Config) Validate() error {
	switch {
	case !slices.Contains([]string{BrainMenu, BrainRules, BrainLLM}, c.Brain):
		return fmt.Errorf("dialog.brain %q: want rules, llm or menu", c.Brain)
	case c.Brain == BrainMenu:
		return nil
	case c.OnNoReply != NoReplyRules && c.OnNoReply != NoReplyTransfer:
		return fmt.Errorf("dialog.on_no_reply %q: want rules or transfer", c.OnNoReply)
	case c.KeepTurns < 2:
		return errors.New("dialog.keep_turns must be at least 2")
	case c.HumanQueue == "", c.CrisisQueue == "":
		return errors.New("dialog.human_queue and dialog.crisis_queue must not be empty")
	case c.CrisisMessage == "":
		return errors.New("dialog.crisis_message must not be empty")
	}
	if err := c.Mood.Validate(); err != nil {
		return fmt.Errorf("dialog.mood: %w", err)
	}
	return nil
}
