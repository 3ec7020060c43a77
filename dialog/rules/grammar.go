package rules

import (
	"slices"
	"strings"
	"unicode"
)

// grammarState is what the session waits for, as far as the recognizer's
// grammar is concerned.
type grammarState int

const (
	anyIntent grammarState = iota
	digitsAnswer
	yesNoAnswer
)

// The words a caller may say in any state: a yes or no, and a request for
// a person, which every state honours.
var (
	digitNames    = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	digitPhrases  = append([]string{"oh"}, digitNames...)
	yesNoPhrases  = []string{"yes", "yeah", "yes please", "that's right", "correct", "no", "no thanks", "nope"}
	personPhrases = []string{"agent", "representative", "operator", "a person", "speak to an agent", "talk to a person"}
)

// buildGrammar lists each state's phrases once: the recognizer compiles a
// grammar per distinct list.
func buildGrammar(f *Flow) map[grammarState][]string {
	all := slices.Concat(digitPhrases, yesNoPhrases, personPhrases)
	for _, it := range f.Intents {
		all = append(all, it.Examples["en"]...)
	}
	all = append(all, f.addedPhrases("en")...)
	for _, mi := range f.Menu {
		all = append(all, mi.Label)
	}
	return map[grammarState][]string{
		anyIntent:    grammarPhrases(all),
		digitsAnswer: grammarPhrases(slices.Concat(digitPhrases, personPhrases)),
		yesNoAnswer:  grammarPhrases(slices.Concat(yesNoPhrases, personPhrases)),
	}
}

// grammarPhrases normalizes phrases to lower-case words of letters (an
// apostrophe inside a word stays: "don't"), sorted and without repeats.
// Phrases in another script are left out: the embedded recognizer's
// dictionary is English.
func grammarPhrases(phrases []string) []string {
	var out []string
	for _, p := range phrases {
		if n := grammarPhrase(p); n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func grammarPhrase(p string) string {
	var words []string
	var w strings.Builder
	flush := func() {
		if s := strings.Trim(w.String(), "'"); s != "" {
			words = append(words, s)
		}
		w.Reset()
	}
	for _, r := range strings.ToLower(p) {
		switch {
		case r >= 'a' && r <= 'z':
			w.WriteRune(r)
		case r == '\'' || r == '’':
			w.WriteByte('\'')
		case r >= '0' && r <= '9':
			flush()
			words = append(words, digitNames[r-'0'])
		case unicode.IsLetter(r):
			return "" // not English
		default:
			flush()
		}
	}
	flush()
	return strings.Join(words, " ")
}

// Grammar returns the phrases the caller may say now, for a recognizer
// that needs a grammar: while a slot is asked, its kind of answer (and a
// request for a person); otherwise every intent's English examples, the
// menu's labels, digits, yes and no.
func (s *Session) Grammar() []string {
	state := anyIntent
	if s.intent != nil {
		switch s.intent.Slots[s.slot].Kind {
		case Digits:
			state = digitsAnswer
		case YesNo:
			state = yesNoAnswer
		}
	}
	return slices.Clone((*s.b.grammar.Load())[state])
}
