package prosody

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Category is a kind of emotion a transcript can show in its words.
type Category string

// The lexicons' categories.
const (
	Anger    Category = "anger"
	Anxiety  Category = "anxiety"
	Distress Category = "distress"
	Thanks   Category = "thanks"
)

// TextCues is what the words of a transcript say about the caller's state,
// whatever their voice does.
type TextCues struct {
	// Anger, Anxiety, Distress and Thanks are scores in 0..1: the terms
	// of a category found, combined as independent evidence (1 − Π(1−w)),
	// each term weighted by how strongly it speaks (furious 1, annoyed
	// 0.5) and by an intensifier before it (very, 非常 ×1.3).
	Anger    float64 `json:"anger,omitempty"`
	Anxiety  float64 `json:"anxiety,omitempty"`
	Distress float64 `json:"distress,omitempty"`
	Thanks   float64 `json:"thanks,omitempty"`
	// Terms are the terms found, as "term (category)"; a negated term
	// ("not angry", "不生气") is listed as "not term" and scores nothing.
	Terms []string `json:"terms,omitempty"`
}

// Score is the score of category c.
func (tc TextCues) Score(c Category) float64 {
	switch c {
	case Anger:
		return tc.Anger
	case Anxiety:
		return tc.Anxiety
	case Distress:
		return tc.Distress
	case Thanks:
		return tc.Thanks
	}
	return 0
}

// Strongest is the negative category with the highest score, and that
// score; "" and 0 when none scores.
func (tc TextCues) Strongest() (Category, float64) {
	var best Category
	var score float64
	for _, c := range []Category{Anger, Anxiety, Distress} {
		if s := tc.Score(c); s > score {
			best, score = c, s
		}
	}
	return best, score
}

// Negativity is the strength of the worst negative cue, 0..1.
func (tc TextCues) Negativity() float64 {
	_, s := tc.Strongest()
	return s
}

func (tc *TextCues) add(c Category, w float64) {
	p := map[Category]*float64{Anger: &tc.Anger, Anxiety: &tc.Anxiety, Distress: &tc.Distress, Thanks: &tc.Thanks}[c]
	*p = 1 - (1-*p)*(1-min(w, 1))
}

type term struct {
	text string // lower case; English terms are space-separated words
	cat  Category
	w    float64
}

// The English lexicon: words and phrases a caller uses, weighted by how
// clearly they show the category. Inflections are listed, not stemmed.
var englishTerms = []term{
	// anger
	{"furious", Anger, 1}, {"livid", Anger, 1}, {"outraged", Anger, 1}, {"enraged", Anger, 1},
	{"angry", Anger, 0.8}, {"mad", Anger, 0.5}, {"pissed", Anger, 0.9}, {"pissed off", Anger, 1},
	{"annoyed", Anger, 0.5}, {"irritated", Anger, 0.5}, {"frustrated", Anger, 0.6}, {"frustrating", Anger, 0.6},
	{"fed up", Anger, 0.7}, {"sick of", Anger, 0.6}, {"sick and tired", Anger, 0.8},
	{"ridiculous", Anger, 0.6}, {"unacceptable", Anger, 0.8}, {"outrageous", Anger, 0.8},
	{"disgusting", Anger, 0.7}, {"disgraceful", Anger, 0.8}, {"pathetic", Anger, 0.7},
	{"useless", Anger, 0.6}, {"incompetent", Anger, 0.7}, {"hate", Anger, 0.6},
	{"scam", Anger, 0.7}, {"rip off", Anger, 0.6}, {"ripped off", Anger, 0.7}, {"cheated", Anger, 0.6},
	{"damn", Anger, 0.5}, {"damn it", Anger, 0.7}, {"what the hell", Anger, 0.7}, {"bloody", Anger, 0.4},
	{"stupid", Anger, 0.5}, {"idiot", Anger, 0.7}, {"idiots", Anger, 0.7}, {"shut up", Anger, 0.8},
	{"not happy", Anger, 0.6}, {"not acceptable", Anger, 0.8}, {"complaint", Anger, 0.4},
	{"thanks for nothing", Anger, 0.8}, {"thank you for nothing", Anger, 0.8},
	{"the worst", Anger, 0.6}, {"sue", Anger, 0.5}, {"lawyer", Anger, 0.4},
	// anxiety
	{"worried", Anxiety, 0.7}, {"worry", Anxiety, 0.5}, {"worrying", Anxiety, 0.6}, {"anxious", Anxiety, 0.8},
	{"nervous", Anxiety, 0.6}, {"scared", Anxiety, 0.8}, {"afraid", Anxiety, 0.6}, {"frightened", Anxiety, 0.8},
	{"terrified", Anxiety, 1}, {"panic", Anxiety, 0.9}, {"panicking", Anxiety, 0.9}, {"freaking out", Anxiety, 0.9},
	{"stressed", Anxiety, 0.7}, {"concerned", Anxiety, 0.5}, {"urgent", Anxiety, 0.6}, {"urgently", Anxiety, 0.6},
	{"emergency", Anxiety, 0.8}, {"hurry", Anxiety, 0.5}, {"as soon as possible", Anxiety, 0.4},
	{"asap", Anxiety, 0.4}, {"right now", Anxiety, 0.3}, {"immediately", Anxiety, 0.4}, {"desperate", Anxiety, 0.7},
	// distress
	{"sad", Distress, 0.7}, {"upset", Distress, 0.6}, {"depressed", Distress, 0.9}, {"hopeless", Distress, 0.9},
	{"helpless", Distress, 0.8}, {"miserable", Distress, 0.8}, {"crying", Distress, 0.8}, {"devastated", Distress, 0.9},
	{"heartbroken", Distress, 0.9}, {"overwhelmed", Distress, 0.7}, {"lonely", Distress, 0.7},
	{"exhausted", Distress, 0.5}, {"can't cope", Distress, 0.9}, {"cannot cope", Distress, 0.9},
	{"give up", Distress, 0.6}, {"lost everything", Distress, 0.8}, {"don't know what to do", Distress, 0.7},
	{"kill myself", Distress, 1}, {"end my life", Distress, 1}, {"suicide", Distress, 1},
	// thanks
	{"thank you", Thanks, 1}, {"thanks", Thanks, 0.8}, {"thank", Thanks, 0.8}, {"grateful", Thanks, 0.9},
	{"appreciate", Thanks, 0.8}, {"appreciate it", Thanks, 0.9}, {"helpful", Thanks, 0.6}, {"great", Thanks, 0.4},
	{"perfect", Thanks, 0.5}, {"wonderful", Thanks, 0.5}, {"excellent", Thanks, 0.5}, {"awesome", Thanks, 0.5},
	{"lovely", Thanks, 0.4}, {"cheers", Thanks, 0.4}, {"much better", Thanks, 0.4},
}

// The Chinese lexicon, matched on characters: a transcript has no spaces.
var chineseTerms = []term{
	// anger
	{"愤怒", Anger, 1}, {"气死", Anger, 1}, {"生气", Anger, 0.8}, {"火大", Anger, 0.8}, {"恼火", Anger, 0.8},
	{"不满", Anger, 0.6}, {"不满意", Anger, 0.6}, {"太过分", Anger, 0.8}, {"过分", Anger, 0.6},
	{"岂有此理", Anger, 0.9}, {"受够了", Anger, 0.8}, {"垃圾", Anger, 0.6}, {"骗子", Anger, 0.8},
	{"坑人", Anger, 0.7}, {"投诉", Anger, 0.5}, {"搞什么", Anger, 0.7}, {"烦死", Anger, 0.8},
	{"讨厌", Anger, 0.5}, {"混蛋", Anger, 0.9}, {"可恶", Anger, 0.7}, {"离谱", Anger, 0.6},
	{"太差", Anger, 0.6}, {"差劲", Anger, 0.6}, {"凭什么", Anger, 0.6}, {"他妈的", Anger, 0.9},
	{"欺骗", Anger, 0.7}, {"无语", Anger, 0.4}, {"不像话", Anger, 0.7},
	// anxiety
	{"着急", Anxiety, 0.7}, {"急死", Anxiety, 0.9}, {"紧急", Anxiety, 0.7}, {"担心", Anxiety, 0.7},
	{"害怕", Anxiety, 0.8}, {"焦虑", Anxiety, 0.9}, {"紧张", Anxiety, 0.6}, {"心慌", Anxiety, 0.8},
	{"慌了", Anxiety, 0.7}, {"恐慌", Anxiety, 0.9}, {"不安", Anxiety, 0.6}, {"怎么办", Anxiety, 0.5},
	{"赶紧", Anxiety, 0.5}, {"快点", Anxiety, 0.5}, {"尽快", Anxiety, 0.4}, {"马上", Anxiety, 0.3},
	{"来不及", Anxiety, 0.6}, {"急事", Anxiety, 0.6}, {"救命", Anxiety, 0.9},
	// distress
	{"难过", Distress, 0.7}, {"伤心", Distress, 0.8}, {"绝望", Distress, 1}, {"崩溃", Distress, 0.9},
	{"痛苦", Distress, 0.8}, {"无助", Distress, 0.8}, {"想哭", Distress, 0.8}, {"哭了", Distress, 0.7},
	{"失望", Distress, 0.6}, {"郁闷", Distress, 0.6}, {"沮丧", Distress, 0.7}, {"抑郁", Distress, 0.9},
	{"孤独", Distress, 0.6}, {"撑不下去", Distress, 0.9}, {"活不下去", Distress, 1}, {"不想活", Distress, 1},
	{"想死", Distress, 1},
	// thanks
	{"谢谢", Thanks, 1}, {"感谢", Thanks, 1}, {"多谢", Thanks, 1}, {"谢了", Thanks, 0.8},
	{"辛苦了", Thanks, 0.6}, {"太好了", Thanks, 0.6}, {"麻烦你了", Thanks, 0.5}, {"帮大忙", Thanks, 0.8},
	{"满意", Thanks, 0.5}, {"非常好", Thanks, 0.5},
}

var (
	englishNegators = []string{"not", "no", "never", "don't", "dont", "isn't", "wasn't", "aren't", "ain't",
		"nothing", "without", "hardly", "didn't", "doesn't", "won't", "wouldn't", "neither", "nor"}
	englishIntensifiers = []string{"very", "so", "really", "extremely", "absolutely", "totally", "completely",
		"incredibly", "seriously", "fucking", "bloody"}
	// chineseNegators are matched on the characters just before a term.
	chineseNegators     = []string{"不", "没", "别", "不是", "没有", "不太", "不很", "并不", "不用", "不会", "不要", "没那么", "不怎么"}
	chineseIntensifiers = []string{"非常", "特别", "太", "超级", "真", "极其", "十分", "好"}
)

// lexicon holds the terms ready for matching: English ones as word
// sequences, Chinese ones as rune strings, longest first so that 不满意
// is found before 满意 within it.
var lexicon = func() (l struct {
	en [][]string
	et []term
	zh []term
}) {
	en := slices.Clone(englishTerms)
	slices.SortStableFunc(en, func(a, b term) int { return len(strings.Fields(b.text)) - len(strings.Fields(a.text)) })
	for _, t := range en {
		l.en = append(l.en, strings.Fields(t.text))
		l.et = append(l.et, t)
	}
	l.zh = slices.Clone(chineseTerms)
	slices.SortStableFunc(l.zh, func(a, b term) int {
		return utf8.RuneCountInString(b.text) - utf8.RuneCountInString(a.text)
	})
	return l
}()

// ScanText finds the lexicons' terms in a transcript, English (on words,
// case-insensitively) and Chinese (on characters; mixed text works).
func ScanText(text string) TextCues {
	var tc TextCues
	scanEnglish(text, &tc)
	scanChinese(text, &tc)
	return tc
}

// words splits text into lower-case words, apostrophes kept inside them.
func words(text string) []string {
	text = strings.ReplaceAll(strings.ToLower(text), "’", "'")
	return strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) && !unicode.Is(unicode.Han, r)) && !unicode.IsDigit(r) && r != '\''
	})
}

func scanEnglish(text string, tc *TextCues) {
	ws := words(text)
	for i := 0; i < len(ws); {
		k := slices.IndexFunc(lexicon.en, func(seq []string) bool {
			return i+len(seq) <= len(ws) && slices.Equal(ws[i:i+len(seq)], seq)
		})
		if k < 0 {
			i++
			continue
		}
		t := lexicon.et[k]
		w := t.w
		negated := false
		for j := max(i-3, 0); j < i; j++ {
			switch {
			case slices.Contains(englishNegators, ws[j]):
				negated = true
			case ws[j] == "but":
				negated = false // "not only … but": the negation is over
			}
		}
		if i > 0 && slices.Contains(englishIntensifiers, ws[i-1]) {
			w *= 1.3
		}
		record(tc, t, w, negated)
		i += len(lexicon.en[k])
	}
}

func scanChinese(text string, tc *TextCues) {
	var starts [3]int // byte offsets of the last three runes before i
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		k := -1
		if unicode.Is(unicode.Han, r) {
			k = slices.IndexFunc(lexicon.zh, func(t term) bool { return strings.HasPrefix(text[i:], t.text) })
		}
		if k < 0 {
			starts = [3]int{starts[1], starts[2], i}
			i += size
			continue
		}
		t := lexicon.zh[k]
		before := text[min(starts[0], i):i]
		negated := false
		for _, n := range chineseNegators {
			if strings.HasSuffix(before, n) {
				negated = true
			}
		}
		w := t.w
		for _, n := range chineseIntensifiers {
			if strings.HasSuffix(before, n) {
				w *= 1.3
				break
			}
		}
		record(tc, t, w, negated)
		// The term's characters come before whatever follows it.
		for _, r := range t.text {
			starts = [3]int{starts[1], starts[2], i}
			i += utf8.RuneLen(r)
		}
	}
}

func record(tc *TextCues, t term, w float64, negated bool) {
	if negated {
		tc.Terms = append(tc.Terms, "not "+t.text)
		return
	}
	tc.add(t.cat, w)
	tc.Terms = append(tc.Terms, t.text+" ("+string(t.cat)+")")
}

// Syllables estimates the syllables spoken in a transcript: one for each
// Chinese character, and for each English word its vowel groups (a silent
// final e aside), at least one; a digit counts one.
func Syllables(text string) int {
	n := 0
	for _, r := range text {
		if unicode.Is(unicode.Han, r) {
			n++
		}
	}
	for _, w := range words(text) {
		n += wordSyllables(w)
	}
	return n
}

func wordSyllables(w string) int {
	n, digits := 0, 0
	inVowel := false
	for _, r := range w {
		if unicode.IsDigit(r) {
			digits++
		}
		v := strings.ContainsRune("aeiouy", r)
		if v && !inVowel {
			n++
		}
		inVowel = v
	}
	if n == 0 {
		return max(digits, 1)
	}
	if n > 1 && strings.HasSuffix(w, "e") && !strings.HasSuffix(w, "le") && !strings.HasSuffix(w, "ee") {
		n-- // a silent final e: "like", "phone"
	}
	if n > 1 && (strings.HasSuffix(w, "ed") && !strings.HasSuffix(w, "ted") && !strings.HasSuffix(w, "ded")) {
		n-- // "called", "checked"
	}
	return n + digits
}
