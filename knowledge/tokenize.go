package knowledge

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// word is one run of text in one script: a lower-cased English word or
// number, or a run of Han characters.
type word struct {
	s   string
	han bool
}

// words cuts text into words. Full-width ASCII (common in Chinese text) is
// folded to ASCII first; "10,000" stays one number and "3.5" one token;
// "card's" is "card" and "don't" is "dont".
func words(text string) []word {
	var out []word
	var cur []rune
	han := false
	flush := func() {
		if len(cur) > 0 {
			out = append(out, word{s: string(cur), han: han})
			cur = cur[:0]
		}
	}
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := fold(rs[i])
		switch {
		case unicode.Is(unicode.Han, r):
			if !han {
				flush()
				han = true
			}
			cur = append(cur, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if han {
				flush()
				han = false
			}
			cur = append(cur, unicode.ToLower(r))
		case len(cur) > 0 && !han && i+1 < len(rs) && joins(cur[len(cur)-1], r, fold(rs[i+1])):
			if r == '\'' || r == '’' {
				if (rs[i+1] == 's' || rs[i+1] == 'S') && (i+2 == len(rs) || !isWordRune(rs[i+2])) {
					i++ // a possessive 's adds nothing
				}
				continue
			}
			if r == '.' {
				cur = append(cur, r)
			}
			// a thousands separator is dropped
		default:
			flush()
		}
	}
	flush()
	return out
}

// joins reports whether punctuation r between prev and next stays inside a
// word: an apostrophe between letters, a decimal point or thousands
// separator between digits.
func joins(prev, r, next rune) bool {
	switch r {
	case '\'', '’':
		return unicode.IsLetter(prev) && unicode.IsLetter(next) && !unicode.Is(unicode.Han, next)
	case '.', ',':
		return isDigit(prev) && isDigit(next)
	}
	return false
}

// isHan reports whether term is Chinese (a character or a bigram).
func isHan(term string) bool {
	r, _ := utf8.DecodeRuneInString(term)
	return unicode.Is(unicode.Han, r)
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// fold maps full-width ASCII to ASCII, so "ＰＩＮ" and "１２３４" match.
func fold(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		return r - 0xFEE0
	}
	return r
}

// terms turns words into index terms: English words without stopwords and
// stemmed, numbers as they are, Han runs as single characters (without the
// commonest function characters) and overlapping character bigrams.
func terms(ws []word) []string {
	var out []string
	for _, w := range ws {
		if !w.han {
			if !stopwords[w.s] {
				out = append(out, stem(w.s))
			}
			continue
		}
		rs := []rune(w.s)
		for i, r := range rs {
			if !stopHan[r] {
				out = append(out, string(r))
			}
			if i+1 < len(rs) {
				if bi := string(rs[i : i+2]); !stopBigrams[bi] {
					out = append(out, bi)
				}
			}
		}
	}
	return out
}

// tokenize is terms(words(text)).
func tokenize(text string) []string { return terms(words(text)) }

// stem strips the English endings that matter most for matching a caller's
// words to an article's: plurals, -ing and -ed. It then drops a final e and
// undoubles a final consonant so "charge", "charges", "charged" and
// "charging" meet at "charg", and "transferred" at "transfer". Numbers and
// short words are left alone.
func stem(w string) string {
	if len(w) <= 3 || !isLower(w) {
		return w
	}
	switch {
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "xes") || strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes") || strings.HasSuffix(w, "zes"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		w = w[:len(w)-1]
	case strings.HasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "eed"):
	case strings.HasSuffix(w, "ed") && hasVowel(w[:len(w)-2]) && len(w) >= 5:
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ing") && hasVowel(w[:len(w)-3]) && len(w) >= 6:
		w = w[:len(w)-3]
	case strings.HasSuffix(w, "tten"):
		w = w[:len(w)-3] // "forgotten" is asked for as "forgot"
	}
	if n := len(w); n > 3 && w[n-1] == 'e' && w[n-2] != 'e' {
		w = w[:n-1]
	}
	if n := len(w); n > 3 && w[n-1] == w[n-2] && !strings.ContainsRune("aeiou", rune(w[n-1])) {
		w = w[:n-1]
	}
	return w
}

func isLower(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return false
		}
	}
	return true
}

func hasVowel(w string) bool { return strings.ContainsAny(w, "aeiouy") }

// isLatin reports whether term is an English word the fuzzy lookup may
// correct: letters only (never a number: "1234" is not "1235"), and not
// so short that one edit reaches half the vocabulary.
func isLatin(term string) bool {
	return len(term) >= 3 && isLower(term)
}

func set(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// stopwords are English function words and the fillers of spoken requests
// ("hi, yeah, I'd like to know how...") that say nothing about the topic.
var stopwords = set(`a about above after again against all am an and any are as at be because been
before being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours ourselves
out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while
who whom why will with would you your yours yourself yourselves
im ive id ill youre dont doesnt didnt cant cannot couldnt wont isnt arent wasnt
hi hello hey please thanks thank okay ok yes yeah yep um uh er erm hmm well so like want wanted
know tell let get got need also still just really actually maybe sure sorry oh
wondering wonder question ask asking help
someone somebody anyone anybody something anything everyone everything`)

// stopHan are Han characters too common to mean anything alone; they still
// take part in bigrams.
var stopHan = func() map[rune]bool {
	m := map[rune]bool{}
	for _, r := range "的了吗呢吧啊呀么我你您他她它们是在有和与或就都也还要想请问怎什这那个一不没可以能会把被给让" {
		m[r] = true
	}
	return m
}()

// stopBigrams are the Chinese question and politeness phrases a caller
// wraps a request in.
var stopBigrams = set(`怎么 什么 请问 我想 想问 问一 一下 我们 你们 可以 如何 我的 你的 您的 是不 不是 有没 没有 能不 不能
为什 的话 一个 怎样 多少 哪里 那个 这个 知道 帮我 我要 要怎 么办 么样`)
