package rules

import (
	"math"
	"regexp"
	"strings"
	"unicode"
)

// A caller's words reach the matcher through a recognizer, so the matcher
// expects errors: dropped words, homophones ("cart" for card), other
// endings. English is compared word by word, lightly stemmed, each word
// allowed to resemble an example's word in spelling or sound. Chinese has
// no spaces and the recognizer's segmentation cannot be trusted, so it is
// compared as characters and character pairs. Words after a negation are
// marked so that "I don't want to close my account" does not count as
// asking to close it.

// negMark prefixes a term said under a negation.
const negMark = "!"

// stopwords carry no intent: pronouns, articles, politeness, auxiliaries.
var stopwords = setOf(
	"a", "an", "the", "i", "me", "my", "mine", "myself", "we", "us", "our", "you", "your",
	"it", "its", "this", "that", "these", "those", "there", "here", "is", "am", "are", "was",
	"were", "be", "been", "being", "to", "of", "in", "on", "at", "for", "with", "from", "by",
	"about", "as", "into", "please", "can", "could", "would", "will", "shall", "should",
	"may", "might", "do", "does", "did", "done", "have", "has", "had", "want", "wanna",
	"wants", "like", "need", "needs", "i'd", "i'm", "i've", "i'll", "it's", "hi", "hello",
	"hey", "um", "uh", "er", "erm", "oh", "ok", "okay", "so", "just", "some", "any", "how",
	"what", "when", "which", "who", "where", "why", "get", "got", "help", "tell", "know",
	"let", "there's", "well", "yeah", "think", "thanks", "thank", "sir", "madam", "again",
	"also", "too", "very", "really", "today", "now", "right", "one", "someone", "something",
	"them", "they", "he", "she", "somebody", "anybody", "anyone", "his", "her", "if", "then",
	"than", "or", "and", "but", "because", "would've", "im", "id", "ive", "going", "gonna",
	"still", "that's", "what's", "where's", "how's", "it'll", "you're", "we're", "whats",
	"thats",
)

// negators start a negation; clauseEnds and punctuation stop it.
var (
	negators = setOf("not", "never", "no", "cannot", "without", "nor", "dont", "doesnt", "didnt",
		"cant", "wont", "havent", "hasnt", "isnt", "arent", "wasnt")
	clauseEnds = setOf("but", "and", "or", "so", "because", "i", "i'm", "i'd", "i've", "instead", "just", "only", "rather")
)

// negationScope is how many content words a negation covers: the verb
// that follows, which is what a caller denies ("I haven't lost my card, I
// want to activate it").
const negationScope = 1

// stopHan are Chinese function characters that say nothing about intent.
var stopHan = func() map[rune]bool {
	m := map[rune]bool{}
	for _, r := range "我的了吗呢你们是请啊吧呀嗯哦那这个一下想要您就在么和也都还把给帮" {
		m[r] = true
	}
	return m
}()

// hanNegators negate the next few characters.
var hanNegators = map[rune]bool{'不': true, '没': true, '别': true, '未': true, '无': true}

// hanNegationScope is how many characters a Chinese negation covers,
// function characters included.
const hanNegationScope = 3

// redactionLabel matches the labels personal data is replaced by; they
// would otherwise read as words ("card", "phone").
var redactionLabel = regexp.MustCompile(`\[(card|id|iban|ssn|phone|email)\]`)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// term is a unit of matching: a stemmed English word, a Chinese character
// or character pair, maybe prefixed by negMark.
type term struct {
	s   string
	han bool
	// key is an English word's sound key (see phonetic), negation aside.
	key string
}

// analyze turns text into terms.
func analyze(text string) []term {
	text = redactionLabel.ReplaceAllString(strings.ToLower(text), " , ")
	var out []term
	var word, han []rune
	neg := 0 // content words left under a negation
	flushWord := func() {
		if len(word) == 0 {
			return
		}
		w := strings.Trim(string(word), "'")
		word = word[:0]
		switch {
		case w == "":
		case negators[w] || strings.HasSuffix(w, "n't"):
			neg = negationScope
		case clauseEnds[w]:
			neg = 0
		case stopwords[w] || isNumber(w):
		default:
			s := stem(w)
			if neg > 0 {
				s = negMark + s
				neg--
			}
			out = append(out, term{s: s, key: phonetic(strings.TrimPrefix(s, negMark))})
		}
	}
	flushHan := func() {
		out = append(out, hanTerms(han)...)
		han = han[:0]
	}
	for _, r := range text {
		if r == '’' {
			r = '\''
		}
		switch {
		case unicode.Is(unicode.Han, r):
			flushWord()
			neg = 0
			han = append(han, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || (r == '\'' && len(word) > 0):
			flushHan()
			word = append(word, r)
		case unicode.IsSpace(r):
			flushWord()
		default: // punctuation ends a clause, and a negation with it
			flushWord()
			flushHan()
			neg = 0
		}
	}
	flushWord()
	flushHan()
	return out
}

// hanTerms turns a run of Chinese characters into single characters and
// pairs of neighbours. Function characters are dropped first, so that
// pairs form across them: 开个户 gives 开户, as 开户 does. A negation
// character marks the few characters after it, except in the A-not-A form
// of a question (有没有, 是不是), which negates nothing.
func hanTerms(run []rune) []term {
	var kept []rune
	var negated []bool
	neg := 0
	for i, r := range run {
		if hanNegators[r] {
			if !(i > 0 && i+1 < len(run) && run[i-1] == run[i+1]) {
				neg = hanNegationScope
			}
			continue
		}
		if stopHan[r] {
			if neg > 0 {
				neg--
			}
			continue
		}
		kept = append(kept, r)
		negated = append(negated, neg > 0)
		if neg > 0 {
			neg--
		}
	}
	var out []term
	for i, r := range kept {
		out = append(out, term{s: hanTerm(string(r), negated[i]), han: true})
		if i+1 < len(kept) {
			out = append(out, term{s: hanTerm(string(kept[i:i+2]), negated[i] || negated[i+1]), han: true})
		}
	}
	return out
}

func hanTerm(s string, negated bool) string {
	if negated {
		return negMark + s
	}
	return s
}

func isNumber(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// stem strips the endings that vary most in how callers say the same
// thing ("charges", "charged", "charging"), and undoubles a consonant left
// behind ("cancelled" → "cancel"). Stems only need to agree with each
// other, not be words.
func stem(w string) string {
	const minStem = 3
	for _, suf := range []string{"ies", "ing", "ion", "ed", "en", "es", "s", "e"} {
		if !strings.HasSuffix(w, suf) || len(w)-len(suf) < minStem {
			continue
		}
		if suf == "s" && (strings.HasSuffix(w, "ss") || strings.HasSuffix(w, "us") || strings.HasSuffix(w, "is")) {
			continue
		}
		s := w[:len(w)-len(suf)]
		switch suf {
		case "ies":
			s += "y"
		case "ing", "ed", "ion", "en":
			s = strings.TrimSuffix(s, "e")
			if n := len(s); n > minStem && s[n-1] == s[n-2] && !isVowel(s[n-1]) {
				s = s[:n-1]
			}
		}
		return s
	}
	return w
}

func isVowel(c byte) bool { return strings.IndexByte("aeiouy", c) >= 0 }

// phonetic is a rough sound key of an English word: vowels after the first
// letter dropped, consonants that differ only in voicing merged, so
// homophones and near-homophones a recognizer confuses ("card" and "cart",
// "fees" and "fies") share a key.
func phonetic(w string) string {
	var b strings.Builder
	var last byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c < 'a' || c > 'z' {
			continue
		}
		next := byte(0)
		if i+1 < len(w) {
			next = w[i+1]
		}
		switch {
		case isVowel(c):
			if i > 0 {
				last = 0
				continue
			}
			c = 'a'
		case c == 'p' && next == 'h':
			c = 'f'
			i++
		case c == 'c' && (next == 'e' || next == 'i' || next == 'y'):
			c = 's'
		case c == 'g' && (next == 'e' || next == 'i' || next == 'y'):
			c = 'j'
		case c == 'c' || c == 'q':
			c = 'k'
		case c == 'd':
			c = 't'
		case c == 'b':
			c = 'p'
		case c == 'v':
			c = 'f'
		case c == 'z':
			c = 's'
		case c == 'h' && i > 0, c == 'w' && i > 0:
			continue
		}
		if c != last {
			b.WriteByte(c)
		}
		last = c
	}
	return b.String()
}

// similarity of two terms in 0..1: exact, or for English words of some
// length, alike in sound or in spelling.
func similarity(a, b term) float64 {
	if a.s == b.s {
		return 1
	}
	if a.han || b.han || strings.HasPrefix(a.s, negMark) != strings.HasPrefix(b.s, negMark) {
		return 0
	}
	x, y := strings.TrimPrefix(a.s, negMark), strings.TrimPrefix(b.s, negMark)
	if len(x) < 3 || len(y) < 3 {
		return 0
	}
	if len(a.key) >= 3 && a.key == b.key {
		return 0.85
	}
	longest := max(len(x), len(y))
	if longest < 4 {
		return 0
	}
	r := 1 - float64(levenshtein(x, y))/float64(longest)
	if r < 0.75 {
		return 0
	}
	return 0.9 * r
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// example is one compiled example phrase.
type example struct {
	terms  []int   // indexes into the matcher's vocabulary
	weight float64 // sum of the terms' weights
}

// matcher scores text against every intent's examples.
type matcher struct {
	intents  []string    // names, in flow order
	examples [][]example // per intent
	vocab    []term      // every distinct example term
	weights  []float64   // of each vocabulary term
	index    map[string]int
}

// recallBias is how much more it counts that the caller said an example's
// words than that everything they said belongs to it: callers add words
// of their own ("I think I lost my card yesterday") far more often than
// they say half an example.
const recallBias = 2.0

// hanUnigramWeight scales single Chinese characters against character
// pairs, which say more.
const hanUnigramWeight = 0.5

// unknownWeight is the weight of a word no example has: as if it were in
// every intent's examples, so that words of the caller's own dilute a
// match without dominating it.
const unknownWeight = 1

func newMatcher(names []string, phrases [][]string) *matcher {
	m := &matcher{intents: names, index: map[string]int{}}
	var df []int
	analyzed := make([][][]term, len(phrases))
	for i, ps := range phrases {
		seen := map[string]bool{}
		for _, p := range ps {
			ts := dedupe(analyze(p))
			analyzed[i] = append(analyzed[i], ts)
			for _, t := range ts {
				id, ok := m.index[t.s]
				if !ok {
					id = len(m.vocab)
					m.index[t.s] = id
					m.vocab = append(m.vocab, t)
					df = append(df, 0)
				}
				if !seen[t.s] {
					seen[t.s] = true
					df[id]++
				}
			}
		}
	}
	n := float64(len(names))
	m.weights = make([]float64, len(m.vocab))
	for id, t := range m.vocab {
		m.weights[id] = (1 + math.Log(n/float64(df[id]))) * unigramFactor(t)
	}
	for i := range names {
		var exs []example
		for _, ts := range analyzed[i] {
			if len(ts) == 0 {
				continue
			}
			var e example
			for _, t := range ts {
				id := m.index[t.s]
				e.terms = append(e.terms, id)
				e.weight += m.weights[id]
			}
			exs = append(exs, e)
		}
		m.examples = append(m.examples, exs)
	}
	return m
}

func unigramFactor(t term) float64 {
	if t.han && len([]rune(strings.TrimPrefix(t.s, negMark))) == 1 {
		return hanUnigramWeight
	}
	return 1
}

func dedupe(ts []term) []term {
	seen := map[string]bool{}
	out := ts[:0:0]
	for _, t := range ts {
		if !seen[t.s] {
			seen[t.s] = true
			out = append(out, t)
		}
	}
	return out
}

// ambiguity is how close the runner-up intent's score may come before it
// lowers the best one's.
const ambiguity = 0.1

// contradiction is how alike a denied word must be to an example's word
// for the example to be ruled out: alike in sound or nearly in spelling.
const contradiction = 0.8

// opposite is the term negated, or no longer negated.
func opposite(t term) term {
	if s, ok := strings.CutPrefix(t.s, negMark); ok {
		return term{s: s, han: t.han, key: t.key}
	}
	return term{s: negMark + t.s, han: t.han, key: t.key}
}

func (m *matcher) weight(t term) float64 {
	if id, ok := m.index[t.s]; ok {
		return m.weights[id]
	}
	return unknownWeight * unigramFactor(t)
}

// Match is the intent a caller's words are closest to.
type Match struct {
	// Intent is the intent's name; empty when nothing scored.
	Intent string
	// Score is in 0..1; 1 means every word matched an example exactly.
	Score float64
}

// match returns the best-scoring intent.
func (m *matcher) match(text string) Match {
	said := dedupe(analyze(text))
	if len(said) == 0 {
		return Match{}
	}
	// How alike each word said is to each example term, computed once per
	// turn rather than once per example; and the example terms a word
	// said contradicts ("don't close" against "close").
	near := make([][]float64, len(said))
	saidWeight := make([]float64, len(said))
	var total float64
	denied := make([]bool, len(m.vocab))
	saidAs := map[string]bool{}
	for _, u := range said {
		saidAs[u.s] = true
	}
	for j, u := range said {
		saidWeight[j] = m.weight(u)
		total += saidWeight[j]
		near[j] = make([]float64, len(m.vocab))
		opp := opposite(u)
		for id, v := range m.vocab {
			near[j][id] = similarity(u, v)
			if !saidAs[v.s] && similarity(opp, v) >= contradiction {
				denied[id] = true
			}
		}
	}
	b2 := recallBias * recallBias
	var best, second Match
	for i, exs := range m.examples {
		var top float64
	examples:
		for _, e := range exs {
			for _, id := range e.terms {
				if denied[id] {
					continue examples
				}
			}
			var recall, precision float64
			for _, id := range e.terms {
				var s float64
				for j := range said {
					s = max(s, near[j][id])
				}
				recall += m.weights[id] * s
			}
			for j := range said {
				var s float64
				for _, id := range e.terms {
					s = max(s, near[j][id])
				}
				precision += saidWeight[j] * s
			}
			recall /= e.weight
			precision /= total
			if recall == 0 || precision == 0 {
				continue
			}
			top = max(top, (1+b2)*precision*recall/(b2*precision+recall))
		}
		switch {
		case top > best.Score:
			best, second = Match{Intent: m.intents[i], Score: top}, best
		case top > second.Score:
			second = Match{Intent: m.intents[i], Score: top}
		}
	}
	// Two intents scoring alike means the words do not decide between
	// them ("card" alone): the best one loses what the other comes close.
	best.Score = max(0, best.Score-max(0, second.Score-(best.Score-ambiguity)))
	return best
}
