package prosody

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// turnAt renders a synthetic turn: ten syllables at 4/s, the pitch falling
// a little from f0 as a statement does, at level dBFS.
func turnAt(rng *rand.Rand, f0, level float64) []int16 {
	return speechLike(rng, 8000, 0.3, phrase{f0, f0 * 0.9, 4, 6, level}, phrase{f0 * 0.95, f0 * 0.85, 4, 4, level - 2})
}

// TestTrendAndTimeline: a synthetic caller steady for three turns after
// the baseline, then rising a semitone and 1.5 dB a turn, then falling back;
// the trend follows, and the timeline encodes to JSON and back.
func TestTrendAndTimeline(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	tr := NewTracker(Config{})
	start := time.Duration(0)
	observe := func(f0, level float64) Cue {
		start += 5 * time.Second
		return tr.Observe(Utterance{PCM: turnAt(rng, f0, level), Start: start})
	}
	for i := range 3 {
		if c := observe(120, -20); c.Baseline || c.Label != Neutral {
			t.Fatalf("baseline turn %d: %+v", i+1, c)
		}
	}
	if !tr.Ready() {
		t.Fatal("no baseline after three turns")
	}
	var got []Trend
	var arousal []float64
	steps := []struct{ st, db float64 }{{0, 0}, {0, 0}, {0, 0}, {1, 1.5}, {2, 3}, {3, 4.5}, {4, 6}, {3, 4.5}, {2, 3}, {1, 1.5}, {0, 0}}
	for _, s := range steps {
		c := observe(120*math.Pow(2, s.st/12), -20+s.db)
		got = append(got, c.Trend)
		arousal = append(arousal, c.Arousal)
	}
	t.Logf("arousal %.2f\ntrends %v", arousal, got)
	// The trend is a line through the last four turns: it turns a turn or
	// two after the voice does.
	want := map[int]Trend{2: Steady, 4: Rising, 5: Rising, 6: Rising, 9: Falling, 10: Falling}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("turn %d (step %+v): trend %s, want %s", i+4, steps[i], got[i], w)
		}
	}
	if arousal[6] < 0.8 || math.Abs(arousal[0]-0.5) > 0.1 {
		t.Errorf("arousal at baseline %.2f, at +4 st +6 dB %.2f", arousal[0], arousal[6])
	}

	tl := tr.Timeline()
	if len(tl) != 3+len(steps) {
		t.Fatalf("timeline has %d points", len(tl))
	}
	b, err := json.Marshal(tl)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"turn":1`, `"at_ms":5000`, `"label":"neutral"`, `"arousal":`, `"trend":"rising"`, `"why":[`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("timeline JSON lacks %s: %.300s", key, b)
		}
	}
	var back []Point
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for i := range back {
		if back[i].Turn != tl[i].Turn || back[i].Label != tl[i].Label || back[i].Arousal != tl[i].Arousal ||
			back[i].Trend != tl[i].Trend || back[i].AtMS != tl[i].AtMS || len(back[i].Why) != len(tl[i].Why) {
			t.Errorf("point %d: %+v after a round trip, was %+v", i, back[i], tl[i])
		}
	}
	if tl[9].DurationMS < 2000 || tl[9].DurationMS > 3500 {
		t.Errorf("turn 10 lasted %d ms", tl[9].DurationMS)
	}
	// A Cue encodes too, features and all.
	last, _ := tr.Last()
	if _, err := json.Marshal(last); err != nil {
		t.Error(err)
	}
}

// TestShortTurnsWeighLess: a "yes" far from the caller's normal moves
// arousal less than a full sentence equally far, and does not enter the
// baseline.
func TestShortTurnsWeighLess(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	tr := NewTracker(Config{})
	short := speechLike(rng, 8000, 0, phrase{180, 170, 4, 1, -12})
	if c := tr.Observe(Utterance{PCM: short}); c.Baseline || !strings.Contains(strings.Join(c.Why, " "), "too short") {
		t.Errorf("short first turn: %+v", c)
	}
	for range 3 {
		tr.Observe(Utterance{PCM: turnAt(rng, 120, -20)})
	}
	if !tr.Ready() {
		t.Fatal("no baseline")
	}
	s := tr.Observe(Utterance{PCM: speechLike(rng, 8000, 0, phrase{150, 145, 4, 1, -14})})
	l := tr.Observe(Utterance{PCM: turnAt(rng, 150, -14)})
	if !(s.Arousal > 0.5 && s.Arousal < l.Arousal) || s.Confidence >= l.Confidence {
		t.Errorf("short turn arousal %.2f (confidence %.2f), full turn %.2f (%.2f)", s.Arousal, s.Confidence, l.Arousal, l.Confidence)
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config (all defaults): %v", err)
	}
	if got := NewTracker(Config{BaselineTurns: 5}).Config(); got.BaselineTurns != 5 || got.TenseArousal != DefaultConfig().TenseArousal {
		t.Errorf("defaults not filled: %+v", got)
	}
	for _, bad := range []Config{
		{TenseArousal: 0.9, AngryArousal: 0.85},
		{CalmArousal: 0.75},
		{AngryArousal: 1.2},
		{TextThreshold: 0.7, TextStrong: 0.5},
		{TrendTurns: 1},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
