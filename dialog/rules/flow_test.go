package rules

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/dialog"
)

// header is a valid flow without intents.
const header = `messages:
  not_understood: Sorry?
  offer_human: Would you like a person?
  goodbye: Goodbye.
fallback:
  queue: general
`

// intent is a valid intent to append after "intents:".
const intent = `
  - name: hours
    examples: {en: [what time do you open], zh: [营业时间]}
    answer: We open at nine.
`

func TestParseFlowValid(t *testing.T) {
	f, err := ParseFlow([]byte(header + "intents:" + intent))
	if err != nil {
		t.Fatal(err)
	}
	if f.Language != "en" || f.Threshold != defaultThreshold || f.Fallback.MaxMisses != defaultMaxMisses {
		t.Errorf("defaults not filled: %+v", f)
	}
	if f.Intent("hours").Title != "hours" {
		t.Errorf("title defaults to the name, got %q", f.Intent("hours").Title)
	}
	if got := f.Messages.Goodbye.In("zh"); got != "Goodbye." {
		t.Errorf("a plain string is the English text and stands in for others, got %q", got)
	}
}

func TestParseFlowErrors(t *testing.T) {
	digitsSlot := func(extra string) string {
		return header + `intents:
  - name: lost
    examples: {en: [lost card]}
    slots:
      - name: last4
        kind: digits
        prompt: Say the digits.
` + extra + `    transfer: {queue: cards, reason: lost card}
`
	}
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"empty", "", []string{"flow is empty"}},
		{"only a comment", "# nothing\n", []string{"flow is empty"}},
		{"syntax", header + "intents: [\n", []string{"line"}},
		{"tab indent", "messages:\n\tgoodbye: x\n", []string{"line 2"}},
		{"unknown field", header + "intnets:" + intent, []string{"line 7", "intnets"}},
		{"unknown intent field", header + "intents:" + intent + "    anwser: x\n", []string{"line 11", "anwser"}},
		{"scalar for list", header + "intents: hours\n", []string{"line 7"}},
		{"no intents", header, []string{"intents: missing"}},
		{"messages missing", "fallback: {queue: general}\nintents:" + intent, []string{
			"messages.not_understood: missing", "messages.offer_human: missing", "messages.goodbye: missing"}},
		{"queue missing", strings.Replace(header, "  queue: general\n", "  max_misses: 2\n", 1) + "intents:" + intent,
			[]string{"line 5: fallback.queue: missing"}},
		{"negative misses", header + "  max_misses: -1\nintents:" + intent, []string{"line 7: fallback.max_misses"}},
		{"bad language", "language: fr\n" + header + "intents:" + intent, []string{"line 1: language", `"fr"`}},
		{"bad threshold", "threshold: 2\n" + header + "intents:" + intent, []string{"line 1: threshold"}},
		{"bad message language", strings.Replace(header, "goodbye: Goodbye.", "goodbye: {en: Bye, fr: Salut}", 1) + "intents:" + intent,
			[]string{"line 4: messages.goodbye.fr", `language "fr"`}},
		{"text as list", strings.Replace(header, "goodbye: Goodbye.", "goodbye: [a, b]", 1) + "intents:" + intent,
			[]string{"line 4", "text must be a string or a mapping"}},
		{"bad name", header + "intents:" + strings.Replace(intent, "name: hours", "name: Opening Hours", 1),
			[]string{"line 8: intents[0].name", "lower case"}},
		{"duplicate name", header + "intents:" + intent + intent, []string{"line 12: intents[1].name", "used by another intent"}},
		{"no examples", header + "intents:\n  - name: x\n    answer: y\n", []string{"line 8: intents[0].examples: missing"}},
		{"stopword example", header + "intents:\n  - name: x\n    examples: {en: [can you help me]}\n    answer: y\n",
			[]string{"line 9: intents[0].examples.en[0]", "no word to match"}},
		{"example language", header + "intents:\n  - name: x\n    examples: {de: [hallo welt]}\n    answer: y\n",
			[]string{"intents[0].examples.de", `language "de"`}},
		{"does nothing", header + "intents:\n  - name: x\n    examples: {en: [open]}\n", []string{"line 8: intents[0]", "does nothing"}},
		{"answer and knowledge", header + "intents:" + intent + "    knowledge: true\n", []string{"line 11: intents[0].knowledge", "not both"}},
		{"query without knowledge", header + "intents:" + intent + "    query: hours\n", []string{"line 11: intents[0].query", "knowledge: true"}},
		{"transfer and end", header + "intents:" + intent + "    end: true\n    transfer: {queue: a, reason: b}\n",
			[]string{"line 8: intents[0]", "one of transfer, end and offer_human"}},
		{"transfer without queue", header + "intents:" + intent + "    transfer: {reason: b}\n",
			[]string{"line 11: intents[0].transfer.queue: missing"}},
		{"unknown placeholder", header + "intents:" + strings.Replace(intent, "We open at nine.", "Card {last4} blocked.", 1),
			[]string{"line 10: intents[0].answer", "{last4} is not a slot"}},
		{"slot kind missing", strings.Replace(digitsSlot(""), "        kind: digits\n", "", 1), []string{"intents[0].slots[0].kind: missing"}},
		{"slot kind unknown", strings.Replace(digitsSlot(""), "kind: digits", "kind: number", 1),
			[]string{"line 12: intents[0].slots[0].kind", `"number" is not digits, yes-no or free`}},
		{"max digits missing", digitsSlot(""), []string{"line 11: intents[0].slots[0].max_digits", "not in 1..32"}},
		{"min over max", digitsSlot("        max_digits: 4\n        min_digits: 6\n"), []string{"line 15: intents[0].slots[0].min_digits"}},
		{"dtmf without prompt", digitsSlot("        max_digits: 4\n        dtmf_after: 1\n"),
			[]string{"line 11: intents[0].slots[0].dtmf_prompt: missing"}},
		{"digits field on yes-no", strings.Replace(digitsSlot("        max_digits: 4\n"), "kind: digits", "kind: yes-no", 1),
			[]string{"line 14: intents[0].slots[0].max_digits: only for a digits slot"}},
		{"prompt missing", strings.Replace(digitsSlot("        max_digits: 4\n"), "        prompt: Say the digits.\n", "", 1),
			[]string{"intents[0].slots[0].prompt: missing"}},
		{"duplicate slot", strings.Replace(digitsSlot("        max_digits: 4\n"), "    transfer:",
			"      - {name: last4, kind: free, prompt: again}\n    transfer:", 1), []string{"line 15: intents[0].slots[1].name", "used twice"}},
		{"menu key", header + "menu:\n  - {key: \"12\", intent: hours}\nintents:" + intent, []string{"line 8: menu[0].key", `"12"`}},
		{"menu key twice", header + "menu:\n  - {key: \"1\", intent: hours}\n  - {key: \"1\", intent: hours}\nintents:" + intent,
			[]string{"line 9: menu[1].key", "used twice"}},
		{"menu intent", header + "menu:\n  - {key: \"1\", intent: nope}\nintents:" + intent, []string{"line 8: menu[0].intent", `"nope" is not an intent`}},
		{"menu label", header + "menu:\n  - {key: \"1\", intent: hours, label: 营业时间}\nintents:" + intent, []string{"line 8: menu[0].label"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseFlow([]byte(c.yaml))
			if err == nil {
				t.Fatalf("no error for:\n%s", c.yaml)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadFlow(t *testing.T) {
	if _, err := LoadFlow("testdata/none.yaml"); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing file: %v", err)
	}
	p := t.TempDir() + "/bad.yaml"
	if err := os.WriteFile(p, []byte(header+"intents: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFlow(p); err == nil || !strings.Contains(err.Error(), "bad.yaml: line 7: intents: missing") {
		t.Errorf("the error names the file and line: %v", err)
	}
}

func FuzzParseFlow(f *testing.F) {
	// Small seeds keep the fuzzer fast: the sample flow is thousands of
	// bytes, each of them a mutation to try.
	f.Add([]byte(header + "intents:" + intent))
	f.Add([]byte(header + `menu:
  - {key: "1", intent: lost, label: lost card}
intents:
  - name: lost
    title: Lost card
    examples: {en: [I lost my card], zh: [我的卡丢了]}
    slots:
      - {name: last4, kind: digits, max_digits: 4, prompt: Digits?, dtmf_after: 1, dtmf_prompt: Keys?}
      - {name: ok, kind: yes-no, prompt: {en: Sure?, zh: 确定吗？}}
    answer: "Card {last4} blocked."
    transfer: {queue: cards, reason: lost card}
  - name: hours
    examples: {en: [what time do you open]}
    knowledge: true
    offer_human: true
`))
	f.Add([]byte("intents: [{name: a, examples: {en: [\"{x}\"]}, answer: \"{x}\", slots: [{kind: digits}]}]"))
	f.Add([]byte("messages: &a {goodbye: *a}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := ParseFlow(data)
		if err != nil {
			return
		}
		// A flow that parses must work: match and answer without panic.
		s := New(fl, nil).NewSession(nil).(*Session)
		said := string(data[:min(len(data), 200)])
		for _, in := range []dialog.Input{{Text: "I lost my card"}, {Text: said}, {Digits: "1"}, {Text: "yes"}, {Digits: "4821"}} {
			if err := s.Respond(context.Background(), in, func(dialog.Action) error { return nil }); err != nil {
				t.Fatal(err)
			}
			s.Grammar()
		}
		s.Summary()
	})
}
