package dialog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/dialog/guard"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/redact"
)

// Manager puts the guardrails and the call's memory around the brains:
// whichever brain answers, a caller at risk goes to a person at once, a
// caller who asks for a person gets one, a caller who stays upset is
// offered one, and personal data never reaches the memory (nor, by
// default, the model).
type Manager struct {
	cfg      Config
	primary  Brain
	fallback Brain
	// summs condense the memory: the primary brain's, then the fallback's
	// when the first fails.
	summs []Summarizer
}

// summarizeWait bounds a summary from a brain that has another behind it:
// a model that is down must not hold up a transfer.
const summarizeWait = 3 * time.Second

// NewManager returns a manager answering with primary. fallback (the rule
// brain behind an LLM) answers the turns primary cannot; nil when primary
// is the rule brain itself.
func NewManager(cfg Config, primary, fallback Brain) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if primary == nil {
		return nil, errors.New("dialog: no brain")
	}
	m := &Manager{cfg: cfg, primary: primary, fallback: fallback}
	for _, b := range []Brain{primary, fallback} {
		if s, ok := b.(Summarizer); ok {
			m.summs = append(m.summs, s)
		}
	}
	return m, nil
}

// Brain names the primary brain.
func (m *Manager) Brain() string { return m.primary.Name() }

// Call is the manager's side of one call. It belongs to the call's
// session and is not safe for concurrent use.
type Call struct {
	m    *Manager
	conv *Conversation
	log  *slog.Logger
	mood *guard.Mood

	primary, fallback Session
	// offered is set once a person was offered for the caller's mood: a
	// yes on the next turn accepts.
	offered bool
	// OnCrisis, if set, is told of a caller at risk, for the supervisors'
	// alert.
	OnCrisis func(Crisis)
}

// Crisis is a caller at risk, as the supervisors' alert tells it.
type Crisis struct {
	CallID string
	// Phrase is what the caller said that shows it, redacted.
	Phrase string
	At     time.Duration
}

// Start opens the brains for one call.
func (m *Manager) Start(callID string, p Profile, log *slog.Logger) *Call {
	lang := p.Language
	if lang == "" {
		lang = "en"
	}
	conv := &Conversation{CallID: callID, Profile: p, Language: lang}
	c := &Call{m: m, conv: conv, log: log, mood: guard.NewMood(m.cfg.Mood), primary: m.primary.NewSession(conv)}
	if m.fallback != nil {
		c.fallback = m.fallback.NewSession(conv)
	}
	return c
}

// Conversation is the call's memory.
func (c *Call) Conversation() *Conversation { return c.conv }

// Grammar is what the caller may say next, for a recognizer that needs a
// grammar: what the brain expects, and what the guardrails act on.
func (c *Call) Grammar() []string {
	var g []string
	for _, s := range []Session{c.primary, c.fallback} {
		if gs, ok := s.(Grammar); ok {
			g = gs.Grammar()
			break
		}
	}
	g = append(slices.Clone(g), guard.Phrases...)
	slices.Sort(g)
	return slices.Compact(g)
}

// Greeting is what the brain opens the call with; empty when it has
// nothing of its own to say (the recorded greeting plays).
func (c *Call) Greeting() string {
	for _, s := range []Session{c.primary, c.fallback} {
		if g, ok := s.(interface{ Greeting() string }); ok {
			return g.Greeting()
		}
	}
	return ""
}

// errEmit marks an error of the caller's emit, so it is told apart from
// a brain's failure.
type errEmit struct{ err error }

func (e errEmit) Error() string { return e.err.Error() }
func (e errEmit) Unwrap() error { return e.err }

// Turn answers one turn of the caller's, at when it began. in.Text is the
// transcript as recognized; the memory keeps it redacted. Actions go to
// emit as the brain decides them; an error from emit (the caller talked
// over the reply) stops the turn and is returned.
func (c *Call) Turn(ctx context.Context, in Input, at time.Duration, emit func(Action) error) error {
	clean := redact.Redact(in.Text)
	if clean != "" || in.Digits != "" {
		text := clean
		if text == "" {
			text = "[keys " + in.Digits + "]"
		}
		c.conv.Turns = append(c.conv.Turns, Turn{Speaker: Caller, Text: text, Emotion: in.Emotion, At: at})
	}
	if in.Language != "" {
		c.conv.Language = in.Language
	}
	var said []string
	out := func(a Action) error {
		if a.Kind == Transfer && a.Summary == "" {
			a.Summary = c.Summary(ctx)
		}
		if a.Kind == Say || a.Kind == CollectDigits || a.Kind == Hangup && a.Text != "" {
			said = append(said, a.Text)
		}
		if err := emit(a); err != nil {
			return errEmit{err}
		}
		return nil
	}
	err := c.answer(ctx, in, clean, out)
	if len(said) > 0 {
		c.conv.Turns = append(c.conv.Turns, Turn{Speaker: Bot, Text: redact.Redact(strings.Join(said, " ")), At: at})
	}
	c.fold(ctx)
	var ee errEmit
	if errors.As(err, &ee) {
		return ee.err
	}
	return err
}

func (c *Call) answer(ctx context.Context, in Input, clean string, out func(Action) error) error {
	cfg := c.m.cfg
	lang := c.conv.Language
	if cr, ok := guard.DetectCrisis(in.Text); ok {
		phrase := redact.Redact(cr.Phrase)
		c.log.Warn("crisis: caller at risk, transferring to a person", "alert", "crisis", "phrase", phrase,
			"queue", cfg.CrisisQueue)
		if c.OnCrisis != nil {
			c.OnCrisis(Crisis{CallID: c.conv.CallID, Phrase: phrase, At: c.lastAt()})
		}
		if err := out(Action{Kind: Say, Text: c.crisisMessage(lang)}); err != nil {
			return err
		}
		return out(Action{Kind: Transfer, Queue: cfg.CrisisQueue, Reason: "crisis: the caller may be at risk of harming themselves"})
	}
	var cue prosody.Cue
	if in.Emotion != nil {
		cue = *in.Emotion
	}
	esc := c.mood.Observe(cue)
	switch {
	case guard.WantsHuman(in.Text), c.offered && saidYes(in.Text):
		return c.toHuman(lang, "the caller asked for a person", out)
	case esc == guard.Transfer:
		return c.toHuman(lang, fmt.Sprintf("the caller stayed %s after being offered a person", cue.Label), out)
	}
	c.offered = false

	bin := in
	if cfg.RedactForLLM && c.m.primary.Name() == BrainLLM {
		bin.Text = clean
	}
	err := c.primary.Respond(ctx, bin, out)
	var ee errEmit
	if err != nil && !errors.As(err, &ee) && ctx.Err() == nil {
		// The brain failed before it said anything the caller heard, or
		// part-way: either way the turn is answered another way.
		c.log.Warn("brain failed, falling back", "brain", c.m.primary.Name(), "err", err,
			"on_no_reply", cfg.OnNoReply, "no_first_token", errors.Is(err, ErrNoReply))
		switch {
		case cfg.OnNoReply == NoReplyRules && c.fallback != nil:
			err = c.fallback.Respond(ctx, in, out)
		default:
			err = c.toHuman(lang, "the assistant could not answer", out)
		}
	}
	if err == nil && esc == guard.Offer {
		c.offered = true
		err = out(Action{Kind: Say, Text: phrase(lang, offerHuman)})
	}
	return err
}

func (c *Call) toHuman(lang, reason string, out func(Action) error) error {
	if err := out(Action{Kind: Say, Text: phrase(lang, connecting)}); err != nil {
		return err
	}
	return out(Action{Kind: Transfer, Queue: c.m.cfg.HumanQueue, Reason: reason})
}

func (c *Call) crisisMessage(lang string) string {
	if lang == "zh" {
		return phrase(lang, crisisZH)
	}
	return c.m.cfg.CrisisMessage
}

func (c *Call) lastAt() time.Duration {
	if n := len(c.conv.Turns); n > 0 {
		return c.conv.Turns[n-1].At
	}
	return 0
}

// fold condenses the oldest turns into the summary once more than
// KeepTurns are unfolded, half a window at a time so a model is asked
// every few turns, not every turn. A failure keeps the turns for the next
// try.
func (c *Call) fold(ctx context.Context) {
	keep := c.m.cfg.KeepTurns
	recent := c.conv.Recent()
	if len(recent) <= keep {
		return
	}
	n := len(recent) - keep/2
	sum, err := c.summarize(ctx, c.conv.Summary, recent[:n])
	if err != nil {
		c.log.Warn("conversation not summarized", "err", err, "turns", n)
		return
	}
	c.conv.Summary = sum
	c.conv.Folded += n
}

// summarize asks each summarizer in turn until one answers.
func (c *Call) summarize(ctx context.Context, prev string, turns []Turn) (string, error) {
	if len(c.m.summs) == 0 {
		return "", errors.New("dialog: no summarizer")
	}
	var errs []error
	for i, s := range c.m.summs {
		sctx, cancel := ctx, context.CancelFunc(func() {})
		if i < len(c.m.summs)-1 {
			sctx, cancel = context.WithTimeout(ctx, summarizeWait)
		}
		sum, err := s.Summarize(sctx, prev, turns)
		cancel()
		if err == nil {
			return sum, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// Summary tells an agent taking the call what it is about: what the
// brain knows the caller came for, their mood, and what was said,
// condensed.
func (c *Call) Summary(ctx context.Context) string {
	var parts []string
	// The rule brain knows the intent and what the caller answered.
	if sm, ok := c.primary.(interface{ Summary() string }); ok {
		parts = append(parts, sm.Summary())
	}
	if p := c.conv.Profile; len(parts) == 0 && p.Name != "" {
		parts = append(parts, fmt.Sprintf("Caller: %s %s.", p.Name, p.Tier))
	}
	if e := c.conv.Emotion(); e != nil {
		parts = append(parts, fmt.Sprintf("Mood: %s, %s.", e.Label, e.Trend))
	}
	sum, err := c.summarize(ctx, c.conv.Summary, c.conv.Recent())
	if err != nil {
		c.log.Warn("transfer summary from the memory only", "err", err)
		sum = c.conv.Summary
	}
	if sum != "" {
		parts = append(parts, sum)
	}
	return strings.Join(parts, "\n")
}

// saidYes reports a yes to an offer.
func saidYes(text string) bool {
	answer, ok := YesNo(text)
	return ok && answer == "yes"
}

type phraseID int

const (
	offerHuman phraseID = iota
	connecting
	crisisZH
)

var phrases = map[phraseID][2]string{
	offerHuman: {"I can hear this is difficult. Would you like me to put you through to one of our advisors?",
		"我能感觉到这让您很困扰。需要我为您转接人工客服吗？"},
	connecting: {"Of course. I am connecting you with one of our advisors now.", "好的，我现在为您转接人工客服。"},
	crisisZH:   {"", "听到您这样说我很难过，您不是一个人。我现在就为您转接工作人员，请不要挂机。"},
}

// phrase is what Hotline says itself, in the caller's language.
func phrase(lang string, id phraseID) string {
	if lang == "zh" {
		return phrases[id][1]
	}
	return phrases[id][0]
}
