package dialog

import (
	"strings"
	"unicode"
)

// Yes and no, as a caller says them. Negative forms are looked for first:
// "not right", "不是" and "不对" contain a yes; but "没错" (exactly) and
// "没问题" (no problem) contain a no and mean yes.
var (
	yesWords = wordSet("yes", "yeah", "yep", "yup", "sure", "correct", "right", "ok", "okay",
		"please", "absolutely", "certainly", "definitely", "affirmative", "alright")
	noWords      = wordSet("no", "nope", "nah", "not", "don't", "dont", "wrong", "incorrect", "negative", "never")
	yesHan       = []string{"是", "对", "好", "可以", "要", "嗯", "行", "没错", "确定"}
	noHan        = []string{"不", "没", "否", "别"}
	yesDespiteNo = []string{"没错", "没问题", "不错"}
)

// YesNo reads a caller's short answer as "yes" or "no", in English or
// Chinese; ok is false when it is neither.
func YesNo(text string) (answer string, ok bool) {
	for _, h := range yesDespiteNo {
		if strings.Contains(text, h) {
			return "yes", true
		}
	}
	for _, h := range noHan {
		if strings.Contains(text, h) {
			return "no", true
		}
	}
	yes := false
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	}) {
		if noWords[w] || strings.HasSuffix(w, "n't") {
			return "no", true
		}
		yes = yes || yesWords[w]
	}
	if !yes {
		for _, h := range yesHan {
			yes = yes || strings.Contains(text, h)
		}
	}
	if yes {
		return "yes", true
	}
	return "", false
}

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
