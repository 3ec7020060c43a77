package llm

import (
	"fmt"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/knowledge"
	"github.com/hotline-cc/hotline/prosody"
)

// callContext is the system message that tells the model about this call
// and this turn: who is calling, how they sound, what the knowledge base
// says about what they asked, and what the call was about so far.
func callContext(c *dialog.Conversation, in dialog.Input, cue *prosody.Cue, passages []knowledge.Passage) string {
	var b strings.Builder
	b.WriteString("About this call.\n")
	p := c.Profile
	if p.Name != "" {
		fmt.Fprintf(&b, "Caller: %s.\n", p.Name)
	} else {
		b.WriteString("Caller: not identified.\n")
	}
	if p.VIP() {
		fmt.Fprintf(&b, "VIP customer, tier %s: give priority service.\n", p.Tier)
	}
	if p.Advisor != "" {
		fmt.Fprintf(&b, "Dedicated advisor: %s.\n", p.Advisor)
	}
	if p.Purpose != "" {
		fmt.Fprintf(&b, "You called this customer. Purpose of the call: %s\n", p.Purpose)
	}
	if lang := firstNonEmpty(in.Language, c.Language, p.Language); lang != "" {
		fmt.Fprintf(&b, "Language of the call: %s.\n", lang)
	}
	if cue != nil {
		fmt.Fprintf(&b, "The caller sounds %s (arousal %.2f, %s, confidence %.2f). %s\n",
			cue.Label, cue.Arousal, trendWord(cue.Trend), cue.Confidence, tone(cue))
	}
	if c.Summary != "" {
		fmt.Fprintf(&b, "Summary of the call so far: %s\n", c.Summary)
	}
	if len(passages) > 0 {
		b.WriteString("Knowledge passages for the caller's words; use them only if they answer the question:\n")
		b.WriteString(passagesText(passages))
	}
	return strings.TrimRight(b.String(), "\n")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func trendWord(t prosody.Trend) string {
	switch t {
	case prosody.Rising:
		return "rising"
	case prosody.Falling:
		return "calming down"
	}
	return "steady"
}

// tone tells the model how to adapt to the caller's state. The words
// follow the guidance given to human agents: calm the tense, let the angry
// be heard and offer a person, be gentle with the low.
func tone(c *prosody.Cue) string {
	var t string
	switch c.Label {
	case prosody.Tense:
		t = "Tone: stay calm and reassuring, keep it short, and give one clear next step."
	case prosody.Angry:
		t = "Tone: acknowledge their frustration, apologise once, keep it short, and offer to transfer them to a person."
	case prosody.Sad:
		t = "Tone: be gentle, patient and warm; speak simply and do not rush them."
	default:
		t = "Tone: friendly and efficient."
	}
	if c.Label.Flagged() && c.Trend == prosody.Rising {
		t += " Their distress is rising: if this turn does not resolve it, offer a person."
	}
	if c.Confidence < 0.4 {
		t += " The cue is uncertain: adapt lightly."
	}
	return t
}

// passagesText numbers the passages for the model.
func passagesText(ps []knowledge.Passage) string {
	var b strings.Builder
	for i, p := range ps {
		fmt.Fprintf(&b, "[%d] %s", i+1, p.Title)
		if p.Heading != "" {
			fmt.Fprintf(&b, " — %s", p.Heading)
		}
		fmt.Fprintf(&b, ": %s\n", strings.TrimSpace(p.Text))
	}
	return b.String()
}

// history turns the recent turns into chat messages. The caller's latest
// turn, the one being answered, is last; when the model is waiting for
// digits, its pending tool call and the digits go just before it, or in
// its place when the caller only keyed.
func history(turns []dialog.Turn, in dialog.Input, pending []openai.ChatCompletionMessage) []openai.ChatCompletionMessage {
	var current *dialog.Turn
	if n := len(turns); n > 0 && turns[n-1].Speaker == dialog.Caller {
		current, turns = &turns[n-1], turns[:n-1]
	}
	msgs := make([]openai.ChatCompletionMessage, 0, len(turns)+len(pending)+1)
	for _, t := range turns {
		if t.Text == "" {
			continue
		}
		role := openai.ChatMessageRoleUser
		if t.Speaker == dialog.Bot {
			role = openai.ChatMessageRoleAssistant
		}
		msgs = append(msgs, openai.ChatCompletionMessage{Role: role, Content: t.Text})
	}
	msgs = append(msgs, pending...)
	if current == nil {
		return msgs
	}
	text := current.Text
	switch {
	case len(pending) > 0 && in.Text == "":
		return msgs // the keys are the tool's result
	case text == "" && in.Digits != "":
		text = "(keyed " + in.Digits + ")"
	case text == "":
		return msgs
	}
	return append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: text})
}
