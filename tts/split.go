package tts

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentence sizes, in weight units: a letter or digit weighs 1, a Han
// character 2 (it is a syllable, about two letters' worth of speech).
const (
	// minSentence is the weight under which a piece ("Yes.", "好的。") is
	// merged with its neighbour: a tiny synthesis sounds clipped and costs
	// a round trip of its own.
	minSentence = 8
	// maxSentence is the weight over which a run-on sentence is split at
	// a comma (or, failing that, a space) so the first audio is not held
	// back by one very long sentence.
	maxSentence = 200
)

// abbreviations end with a dot that does not end a sentence (lower case,
// without the dot).
var abbreviations = map[string]bool{
	"dr": true, "mr": true, "mrs": true, "ms": true, "mx": true, "prof": true,
	"sr": true, "jr": true, "st": true, "mt": true, "ft": true, "rev": true,
	"gen": true, "col": true, "capt": true, "lt": true, "sgt": true, "gov": true,
	"sen": true, "rep": true, "hon": true, "messrs": true, "vs": true, "etc": true,
	"approx": true, "dept": true, "est": true, "inc": true, "ltd": true, "co": true,
	"corp": true, "ave": true, "blvd": true, "rd": true, "apt": true, "fig": true,
	"vol": true, "ext": true, "tel": true, "jan": true, "feb": true, "mar": true,
	"apr": true, "jun": true, "jul": true, "aug": true, "sep": true, "sept": true,
	"oct": true, "nov": true, "dec": true, "mon": true, "tue": true, "tues": true,
	"wed": true, "thu": true, "thur": true, "thurs": true, "fri": true, "sat": true,
	"sun": true, "cf": true, "al": true,
}

// numberAbbreviations abbreviate only before a number: "No. 5", "Nr. 3".
var numberAbbreviations = map[string]bool{"no": true, "nr": true, "nos": true, "pp": true, "p": true}

// SplitSentences splits text into sentences at English and Chinese
// sentence punctuation (. ! ? ; 。！？；), at blank lines and before list
// items. A dot ends a sentence only when followed by a space or the end, so
// numbers ("3.5") and addresses ("hotline.cc") stay whole, and not after an
// abbreviation ("Dr.", "e.g.", "U.S.") or an initial ("J. Smith"). Very short
// pieces are merged with a neighbour and run-on sentences are split at a
// comma. Whitespace is collapsed; empty input gives no sentences.
func SplitSentences(text string) []string {
	var pieces []string
	for _, block := range splitBlocks(text) {
		for _, s := range splitBlock([]rune(block)) {
			if s = collapseSpace(s); s != "" {
				pieces = append(pieces, splitLong(s)...)
			}
		}
	}
	return mergeShort(pieces)
}

// splitBlocks cuts text at blank lines and before list items, dropping
// bullet marks, which are layout rather than words.
func splitBlocks(text string) []string {
	var blocks []string
	var cur strings.Builder
	flush := func() {
		if strings.TrimSpace(cur.String()) != "" {
			blocks = append(blocks, cur.String())
		}
		cur.Reset()
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			flush()
			continue
		case isBullet(trimmed):
			flush()
			trimmed = strings.TrimSpace(trimmed[len(string([]rune(trimmed)[0])):])
		case isOrdinal(trimmed):
			flush()
		}
		cur.WriteString(trimmed)
		cur.WriteByte(' ')
	}
	flush()
	return blocks
}

func isBullet(line string) bool {
	r := []rune(line)
	return len(r) >= 2 && strings.ContainsRune("-*•·+", r[0]) && unicode.IsSpace(r[1])
}

// isOrdinal reports whether line starts with a list number: "1. ", "2) ".
func isOrdinal(line string) bool {
	i := 0
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return i > 0 && i+1 < len(line) && (line[i] == '.' || line[i] == ')') && line[i+1] == ' '
}

func isCJKStop(r rune) bool { return strings.ContainsRune("。！？；", r) }
func isStop(r rune) bool    { return strings.ContainsRune(".!?;…", r) }
func isCloser(r rune) bool  { return strings.ContainsRune("\"'”’」』）)]》", r) }
func isHan(r rune) bool     { return unicode.Is(unicode.Han, r) }

// splitBlock cuts one block at sentence ends.
func splitBlock(rs []rune) []string {
	var out []string
	start := 0
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		if !isCJKStop(c) && !isStop(c) {
			continue
		}
		// The sentence end takes in a run of stops ("?!", "...", "。」").
		j := i + 1
		for j < len(rs) && (isStop(rs[j]) || isCJKStop(rs[j]) || isCloser(rs[j])) {
			j++
		}
		if !isCJKStop(c) {
			if j < len(rs) && !unicode.IsSpace(rs[j]) && !isHan(rs[j]) {
				i = j - 1
				continue // "3.5", "hotline.cc", "Hello!World"
			}
			if c == '.' && j == i+1 && !endsSentence(rs, start, i) {
				continue
			}
		}
		out = append(out, string(rs[start:j]))
		start = j
		i = j - 1
	}
	if start < len(rs) {
		out = append(out, string(rs[start:]))
	}
	return out
}

// endsSentence decides whether the single dot at rs[dot] ends a sentence,
// looking at the word before it (back to the block's start).
func endsSentence(rs []rune, start, dot int) bool {
	w := dot
	for w > start && !unicode.IsSpace(rs[w-1]) && !isCloser(rs[w-1]) && rs[w-1] != '(' {
		w--
	}
	word := string(rs[w:dot])
	lower := strings.ToLower(word)
	switch {
	case word == "":
		return true
	case abbreviations[lower]:
		return false
	case numberAbbreviations[lower]:
		return !nextIsDigit(rs, dot+1)
	case len([]rune(word)) == 1 && unicode.IsUpper([]rune(word)[0]):
		return false // an initial: "J. Smith"
	case isDottedAbbrev(word):
		return false // "e.g", "U.S", "a.m"
	case w == start && allDigits(word):
		return false // a list ordinal at the start of a block: "1. "
	}
	return true
}

func nextIsDigit(rs []rune, i int) bool {
	for i < len(rs) && unicode.IsSpace(rs[i]) {
		i++
	}
	return i < len(rs) && unicode.IsDigit(rs[i])
}

// isDottedAbbrev reports words like "e.g", "i.e", "U.S", "a.m": single
// letters joined by dots.
func isDottedAbbrev(word string) bool {
	parts := strings.Split(word, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		r := []rune(p)
		if len(r) != 1 || !unicode.IsLetter(r[0]) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func collapseSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func weight(s string) int {
	n := 0
	for _, r := range s {
		n += runeWeight(r)
	}
	return n
}

func runeWeight(r rune) int {
	switch {
	case isHan(r):
		return 2
	case unicode.IsLetter(r), unicode.IsDigit(r):
		return 1
	}
	return 0
}

// splitLong cuts a run-on sentence at the last comma (or space) before
// maxSentence, repeatedly.
func splitLong(s string) []string {
	if weight(s) <= maxSentence {
		return []string{s}
	}
	var out []string
	rs := []rune(s)
	for len(rs) > 0 {
		limit, w := 0, 0
		for limit < len(rs) && w+runeWeight(rs[limit]) <= maxSentence {
			w += runeWeight(rs[limit])
			limit++
		}
		cut := len(rs)
		if limit < len(rs) {
			cut = -1
			for i := limit - 1; i > 0 && cut < 0; i-- {
				if strings.ContainsRune(",，、:：", rs[i]) {
					cut = i + 1
				}
			}
			for i := limit - 1; i > 0 && cut < 0; i-- {
				if unicode.IsSpace(rs[i]) {
					cut = i
				}
			}
			if cut < 0 {
				cut = max(limit, 1) // no comma or space: Chinese without punctuation
			}
		}
		if p := strings.TrimSpace(string(rs[:cut])); p != "" {
			out = append(out, p)
		}
		rs = rs[cut:]
		for len(rs) > 0 && unicode.IsSpace(rs[0]) {
			rs = rs[1:]
		}
	}
	return out
}

// mergeShort joins pieces lighter than minSentence to the next piece (the
// last one to the previous).
func mergeShort(pieces []string) []string {
	var out []string
	var carry []string // short pieces waiting for a neighbour
	carryWeight := 0
	for _, p := range pieces {
		carry = append(carry, p)
		carryWeight += weight(p)
		if carryWeight < minSentence {
			continue
		}
		out = append(out, joinAll(carry))
		carry, carryWeight = carry[:0], 0
	}
	if len(carry) > 0 {
		switch {
		case len(out) > 0:
			out[len(out)-1] = joinAll(append([]string{out[len(out)-1]}, carry...))
		case carryWeight > 0:
			out = append(out, joinAll(carry))
		}
	}
	return out
}

// joinAll puts pieces together with a space, or none between Chinese.
func joinAll(pieces []string) string {
	var b strings.Builder
	for i, p := range pieces {
		if i > 0 {
			last, _ := utf8.DecodeLastRuneInString(pieces[i-1])
			first, _ := utf8.DecodeRuneInString(p)
			if !(isHan(last) || isCJKStop(last) || isHan(first) || strings.ContainsRune("，、：」』）", last)) {
				b.WriteByte(' ')
			}
		}
		b.WriteString(p)
	}
	return b.String()
}
