package guard

import (
	"regexp"
	"strings"
	"unicode"
)

// englishClauses splits text into clauses of lower-case words joined by
// single spaces, contractions expanded ("don't" is "do not", "I'm" is "i
// am") so that patterns and negation see one spelling. Punctuation and Han
// characters end a clause: a negation does not reach across them.
func englishClauses(text string) []string {
	var clauses []string
	var words []string
	var word strings.Builder
	flushWord := func() {
		if word.Len() == 0 {
			return
		}
		words = append(words, expand(strings.Trim(word.String(), "'"))...)
		word.Reset()
	}
	flushClause := func() {
		flushWord()
		if len(words) > 0 {
			clauses = append(clauses, strings.Join(words, " "))
			words = words[:0]
		}
	}
	for _, r := range text {
		switch {
		case r == '\'' || r == '’' || r == '‘':
			word.WriteByte('\'')
		case unicode.Is(unicode.Han, r) || strings.ContainsRune(".,!?;:…\n\"“”()。，！？；：、", r):
			flushClause()
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word.WriteRune(unicode.ToLower(r))
		default:
			flushWord()
		}
	}
	flushClause()
	return clauses
}

// contractions are spelled out; the forms without an apostrophe are how
// recognizers often write them.
var contractions = map[string][]string{
	"can't": {"can", "not"}, "cant": {"can", "not"}, "cannot": {"can", "not"},
	"won't": {"will", "not"}, "ain't": {"is", "not"}, "shan't": {"shall", "not"},
	"dont": {"do", "not"}, "doesnt": {"does", "not"}, "didnt": {"did", "not"},
	"isnt": {"is", "not"}, "wasnt": {"was", "not"}, "wouldnt": {"would", "not"},
	"i'm": {"i", "am"}, "im": {"i", "am"}, "ive": {"i", "have"},
	"it's": {"it", "is"}, "that's": {"that", "is"}, "what's": {"what", "is"},
	"there's": {"there", "is"}, "life's": {"life", "is"}, "he's": {"he", "is"},
	"she's": {"she", "is"}, "who's": {"who", "is"}, "here's": {"here", "is"},
}

var suffixes = []struct {
	suffix string
	word   string
}{{"n't", "not"}, {"'ll", "will"}, {"'ve", "have"}, {"'d", "would"}, {"'re", "are"}, {"'m", "am"}, {"'s", ""}}

func expand(w string) []string {
	if w == "" {
		return nil
	}
	if e, ok := contractions[w]; ok {
		return e
	}
	for _, s := range suffixes {
		if stem, ok := strings.CutSuffix(w, s.suffix); ok && stem != "" {
			if s.word == "" {
				// A possessive: "my friend's" is about the friend.
				return []string{stem}
			}
			return []string{stem, s.word}
		}
	}
	return []string{w}
}

// hanClauses splits text at punctuation into clauses with the spaces some
// recognizers put between Chinese words removed.
func hanClauses(text string) []string {
	var clauses []string
	var b strings.Builder
	for _, r := range text {
		switch {
		case unicode.IsSpace(r):
		case strings.ContainsRune(".,!?;:…\"“”。，！？；：、", r):
			if b.Len() > 0 {
				clauses = append(clauses, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 {
		clauses = append(clauses, b.String())
	}
	return clauses
}

func hasHan(text string) bool {
	for _, r := range text {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// rule is a pattern of words. A match is rejected when its optional group
// named "not" matched: the words after it show another sense ("take my life
// savings", "想死你了").
type rule struct {
	re *regexp.Regexp
	// subject: the match must be about the caller (see englishWalk).
	subject bool
	// intent: the words before must say the caller means to ("going to
	// hurt myself", not "I hurt myself at the gym").
	intent bool
}

func rules(subject, intent bool, patterns ...string) []rule {
	out := make([]rule, len(patterns))
	for i, p := range patterns {
		out[i] = rule{re: regexp.MustCompile(p), subject: subject, intent: intent}
	}
	return out
}

// find returns the first match of r in clause that its "not" group does
// not reject, as byte offsets, or -1.
func (r rule) find(clause string) (int, int) {
	not := r.re.SubexpIndex("not")
	for _, m := range r.re.FindAllStringSubmatchIndex(clause, -1) {
		if not < 0 || m[2*not] < 0 {
			return m[0], m[1]
		}
	}
	return -1, -1
}

// context is what the words before a match say.
type context struct {
	negated bool
	intent  bool
	// caller: the subject is the caller ("I", or none said).
	caller bool
}

var (
	negators = set("not", "never", "no", "nor", "hardly")
	// clauseWords start a new thought: a subject before them is not the
	// subject of what follows.
	clauseWords = set("and", "but", "so", "because", "cause", "cuz", "or", "then", "yeah", "yes", "ok", "okay", "oh", "um", "uh")
)

// englishWalk reads the words before a match backwards, over auxiliaries,
// modals and adverbs (glue), to the first word that is none: a negator
// negates the match, "i" or the start of the clause makes the caller its
// subject, any other word (a noun, "he", "my friend") another subject.
func englishWalk(before string, glue, intents map[string]bool) context {
	words := strings.Fields(before)
	var c context
	for k := len(words) - 1; k >= 0; k-- {
		w := words[k]
		switch {
		case negators[w]:
			c.negated = true
			return c
		case w == "i":
			c.caller = true
			return c
		case glue[w]:
			c.intent = c.intent || intents[w]
		default:
			c.caller = clauseWords[w]
			return c
		}
	}
	c.caller = true
	return c
}

var (
	hanNegators = set("不", "没", "别", "未", "非", "无", "莫", "勿")
	hanQuestion = regexp.MustCompile(`为什么|为啥|怎么`)
)

// hanNegated reports whether the characters before a match negate it,
// reading back over glue characters. An A-not-A question ("能不能") and a
// why-not complaint ("为什么不能") ask rather than negate.
func hanNegated(before string, glue map[string]bool) bool {
	rs := []rune(before)
	for k := len(rs) - 1; k >= 0 && k >= len(rs)-6; k-- {
		c := string(rs[k])
		switch {
		case hanNegators[c]:
			if k > 0 && k+1 < len(rs) && rs[k-1] == rs[k+1] {
				continue
			}
			return !hanQuestion.MatchString(string(rs[:k]))
		case glue[c]:
		default:
			return false
		}
	}
	return false
}

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
