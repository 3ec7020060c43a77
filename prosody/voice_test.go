package prosody

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestArousalRisesWithPitchRateAndLoudness: with the caller's baseline
// learned at the middle setting, raising one of pitch, speaking rate or
// loudness while the others stay raises arousal at every step. Each
// setting is judged on four sentences, each by a fresh Tracker, and the
// mean must rise; no transcript is given, so the rate is the acoustic one.
func TestArousalRisesWithPitchRateAndLoudness(t *testing.T) {
	needSynth(t)
	type ladder struct {
		name  string
		steps []voice // base is steps[1]
	}
	ladders := []ladder{
		{"espeak-ng pitch -p 25/50/75/99", []voice{espeak(25, 160, 100), espeak(50, 160, 100), espeak(75, 160, 100), espeak(99, 160, 100)}},
		{"espeak-ng rate -s 120/160/220/300", []voice{espeak(50, 120, 100), espeak(50, 160, 100), espeak(50, 220, 100), espeak(50, 300, 100)}},
		{"espeak-ng amplitude -a 50/100/150/200", []voice{espeak(50, 160, 50), espeak(50, 160, 100), espeak(50, 160, 150), espeak(50, 160, 200)}},
		{"flite pitch 130/170/210/260 Hz", []voice{flite(130, 1, 0), flite(170, 1, 0), flite(210, 1, 0), flite(260, 1, 0)}},
		{"flite rate stretch 1.3/1/0.8/0.6", []voice{flite(0, 1.3, 0), flite(0, 1, 0), flite(0, 0.8, 0), flite(0, 0.6, 0)}},
		{"flite loudness −6/0/+4/+8 dB", []voice{flite(0, 1, -6), flite(0, 1, 0), flite(0, 1, 4), flite(0, 1, 8)}},
	}
	sentences := testSentences[:4]
	for _, l := range ladders {
		t.Run(l.name, func(t *testing.T) {
			base := l.steps[1]
			means := make([]float64, len(l.steps))
			per := make([][]float64, len(l.steps))
			var table strings.Builder
			for i, v := range l.steps {
				for _, s := range sentences {
					c := newCaller(t, base).Observe(Utterance{PCM: say(t, v, s)})
					per[i] = append(per[i], c.Arousal)
					means[i] += c.Arousal / float64(len(sentences))
				}
				fmt.Fprintf(&table, "  %-44v mean %.3f  %.2f\n", v, means[i], per[i])
			}
			t.Logf("arousal, baseline %v:\n%s", base, table.String())
			for i := 1; i < len(means); i++ {
				if means[i] <= means[i-1] {
					t.Errorf("mean arousal fell from %.3f to %.3f between %v and %v", means[i-1], means[i], l.steps[i-1], l.steps[i])
				}
			}
			last := len(l.steps) - 1
			for j, s := range sentences {
				if per[last][j] <= per[0][j]+0.05 {
					t.Errorf("%q: arousal %.2f at %v, not above %.2f at %v", s, per[last][j], l.steps[last], per[0][j], l.steps[0])
				}
			}
		})
	}
}

// TestSteadyCallerIsNeverFlagged: a caller who keeps their voice while
// saying twenty different sentences is never flagged, and their arousal
// varies little. The false-positive rate is logged.
func TestSteadyCallerIsNeverFlagged(t *testing.T) {
	needSynth(t)
	var turns, flagged int
	for _, v := range []voice{espeak(50, 160, 100), flite(0, 1, 0)} {
		tr := newCaller(t, v)
		var a []float64
		labels := map[Label]int{}
		trends := map[Trend]int{}
		for _, s := range testSentences {
			c := tr.Observe(Utterance{PCM: say(t, v, s), Text: s})
			a = append(a, c.Arousal)
			labels[c.Label]++
			trends[c.Trend]++
			turns++
			if c.Label.Flagged() {
				flagged++
				t.Errorf("%v: %q flagged %s (arousal %.2f): %v", v, s, c.Label, c.Arousal, c.Why)
			}
		}
		mean, sd, lo, hi := stats(a)
		t.Logf("%v, %d turns: arousal mean %.3f sd %.3f range %.2f–%.2f; labels %v; trends %v", v, len(a), mean, sd, lo, hi, labels, trends)
		if sd > 0.06 || hi-lo > 0.25 {
			t.Errorf("%v: arousal varies too much for a steady voice: sd %.3f, range %.2f–%.2f", v, sd, lo, hi)
		}
	}
	t.Logf("false positives on steady speech: %d of %d turns (%.1f %%)", flagged, turns, 100*float64(flagged)/float64(turns))
}

func stats(v []float64) (mean, sd, lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		mean += x
		lo, hi = min(lo, x), max(hi, x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v))), lo, hi
}

// TestEscalatingCallerIsFlaggedTenseThenAngry: after the baseline turns, a
// caller who gets louder, higher and faster over six turns (saying
// ordinary sentences) is flagged tense first, then angry, and the trend
// rises.
func TestEscalatingCallerIsFlaggedTenseThenAngry(t *testing.T) {
	needSynth(t)
	for _, c := range []struct {
		base  voice
		steps []voice
	}{
		{espeak(50, 160, 100), []voice{
			espeak(55, 170, 112), espeak(60, 180, 125), espeak(66, 195, 140),
			espeak(72, 210, 155), espeak(80, 230, 175), espeak(88, 250, 200)}},
		{flite(0, 1, 0), []voice{
			flite(178, 0.96, 1), flite(188, 0.92, 2), flite(200, 0.87, 3.5),
			flite(214, 0.82, 5), flite(230, 0.77, 6.5), flite(248, 0.72, 8)}},
	} {
		t.Run(c.base.engine, func(t *testing.T) {
			tr := newCaller(t, c.base)
			var cues []Cue
			var log strings.Builder
			for i, v := range c.steps {
				s := testSentences[i]
				cue := tr.Observe(Utterance{PCM: say(t, v, s), Text: s})
				cues = append(cues, cue)
				fmt.Fprintf(&log, "  %-44v arousal %.2f %-7s %-7s %v\n", v, cue.Arousal, cue.Label, cue.Trend, cue.Why)
			}
			t.Logf("escalating caller, baseline %v:\n%s", c.base, log.String())
			firstTense, firstAngry := -1, -1
			for i, cue := range cues {
				if cue.Label == Tense && firstTense < 0 {
					firstTense = i
				}
				if cue.Label == Angry && firstAngry < 0 {
					firstAngry = i
				}
				if firstAngry >= 0 && cue.Label != Angry && cue.Label != Tense {
					t.Errorf("turn %d: %s after being angry", i+1, cue.Label)
				}
				if i > 0 && cue.Arousal < cues[i-1].Arousal-0.05 {
					t.Errorf("turn %d: arousal fell from %.2f to %.2f", i+1, cues[i-1].Arousal, cue.Arousal)
				}
			}
			switch {
			case firstTense < 0 || firstAngry < 0:
				t.Errorf("never flagged both tense (%d) and angry (%d)", firstTense+1, firstAngry+1)
			case firstTense > firstAngry:
				t.Errorf("angry at turn %d before tense at turn %d", firstAngry+1, firstTense+1)
			}
			if cues[0].Label.Flagged() {
				t.Errorf("the first, slight step is already %s", cues[0].Label)
			}
			if last := cues[len(cues)-1]; last.Label != Angry || last.Source != FromVoice {
				t.Errorf("last turn: %s from %s, want angry from the voice", last.Label, last.Source)
			}
			if tr := cues[len(cues)-2].Trend; tr != Rising {
				t.Errorf("trend %s at turn 5, want rising", tr)
			}
		})
	}
}

// TestSubduedCallerIsLow: a caller who drops lower, slower and quieter than
// their normal is flagged low (sad).
func TestSubduedCallerIsLow(t *testing.T) {
	needSynth(t)
	tr := newCaller(t, espeak(50, 160, 100))
	var last Cue
	for _, s := range testSentences[:3] {
		last = tr.Observe(Utterance{PCM: say(t, espeak(25, 125, 55), s), Text: s})
	}
	if last.Label != Sad || last.Arousal > 0.2 {
		t.Errorf("subdued caller: %s, arousal %.2f: %v", last.Label, last.Arousal, last.Why)
	}
}

// TestWordsAndVoiceFused: the fusion rule on real speech, in English and in
// Chinese (espeak-ng's Mandarin voice).
func TestWordsAndVoiceFused(t *testing.T) {
	needSynth(t)
	calm, loud := espeak(50, 160, 100), espeak(85, 200, 190)
	zhCalm, zhLoud := mandarin(50, 160, 100), mandarin(85, 200, 190)
	cases := []struct {
		name   string
		v      voice
		text   string
		labels []Label
		source Source
		check  func(Cue) string
	}{
		{"calm voice, furious words", calm, "I am absolutely furious about this bill.", []Label{Angry}, FromText,
			func(c Cue) string {
				if c.Arousal >= 0.65 {
					return fmt.Sprintf("arousal %.2f: the voice was calm", c.Arousal)
				}
				return mustSay(c, "furious (anger)")
			}},
		{"shouted fine", loud, "Fine.", []Label{Tense, Angry}, FromVoice, nil},
		{"shouted fine, whatever", loud, "Fine, whatever you say.", []Label{Tense, Angry}, FromVoice, nil},
		{"thanks", calm, "Thank you so much, that was really helpful.", []Label{Calm}, "",
			func(c Cue) string {
				if c.Valence < 0.5 {
					return fmt.Sprintf("valence %.2f, want positive", c.Valence)
				}
				return ""
			}},
		{"worried words", calm, "I'm really worried, I need this sorted urgently.", []Label{Tense}, FromText, nil},
		{"negated anger", calm, "I am not angry, just a bit confused.", []Label{Neutral, Calm}, "", nil},
		{"shouted furious words", loud, "This is outrageous, I am furious!", []Label{Angry}, FromBoth,
			func(c Cue) string {
				if c.Confidence < 0.8 {
					return fmt.Sprintf("confidence %.2f with voice and words agreeing", c.Confidence)
				}
				return ""
			}},
		{"谢谢 thanks", zhCalm, "谢谢你的帮助。", []Label{Calm}, "",
			func(c Cue) string {
				if c.Valence <= 0 {
					return fmt.Sprintf("valence %.2f, want positive", c.Valence)
				}
				return ""
			}},
		{"我很着急 anxious", zhCalm, "我很着急。", []Label{Tense}, FromText, func(c Cue) string { return mustSay(c, "着急 (anxiety)") }},
		{"我非常生气 calm voice", zhCalm, "我非常生气。", []Label{Angry}, FromText, nil},
		{"好的 shouted", zhLoud, "好的。", []Label{Tense, Angry}, FromVoice, nil},
		{"我不生气 negated", zhCalm, "我不生气，只是想问清楚。", []Label{Neutral, Calm}, "", nil},
	}
	trackers := map[string]*Tracker{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each case gets its own caller, the baseline in the same
			// language and voice as the calm turns.
			base, sentences := calm, baselineSentences
			if c.v.lang == "cmn" {
				base, sentences = zhCalm, baselineChinese
			}
			key := base.String()
			if trackers[key] == nil {
				trackers[key] = newCallerSaying(t, base, sentences)
			}
			tr := *trackers[key] // a copy: every case starts from the baseline
			tr.cues = append([]Cue(nil), tr.cues...)
			cue := tr.Observe(Utterance{PCM: say(t, c.v, c.text), Text: c.text})
			t.Logf("%q in %v: %s from %s, arousal %.2f, valence %+.2f, confidence %.2f: %v",
				c.text, c.v, cue.Label, cue.Source, cue.Arousal, cue.Valence, cue.Confidence, cue.Why)
			ok := false
			for _, l := range c.labels {
				ok = ok || cue.Label == l
			}
			if !ok {
				t.Errorf("label %s, want one of %v", cue.Label, c.labels)
			}
			if c.source != "" && cue.Source != c.source {
				t.Errorf("source %s, want %s", cue.Source, c.source)
			}
			if c.check != nil {
				if msg := c.check(cue); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func mustSay(c Cue, why string) string {
	for _, w := range c.Why {
		if strings.Contains(w, why) {
			return ""
		}
	}
	return fmt.Sprintf("reasons %v do not mention %q", c.Why, why)
}
