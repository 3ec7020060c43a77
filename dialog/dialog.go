// Package dialog is the conversation: what Hotline says back to a caller, and
// when a person must take over.
//
// A Brain decides the replies. Two exist: the LLM brain (dialog/llm), which
// talks with any OpenAI-compatible chat endpoint and calls tools, and the
// embedded rule brain (dialog/rules), a YAML flow of intents and a
// knowledge base that runs offline. Each call opens a Session of the brain;
// the session keeps what it needs between turns (the flow's state, the
// model's pending tool call).
//
// The Conversation is the call's memory shared by whichever brain answers a
// turn: who the caller is, their emotion, the turns so far with the older
// ones folded into a running summary.
package dialog

import (
	"context"
	"errors"
	"time"

	"github.com/hotline-cc/hotline/prosody"
)

// Speaker says who said a turn.
type Speaker string

// The speakers.
const (
	Caller Speaker = "caller"
	Bot    Speaker = "hotline"
)

// Profile is who the caller is, from the customer directory (keyed by the
// caller's number).
type Profile struct {
	Number string `json:"number" yaml:"number"`
	Name   string `json:"name,omitempty" yaml:"name"`
	// Tier is the customer's service tier; empty for an ordinary caller,
	// anything else ("gold", "private") marks a VIP.
	Tier string `json:"tier,omitempty" yaml:"tier"`
	// Advisor is the id of a VIP's dedicated advisor, if any.
	Advisor string `json:"advisor,omitempty" yaml:"advisor"`
	// Language is the caller's preferred language (en, zh), if known.
	Language string `json:"language,omitempty" yaml:"language"`
	// Purpose is why Hotline called them, on a call it placed: the
	// campaign's instructions for the model, the contact's details filled
	// in.
	Purpose string `json:"purpose,omitempty" yaml:"-"`
}

// VIP reports whether the caller has a service tier.
func (p Profile) VIP() bool { return p.Tier != "" }

// Input is one turn of the caller's.
type Input struct {
	// Text is what the recognizer heard, with personal data already
	// redacted when the manager is configured to keep it from the brain.
	Text string
	// Digits are keys the caller pressed instead of speaking, or the
	// digits an Action of kind CollectDigits asked for.
	Digits string
	// Emotion is the cue of the caller's voice and words; nil when the
	// turn was keys only.
	Emotion *prosody.Cue
	// Language of the turn (en, zh), when the recognizer knows it.
	Language string
}

// Kind is what an Action does.
type Kind int

// The kinds of action a brain can take.
const (
	// Say speaks Text, one sentence: a brain emits each sentence as soon
	// as it is complete, so the caller hears the first while the rest is
	// being made.
	Say Kind = iota + 1
	// Transfer hands the call to Queue with Reason; Summary tells the agent
	// what the call is about.
	Transfer
	// CollectDigits speaks Text and collects up to MaxDigits keys; they
	// come back as the next Input's Digits.
	CollectDigits
	// Hangup ends the call after speaking Text, if any, for Reason.
	Hangup
)

func (k Kind) String() string {
	switch k {
	case Say:
		return "say"
	case Transfer:
		return "transfer"
	case CollectDigits:
		return "collect_digits"
	case Hangup:
		return "hangup"
	}
	return "unknown"
}

// Action is one thing a brain wants done.
type Action struct {
	Kind      Kind
	Text      string
	Queue     string
	Reason    string
	Summary   string
	MaxDigits int
	// Intent is the flow's intent the reply serves, when the brain knows
	// one: the call's record keeps it, for reviewing the answers by
	// intent.
	Intent string
	// Cite, on a Say, names the knowledge article the sentence is from.
	Cite *Citation
}

// Citation names the version of a knowledge article an answer came from,
// so the call's record tells which text the caller heard.
type Citation struct {
	Article string `json:"article"`
	Version int    `json:"version"`
}

// Turn is one entry of the conversation's memory.
type Turn struct {
	Speaker Speaker
	// Text is what was said, personal data redacted. A reply the caller
	// interrupted holds only what was spoken before they did.
	Text string
	// Emotion is the caller's cue for the turn; nil for Hotline's turns.
	Emotion *prosody.Cue
	// At is when the turn began, from the start of the call.
	At time.Duration
}

// Conversation is a call's memory. It belongs to the call's session: it is
// not safe for concurrent use, and a brain reads it only inside Respond.
type Conversation struct {
	CallID  string
	Profile Profile
	// Language is the conversation's language, en or zh.
	Language string
	// Turns are every turn so far, oldest first.
	Turns []Turn
	// Summary holds the turns before Folded, condensed; the brains see it
	// in place of those turns.
	Summary string
	Folded  int
}

// Recent returns the turns not folded into the summary.
func (c *Conversation) Recent() []Turn { return c.Turns[c.Folded:] }

// Emotion returns the latest cue of the caller's, nil before one.
func (c *Conversation) Emotion() *prosody.Cue {
	for i := len(c.Turns) - 1; i >= 0; i-- {
		if e := c.Turns[i].Emotion; e != nil {
			return e
		}
	}
	return nil
}

// Brain decides Hotline's replies.
type Brain interface {
	// Name identifies the brain in logs and records: "rules", "llm".
	Name() string
	// NewSession opens the brain for one call.
	NewSession(c *Conversation) Session
}

// Session is a brain's side of one call.
type Session interface {
	// Respond answers the caller's turn, already appended to the
	// conversation. It calls emit for each action as soon as it is
	// decided, in order, and returns when the reply is complete. When emit
	// returns an error (the caller talked over the reply, or hung up)
	// Respond stops and returns that error, wrapped or not.
	Respond(ctx context.Context, in Input, emit func(Action) error) error
}

// Grammar is implemented by sessions that know what the caller may say
// next, for a recognizer that needs a grammar (the embedded one on
// telephone audio).
type Grammar interface {
	Grammar() []string
}

// Summarizer condenses turns into a running summary.
type Summarizer interface {
	// Summarize returns prev extended with what turns add.
	Summarize(ctx context.Context, prev string, turns []Turn) (string, error)
}

// ErrNoReply is returned by a session that produced nothing in time (no
// first token from a model): the manager falls back.
var ErrNoReply = errors.New("dialog: no reply in time")
