package rules

import (
	"github.com/hotline-cc/hotline/dialog"
	"strings"
	"unicode"
)

// spokenDigits are how a recognizer writes digits said one by one, in
// English and Chinese.
var spokenDigits = map[string]byte{
	"zero": '0', "oh": '0', "o": '0', "nought": '0', "one": '1', "two": '2', "three": '3',
	"four": '4', "five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9',
	"零": '0', "〇": '0', "一": '1', "幺": '1', "二": '2', "两": '2', "三": '3', "四": '4',
	"五": '5', "六": '6', "七": '7', "八": '8', "九": '9',
}

// digitHomophones are words a recognizer hears for a digit; they count
// only next to a real digit ("for eight to one"), never alone.
var digitHomophones = map[string]byte{"to": '2', "too": '2', "for": '4', "fore": '4', "won": '1', "ate": '8'}

// repeaters say the next digit again: "double four" is 44.
var repeaters = map[string]int{"double": 2, "triple": 3}

// digitToken is a word of a spoken number: its digits, or none for a word
// that is not a digit.
type digitToken struct {
	digits  string
	weak    bool // a homophone, a digit only beside another
	repeats int  // a repeater: the next token counts this many times
}

// parseDigits finds the digits a caller said or keyed: the last run of
// consecutive digits whose length is in min..max ("the last four are
// four eight two one" gives 4821). ok is false when no run fits.
func parseDigits(text string, minLen, maxLen int) (string, bool) {
	toks := digitTokens(text)
	for i, t := range toks {
		if t.weak && !(i > 0 && toks[i-1].digits != "" && !toks[i-1].weak ||
			i+1 < len(toks) && toks[i+1].digits != "" && !toks[i+1].weak) {
			toks[i] = digitToken{}
		}
	}
	var found string
	var run strings.Builder
	repeat := 1
	end := func() {
		if n := run.Len(); n >= minLen && n <= maxLen {
			found = run.String()
		}
		run.Reset()
		repeat = 1
	}
	for _, t := range toks {
		switch {
		case t.repeats > 0:
			repeat = t.repeats
		case t.digits != "":
			run.WriteString(strings.Repeat(t.digits, repeat))
			repeat = 1
		default:
			end()
		}
	}
	end()
	return found, found != ""
}

// splitWords cuts text into lower-case words, Chinese characters one by
// one; punctuation goes.
func splitWords(text string) []string {
	var out []string
	var word []rune
	flush := func() {
		if len(word) > 0 {
			out = append(out, string(word))
			word = word[:0]
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.Is(unicode.Han, r) || r == '〇':
			flush()
			out = append(out, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' && len(word) > 0:
			word = append(word, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// digitOf reads one word as digits.
func digitOf(w string) digitToken {
	switch {
	case isNumber(w):
		return digitToken{digits: w}
	case spokenDigits[w] != 0:
		return digitToken{digits: string(spokenDigits[w])}
	case digitHomophones[w] != 0:
		return digitToken{digits: string(digitHomophones[w]), weak: true}
	case repeaters[w] > 0:
		return digitToken{repeats: repeaters[w]}
	}
	return digitToken{}
}

func digitTokens(text string) []digitToken {
	words := splitWords(text)
	toks := make([]digitToken, len(words))
	for i, w := range words {
		toks[i] = digitOf(w)
	}
	return toks
}

// keyed returns the digits a caller keyed, without the # that ends an
// entry; ok is false when there are others than digits or the count is
// out of bounds.
func keyed(keys string, minLen, maxLen int) (string, bool) {
	keys = strings.TrimSuffix(keys, "#")
	if !isNumber(keys) || len(keys) < minLen || len(keys) > maxLen {
		return "", false
	}
	return keys, true
}

// fill parses a slot's value from what the caller said or keyed.
func (s *Slot) fill(text, keys string) (string, bool) {
	switch s.Kind {
	case Digits:
		if keys != "" {
			return keyed(keys, s.MinDigits, s.MaxDigits)
		}
		return parseDigits(text, s.MinDigits, s.MaxDigits)
	case YesNo:
		switch keys {
		case "1":
			return "yes", true
		case "2":
			return "no", true
		case "":
			return dialog.YesNo(text)
		}
		return "", false
	}
	if text != "" {
		return text, true
	}
	return keys, keys != ""
}

// spoken is how a slot's value is read back: digits one by one, not as a
// number ("4 8 2 1", not "four thousand...").
func (s *Slot) spoken(v string) string {
	if s.Kind != Digits {
		return v
	}
	return strings.Join(strings.Split(v, ""), " ")
}
