package llm

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hotline-cc/hotline/tts"
)

// tokens cuts text into pieces of about n bytes, on rune boundaries, as a
// model streams it.
func tokens(text string, n int) []string {
	var out []string
	for len(text) > 0 {
		i := min(n, len(text))
		for i < len(text) && !utf8.RuneStart(text[i]) {
			i++
		}
		out = append(out, text[:i])
		text = text[i:]
	}
	return out
}

var cutterTexts = []string{
	"Your card is blocked. A new card arrives in five days. Anything else?",
	"Yes. I can help with that! The fee is 3.5 percent; see hotline.cc for details.",
	"Dr. Smith at the U.S. branch, e.g. on Main St. near No. 5, can help. Call us any time.",
	"您好，您的卡已经冻结。新卡将在五个工作日内寄到。还有什么可以帮您？",
	"好的。我们明天联系您！Your reference is ready. 谢谢。",
	"Here is what you can do:\n\n- Block the card in the app.\n- Call us to order a new one.\n\nThat is all.",
	"Options are:\n1. Check your balance\n2. Report a lost card\nWhich one would you like?",
	strings.Repeat("This is a long sentence with many clauses, and it keeps going, ", 8) + "until it ends.",
	"",
	"   ",
	"Short.",
}

func cutAll(toks []string) []string {
	var c cutter
	var out []string
	for _, tok := range toks {
		out = append(out, c.add(tok)...)
	}
	return append(out, c.flush()...)
}

func TestCutterMatchesWholeText(t *testing.T) {
	for _, text := range cutterTexts {
		want := tts.SplitSentences(text)
		for _, n := range []int{1, 3, 4, 7, 1000} {
			if got := cutAll(tokens(text, n)); !slices.Equal(got, want) {
				t.Errorf("%q in %d-byte tokens:\n got %q\nwant %q", text, n, got, want)
			}
		}
	}
}

func TestCutterEmitsBeforeTheEnd(t *testing.T) {
	var c cutter
	var got []string
	for _, tok := range []string{"Your card", " is blocked", ".", " A new", " card is on its way", "."} {
		got = append(got, c.add(tok)...)
	}
	if !slices.Equal(got, []string{"Your card is blocked."}) {
		t.Errorf("before the end: %q", got)
	}
	if rest := c.flush(); !slices.Equal(rest, []string{"A new card is on its way."}) {
		t.Errorf("flushed %q", rest)
	}
	if rest := c.flush(); rest != nil {
		t.Errorf("second flush %q", rest)
	}
}

func BenchmarkCutter(b *testing.B) {
	text := strings.Repeat("Your replacement card was sent yesterday. It arrives within five working days, "+
		"and you can use the app meanwhile. 新卡将在五个工作日内寄到。", 4)
	toks := tokens(text, 4) // about one model token each
	b.ReportAllocs()
	for b.Loop() {
		var c cutter
		for _, tok := range toks {
			c.add(tok)
		}
		c.flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(toks)), "ns/token")
}
