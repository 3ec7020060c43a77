package rules

import (
	"context"
	"regexp"
	"strings"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/tts"
)

// The running summary is extractive: it keeps the caller's own sentences
// that carry a fact an agent needs (what they want, names, numbers, yes or
// no to a question), one a line, and drops the small talk. Copying rather
// than rewriting keeps it offline and never invents a fact.

// maxSummaryLines bounds the summary. When it overflows, lines go from
// the middle: the first facts of a call (why they called, who they are)
// and the latest both matter more than those in between.
const (
	maxSummaryLines = 24
	keepFirstLines  = 8
)

var (
	// factual marks a sentence with a figure or a redaction label.
	factual = regexp.MustCompile(`[0-9]|\[(card|phone|number|email)\]`)
	// naming marks a sentence in which the caller gives a name.
	naming = regexp.MustCompile(`(?i)\b(my name is|my name's|i'm called|call me)\b|我叫|我姓`)
)

// Summarize returns prev extended with the facts turns add. It is the
// Summarizer of the rule brain; it never fails.
func (b *Brain) Summarize(ctx context.Context, prev string, turns []dialog.Turn) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var lines []string
	seen := map[string]bool{}
	add := func(line string) {
		if k := strings.ToLower(line); !seen[k] {
			seen[k] = true
			lines = append(lines, line)
		}
	}
	for _, l := range strings.Split(prev, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			add(l)
		}
	}
	var question string // Hotline's last question, which a yes or no answers
	for _, t := range turns {
		if t.Speaker != dialog.Caller {
			question = lastQuestion(t.Text)
			continue
		}
		for _, sen := range tts.SplitSentences(t.Text) {
			if f := b.fact(sen, question); f != "" {
				add(f)
			}
		}
		question = ""
	}
	if len(lines) > maxSummaryLines {
		lines = append(lines[:keepFirstLines], lines[len(lines)-(maxSummaryLines-keepFirstLines):]...)
	}
	return strings.Join(lines, "\n"), nil
}

// fact returns the summary line for a caller's sentence, "" if it carries
// none.
func (b *Brain) fact(sen, question string) string {
	f := b.flow
	if m := f.Match(sen); m.Intent != "" && m.Score >= f.Threshold {
		return "Caller (" + f.Intent(m.Intent).Title + "): " + sen
	}
	if factual.MatchString(sen) || naming.MatchString(sen) {
		return "Caller: " + sen
	}
	if _, ok := parseDigits(sen, 2, maxSlotDigits); ok {
		return "Caller: " + sen
	}
	if question != "" {
		if yn, ok := dialog.YesNo(sen); ok {
			return "Asked: " + question + " Caller: " + yn + "."
		}
	}
	return ""
}

// lastQuestion is the last sentence of text that asks something ("Is that
// right?" before "Please say yes or no.").
func lastQuestion(text string) string {
	ss := tts.SplitSentences(text)
	for i := len(ss) - 1; i >= 0; i-- {
		if q := ss[i]; strings.HasSuffix(q, "?") || strings.HasSuffix(q, "？") || strings.HasSuffix(q, "吗") {
			return q
		}
	}
	return ""
}
