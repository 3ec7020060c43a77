package prosody

import (
	"math"
	"strings"
	"testing"
)

func TestScanTextEnglish(t *testing.T) {
	for _, c := range []struct {
		text string
		want map[Category]float64 // score ≥ value; absent categories must be 0
	}{
		{"I am furious!", map[Category]float64{Anger: 1}},
		{"This is RIDICULOUS, I'm fed up", map[Category]float64{Anger: 0.8}},
		{"I'm a bit annoyed", map[Category]float64{Anger: 0.5}},
		{"I'm very annoyed", map[Category]float64{Anger: 0.65}},
		{"I'm not angry, just confused", nil},
		{"I'm not at all worried", nil},
		{"I'm worried, it's urgent", map[Category]float64{Anxiety: 0.85}},
		{"I feel hopeless and I can’t cope", map[Category]float64{Distress: 0.95}},
		{"Thank you, that was really helpful", map[Category]float64{Thanks: 1}},
		{"No thanks", nil},
		{"Thanks for nothing", map[Category]float64{Anger: 0.8}},
		{"fine", nil},
		{"I'd like to check my balance", nil},
		{"madam, I'd like to speak to the manager", nil}, // "mad" is a word, not a prefix
	} {
		tc := ScanText(c.text)
		for _, cat := range []Category{Anger, Anxiety, Distress, Thanks} {
			got, want := tc.Score(cat), c.want[cat]
			if want == 0 && got != 0 || want > 0 && got < want-1e-9 {
				t.Errorf("%q: %s %.2f, want %v (terms %v)", c.text, cat, got, want, tc.Terms)
			}
			if got < 0 || got > 1 {
				t.Errorf("%q: %s %.2f out of 0..1", c.text, cat, got)
			}
		}
	}
}

func TestScanTextChinese(t *testing.T) {
	for _, c := range []struct {
		text string
		want map[Category]float64
	}{
		{"我很着急", map[Category]float64{Anxiety: 0.7}},
		{"我非常生气！", map[Category]float64{Anger: 1}},
		{"气死我了，你们太过分了", map[Category]float64{Anger: 0.99}},
		{"谢谢", map[Category]float64{Thanks: 1}},
		{"谢谢你的帮助，辛苦了", map[Category]float64{Thanks: 1}},
		{"我不生气", nil},
		{"别着急", nil},
		{"我对这个服务不满意", map[Category]float64{Anger: 0.6}}, // 不满意 whole, not 满意 (thanks)
		{"我很满意", map[Category]float64{Thanks: 0.5}},
		{"我真的很绝望，不知道怎么办", map[Category]float64{Distress: 1, Anxiety: 0.5}},
		{"我想查一下余额", nil},
		{"OK 谢谢, I am furious", map[Category]float64{Thanks: 1, Anger: 1}}, // mixed
	} {
		tc := ScanText(c.text)
		for _, cat := range []Category{Anger, Anxiety, Distress, Thanks} {
			got, want := tc.Score(cat), c.want[cat]
			if want == 0 && got != 0 || want > 0 && got < want-1e-9 {
				t.Errorf("%q: %s %.2f, want %v (terms %v)", c.text, cat, got, want, tc.Terms)
			}
		}
	}
	if tc := ScanText("我不生气"); len(tc.Terms) != 1 || tc.Terms[0] != "not 生气" {
		t.Errorf("negated term reported as %v", tc.Terms)
	}
}

func TestSyllables(t *testing.T) {
	for text, want := range map[string]int{
		"":      0,
		"hello": 2,
		"I would like to check my account balance please": 11,
		"the phone called": 3,
		"谢谢你的帮助":           6,
		"我的 account 号码":    6,
		"call 0800":        5,
	} {
		if got := Syllables(text); got != want {
			t.Errorf("Syllables(%q) = %d, want %d", text, got, want)
		}
	}
}

// TestWordsWithoutABaseline: before the caller's baseline exists, the words
// still give a cue; the voice gives none.
func TestWordsWithoutABaseline(t *testing.T) {
	tr := NewTracker(Config{})
	c := tr.Observe(Utterance{PCM: make([]int16, 8000), Text: "I am furious"})
	if c.Label != Angry || c.Source != FromText || c.Baseline || c.Arousal != 0.5 {
		t.Errorf("furious words, no baseline: %+v", c)
	}
	c = tr.Observe(Utterance{Text: "谢谢"})
	if c.Label != Calm || c.Valence <= 0 {
		t.Errorf("thanks, no audio: %+v", c)
	}
	c = tr.Observe(Utterance{})
	if c.Label != Neutral || c.Source != "" || c.Confidence > 0.3 {
		t.Errorf("nothing: %+v", c)
	}
	if c.Turn != 3 || tr.Ready() {
		t.Errorf("turn %d, ready %v", c.Turn, tr.Ready())
	}
	for _, c := range tr.Cues() {
		if math.IsNaN(c.Confidence) || !strings.Contains(strings.Join(c.Why, " "), "baseline") {
			t.Errorf("cue %d: %+v", c.Turn, c)
		}
	}
}
