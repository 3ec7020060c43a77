package prosody

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Label names the state a Cue reports.
type Label string

// The labels, from the least to the most aroused.
const (
	// Sad is low or sad: flat, quiet, slow for this caller, or words of
	// distress.
	Sad Label = "sad"
	// Calm is at ease: quieter and slower than usual, or thanking.
	Calm Label = "calm"
	// Neutral is the caller's own normal.
	Neutral Label = "neutral"
	// Tense is tense or anxious: pitch, loudness and pace raised, or
	// words of worry and urgency.
	Tense Label = "tense"
	// Angry is a voice strongly raised and louder than usual, or words of
	// anger.
	Angry Label = "angry"
)

// Flagged reports whether a label asks for attention: tense, angry or sad.
func (l Label) Flagged() bool { return l == Tense || l == Angry || l == Sad }

// Source says what a Cue's label rests on; it is empty while the baseline is
// being learned and the words say nothing.
type Source string

const (
	// FromVoice: the voice alone (no lexicon term, or only neutral words).
	FromVoice Source = "voice"
	// FromText: the words, the voice being unremarkable or not yet known.
	FromText Source = "text"
	// FromBoth: voice and words agree.
	FromBoth Source = "voice+text"
)

// Trend is the direction of the caller's arousal over the last turns.
type Trend string

const (
	Steady  Trend = "steady"
	Rising  Trend = "rising"
	Falling Trend = "falling"
)

// Config tunes a Tracker. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// BaselineTurns is how many of the caller's first usable turns make
	// their baseline. Until then cues rest on the words only. Default 3.
	BaselineTurns int `yaml:"baseline_turns"`
	// MinVoiced is the voiced speech a turn needs to count towards the
	// baseline and for its voice to weigh fully; shorter turns ("yes")
	// are judged with proportionally less weight. Default 500ms.
	MinVoiced time.Duration `yaml:"min_voiced"`
	// Arousal thresholds of the voice's labels: from TenseArousal up a
	// turn is tense, from AngryArousal angry if it is also louder than
	// usual; below CalmArousal calm, below LowArousal low (sad).
	// Defaults 0.7, 0.82, 0.35, 0.2.
	TenseArousal float64 `yaml:"tense_arousal"`
	AngryArousal float64 `yaml:"angry_arousal"`
	CalmArousal  float64 `yaml:"calm_arousal"`
	LowArousal   float64 `yaml:"low_arousal"`
	// TextThreshold is the lexicon score from which words count; from
	// TextStrong a negative category decides the label even against an
	// unremarkable voice. Defaults 0.3 and 0.6.
	TextThreshold float64 `yaml:"text_threshold"`
	TextStrong    float64 `yaml:"text_strong"`
	// TrendTurns is how many recent turns the trend is fitted over, and
	// TrendSlope the arousal change per turn from which it is rising or
	// falling. Defaults 4 and 0.04.
	TrendTurns int     `yaml:"trend_turns"`
	TrendSlope float64 `yaml:"trend_slope"`
}

// DefaultConfig returns the defaults: a three-turn baseline.
func DefaultConfig() Config {
	return Config{
		BaselineTurns: 3,
		MinVoiced:     500 * time.Millisecond,
		TenseArousal:  0.7,
		AngryArousal:  0.82,
		CalmArousal:   0.35,
		LowArousal:    0.2,
		TextThreshold: 0.3,
		TextStrong:    0.6,
		TrendTurns:    4,
		TrendSlope:    0.04,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *float64, def float64) {
		if *v <= 0 {
			*v = def
		}
	}
	if c.BaselineTurns <= 0 {
		c.BaselineTurns = d.BaselineTurns
	}
	if c.MinVoiced <= 0 {
		c.MinVoiced = d.MinVoiced
	}
	if c.TrendTurns <= 0 {
		c.TrendTurns = d.TrendTurns
	}
	set(&c.TenseArousal, d.TenseArousal)
	set(&c.AngryArousal, d.AngryArousal)
	set(&c.CalmArousal, d.CalmArousal)
	set(&c.LowArousal, d.LowArousal)
	set(&c.TextThreshold, d.TextThreshold)
	set(&c.TextStrong, d.TextStrong)
	set(&c.TrendSlope, d.TrendSlope)
	return c
}

// Validate reports settings a Tracker cannot work with (zero fields are
// fine: they take defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case !(c.LowArousal < c.CalmArousal && c.CalmArousal < c.TenseArousal && c.TenseArousal < c.AngryArousal && c.AngryArousal < 1):
		return fmt.Errorf("prosody: arousal thresholds must rise: low %g < calm %g < tense %g < angry %g < 1",
			c.LowArousal, c.CalmArousal, c.TenseArousal, c.AngryArousal)
	case c.TextThreshold > c.TextStrong || c.TextStrong > 1:
		return fmt.Errorf("prosody: text_threshold %g must not exceed text_strong %g ≤ 1", c.TextThreshold, c.TextStrong)
	case c.TrendTurns < 2:
		return errors.New("prosody: trend_turns must be at least 2")
	}
	return nil
}

// Utterance is one turn of the caller's, as the voice activity detector cut
// it (media.Utterance), with what the recognizer made of it.
type Utterance struct {
	// PCM is the caller's audio at Rate Hz (0: 8000).
	PCM  []int16
	Rate int
	// Text is the transcript, if any, in English or Chinese.
	Text string
	// Words is the recognizer's word count, used for the speaking rate
	// when there is no Text; WordSpan is the recognizer's timing, from
	// the start of the first word to the end of the last (0: the speech
	// measured in PCM).
	Words    int
	WordSpan time.Duration
	// Start is when the turn began on the call's clock.
	Start time.Duration
}

// Deviation is how far an utterance is from the caller's baseline, in the
// features' own units.
type Deviation struct {
	// Pitch is the mean F0 against the baseline's, in semitones.
	Pitch float64 `json:"pitch_st"`
	// Range is the F0 range's difference, in semitones.
	Range float64 `json:"range_st"`
	// Energy is the loudness's difference, in dB.
	Energy float64 `json:"energy_db"`
	// Rate is the speaking rate's relative change: 0.2 is 20 % faster.
	Rate float64 `json:"rate"`
	// Pause is the pause ratio's difference (0.1: ten points more).
	Pause float64 `json:"pause"`
	// The same as scores: each difference over the caller's own spread
	// of that feature (floored at a typical speaker's), capped at ±4.
	PitchZ  float64 `json:"pitch_z"`
	RangeZ  float64 `json:"range_z"`
	EnergyZ float64 `json:"energy_z"`
	RateZ   float64 `json:"rate_z"`
	PauseZ  float64 `json:"pause_z"`
}

// Cue is the emotion cue of one turn.
type Cue struct {
	// Turn counts the caller's turns from 1.
	Turn  int           `json:"turn"`
	Start time.Duration `json:"-"`
	// Arousal, 0..1, is how activated the voice is against the caller's
	// baseline: 0.5 is their normal, above is raised pitch, loudness and
	// pace. It comes from the voice alone; 0.5 while the baseline is being
	// learned.
	Arousal float64 `json:"arousal"`
	// Valence, −1..1, is how negative or positive the turn is, mostly
	// from the words: prosody hardly tells.
	Valence float64 `json:"valence"`
	// Label is the fused verdict, VoiceLabel what the voice alone says.
	Label      Label  `json:"label"`
	VoiceLabel Label  `json:"voice_label"`
	Source     Source `json:"source,omitempty"`
	// Confidence, 0..1, in Label.
	Confidence float64 `json:"confidence"`
	// Baseline is set once the caller's baseline is known; the turns
	// that build it have no voice verdict.
	Baseline  bool      `json:"baseline"`
	Features  Features  `json:"features"`
	Deviation Deviation `json:"deviation"`
	Text      TextCues  `json:"text"`
	Trend     Trend     `json:"trend"`
	// Why lists, for a person reading the cue, what it rests on.
	Why []string `json:"why,omitempty"`
}

// Point is one turn in a call's emotion timeline, as it is stored.
type Point struct {
	Turn       int      `json:"turn"`
	AtMS       int64    `json:"at_ms"`
	DurationMS int64    `json:"duration_ms"`
	Label      Label    `json:"label"`
	Arousal    float64  `json:"arousal"`
	Valence    float64  `json:"valence"`
	Confidence float64  `json:"confidence"`
	Source     Source   `json:"source,omitempty"`
	Trend      Trend    `json:"trend"`
	Why        []string `json:"why,omitempty"`
}

// Arousal model. Each feature's deviation is scaled by the caller's own
// spread of it over the baseline turns, but never by less than these
// floors, a speaker's ordinary turn-to-turn variation: a baseline of three
// turns cannot measure its own spread well.
const (
	floorPitchST  = 1.5  // semitones
	floorRangeST  = 2.5  // semitones
	floorEnergyDB = 2.5  // dB
	floorRate     = 0.15 // relative (log ratio)
	floorPause    = 0.12 // pause ratio
	maxZ          = 4.0

	// Weights of the deviations in arousal: pitch and loudness carry
	// most of it (Scherer 2003, Banse and Scherer 1996), pace some, and
	// the pitch range and pauses a little.
	wPitch  = 0.35
	wEnergy = 0.35
	wRate   = 0.2
	wRange  = 0.1
	wPause  = -0.1
	// arousalGain maps the weighted score to 0..1 through a logistic:
	// a score of 1 (every feature one floor up) is arousal 0.77.
	arousalGain = 1.2

	// angryEnergyZ: an angry voice is also louder than the caller's usual.
	angryEnergyZ = 0.8
	// minRateNuclei and minRatePhonation: fewer syllables or less speech
	// give no speaking rate.
	minRateNuclei    = 3
	minRatePhonation = 600 * time.Millisecond
	// syllablesPerWord estimates syllables from a bare word count.
	syllablesPerWord = 1.4
)

// baseline holds the mean and spread of each feature over the first turns.
type baseline struct {
	n                                     int
	pitch, rng, energy, rate, text, pause stat
}

// stat accumulates a feature over the baseline turns.
type stat struct{ n, sum, sum2 float64 }

func (s *stat) add(v float64) { s.n++; s.sum += v; s.sum2 += v * v }

func (s stat) ok() bool { return s.n > 0 }

func (s stat) mean() float64 { return s.sum / s.n }

// scale is the spread a deviation is divided by: the baseline's standard
// deviation and the floor together.
func (s stat) scale(floor float64) float64 {
	var v float64
	if s.n > 1 {
		m := s.mean()
		v = max(s.sum2/s.n-m*m, 0) * s.n / (s.n - 1)
	}
	return math.Sqrt(v + floor*floor)
}

// Tracker follows one caller through a call: it learns their baseline from
// their first turns, then gives each turn a Cue against it, and keeps the
// call's emotion timeline and trend. A Tracker is not safe for concurrent
// use: it belongs to the call's session.
type Tracker struct {
	cfg     Config
	base    baseline
	cues    []Cue
	arousal []float64 // arousal of the turns judged against the baseline
}

// NewTracker returns a Tracker with cfg, its zero fields defaulted.
func NewTracker(cfg Config) *Tracker {
	return &Tracker{cfg: cfg.withDefaults()}
}

// Config returns the Tracker's configuration, defaults filled in.
func (t *Tracker) Config() Config { return t.cfg }

// Ready reports whether the caller's baseline is known.
func (t *Tracker) Ready() bool { return t.base.n >= t.cfg.BaselineTurns }

// Observe analyses one turn and returns its cue, which joins the timeline.
func (t *Tracker) Observe(u Utterance) Cue {
	rate := u.Rate
	if rate == 0 {
		rate = analysisRate
	}
	f := Analyze(u.PCM, rate)
	f.TextRate = textRate(u, f)
	c := Cue{
		Turn:     len(t.cues) + 1,
		Start:    u.Start,
		Arousal:  0.5,
		Features: f,
		Text:     ScanText(u.Text),
	}
	weight := min(f.Voiced.Seconds()/t.cfg.MinVoiced.Seconds(), 1)
	switch {
	case !t.Ready():
		c.VoiceLabel = Neutral
		if weight >= 1 {
			t.learn(f)
			c.Why = append(c.Why, fmt.Sprintf("learning the caller's baseline (%d of %d turns)", t.base.n, t.cfg.BaselineTurns))
		} else {
			c.Why = append(c.Why, "learning the caller's baseline (turn too short to use)")
		}
	case f.Voiced == 0:
		c.VoiceLabel = Neutral
		c.Baseline = true
		c.Why = append(c.Why, "no voiced speech")
	default:
		c.Baseline = true
		c.Deviation = t.deviation(f)
		c.Arousal = t.arousalOf(c.Deviation, weight)
		c.VoiceLabel = t.voiceLabel(c.Arousal, c.Deviation)
		c.Why = append(c.Why, describe(c.Deviation, weight)...)
		t.arousal = append(t.arousal, c.Arousal)
	}
	t.fuse(&c, weight)
	c.Trend = t.trend()
	t.cues = append(t.cues, c)
	return c
}

// textRate is the speaking rate the transcript gives: its syllables over
// the time they were spoken in.
func textRate(u Utterance, f Features) float64 {
	syl := float64(Syllables(u.Text))
	if syl == 0 {
		syl = syllablesPerWord * float64(u.Words)
	}
	if syl == 0 {
		return 0
	}
	span := f.Phonation
	if u.WordSpan > 0 {
		span = u.WordSpan - time.Duration(f.PauseRatio*float64(f.Speech))
	}
	if span < minRatePhonation {
		return 0
	}
	return syl / span.Seconds()
}

func (t *Tracker) learn(f Features) {
	b := &t.base
	b.n++
	b.pitch.add(semitones(f.F0Mean, 100))
	b.rng.add(f.F0Range)
	b.energy.add(f.EnergyMean)
	b.pause.add(f.PauseRatio)
	if f.Nuclei >= minRateNuclei && f.Phonation >= minRatePhonation {
		b.rate.add(math.Log(f.Rate))
	}
	if f.TextRate > 0 {
		b.text.add(math.Log(f.TextRate))
	}
}

func clampZ(z float64) float64 { return max(min(z, maxZ), -maxZ) }

func (t *Tracker) deviation(f Features) Deviation {
	b := t.base
	var d Deviation
	d.Pitch = semitones(f.F0Mean, 100) - b.pitch.mean()
	d.PitchZ = clampZ(d.Pitch / b.pitch.scale(floorPitchST))
	d.Range = f.F0Range - b.rng.mean()
	d.RangeZ = clampZ(d.Range / b.rng.scale(floorRangeST))
	d.Energy = f.EnergyMean - b.energy.mean()
	d.EnergyZ = clampZ(d.Energy / b.energy.scale(floorEnergyDB))
	d.Pause = f.PauseRatio - b.pause.mean()
	d.PauseZ = clampZ(d.Pause / b.pause.scale(floorPause))
	// The speaking rate: acoustic and, when there is a transcript, from
	// its syllables, each against its own baseline (the two count
	// differently), averaged.
	var lr, zr float64
	var n int
	if b.rate.ok() && f.Nuclei >= minRateNuclei && f.Phonation >= minRatePhonation {
		l := math.Log(f.Rate) - b.rate.mean()
		lr += l
		zr += l / b.rate.scale(floorRate)
		n++
	}
	if b.text.ok() && f.TextRate > 0 {
		l := math.Log(f.TextRate) - b.text.mean()
		lr += l
		zr += l / b.text.scale(floorRate)
		n++
	}
	if n > 0 {
		d.Rate = math.Exp(lr/float64(n)) - 1
		d.RateZ = clampZ(zr / float64(n))
	}
	return d
}

// arousalOf maps the deviations to 0..1; weight (0..1, the share of a
// full turn's voiced speech) shrinks a short turn's evidence towards the
// caller's normal.
func (t *Tracker) arousalOf(d Deviation, weight float64) float64 {
	s := wPitch*d.PitchZ + wEnergy*d.EnergyZ + wRate*d.RateZ + wRange*d.RangeZ + wPause*d.PauseZ
	return 1 / (1 + math.Exp(-arousalGain*weight*s))
}

func (t *Tracker) voiceLabel(a float64, d Deviation) Label {
	c := t.cfg
	switch {
	case a >= c.AngryArousal && d.EnergyZ >= angryEnergyZ:
		return Angry
	case a >= c.TenseArousal:
		return Tense
	case a < c.LowArousal:
		return Sad
	case a < c.CalmArousal:
		return Calm
	}
	return Neutral
}

// describe says which deviations stand out (a score of 1 or more).
func describe(d Deviation, weight float64) []string {
	var why []string
	if weight < 1 {
		why = append(why, fmt.Sprintf("short turn: voice weighs %.0f %%", 100*weight))
	}
	add := func(z float64, up, down string, v float64) {
		if math.Abs(z) < 1 {
			return
		}
		s := up
		if z < 0 {
			s = down
		}
		why = append(why, fmt.Sprintf(s, v))
	}
	add(d.PitchZ, "pitch %+.1f st", "pitch %+.1f st", d.Pitch)
	add(d.EnergyZ, "louder %+.1f dB", "quieter %+.1f dB", d.Energy)
	add(d.RateZ, "faster %+.0f %%", "slower %+.0f %%", 100*d.Rate)
	add(d.RangeZ, "wider pitch range %+.1f st", "flatter pitch %+.1f st", d.Range)
	add(d.PauseZ, "more pauses %+.2f", "fewer pauses %+.2f", d.Pause)
	if len(why) == 0 || (weight < 1 && len(why) == 1) {
		why = append(why, fmt.Sprintf("voice close to usual (pitch %+.1f st, %+.1f dB, rate %+.0f %%)", d.Pitch, d.Energy, 100*d.Rate))
	}
	return why
}

// fuse combines the voice's label with the words' cues; see the package
// documentation for the rule.
func (t *Tracker) fuse(c *Cue, weight float64) {
	cfg := t.cfg
	voice := c.VoiceLabel
	// The voice's confidence: how much speech it rests on and how clear
	// of the nearest threshold its arousal is.
	var cv float64
	if c.Baseline && c.Features.Voiced > 0 {
		margin := math.MaxFloat64
		for _, th := range []float64{cfg.LowArousal, cfg.CalmArousal, cfg.TenseArousal, cfg.AngryArousal} {
			margin = min(margin, math.Abs(c.Arousal-th))
		}
		cv = weight * (0.5 + 0.4*min(margin/0.1, 1))
	}
	neg, ns := c.Text.Strongest()
	th := c.Text.Thanks
	if ns < cfg.TextThreshold {
		neg, ns = "", 0
	}
	if th < cfg.TextThreshold {
		th = 0
	}
	for _, term := range c.Text.Terms {
		c.Why = append(c.Why, "said: "+term)
	}
	raised := voice == Tense || voice == Angry
	label, src, conf := voice, FromVoice, cv
	switch {
	case neg != "" && ns >= th:
		// Negative words: they say which emotion; the voice says how
		// strongly it is felt.
		var textLabel Label
		switch neg {
		case Anger:
			textLabel = Tense
			if ns >= cfg.TextStrong || raised {
				textLabel = Angry
			}
		case Anxiety:
			textLabel = Tense
			if voice == Angry {
				textLabel = Angry
			}
		case Distress:
			textLabel = Sad
			if raised {
				textLabel = Tense
			}
		}
		agree := raised && neg != Distress || (voice == Sad || voice == Calm) && neg == Distress
		switch {
		case agree:
			label, src, conf = textLabel, FromBoth, 1-(1-cv)*(1-ns)
		case raised && neg == Distress:
			label, src, conf = textLabel, FromBoth, 0.5*(cv+ns)
		default:
			// Calm voice, strong words ("I am furious", said evenly):
			// the words decide, and the voice not backing them costs
			// confidence.
			label, src, conf = textLabel, FromText, ns*(1-0.3*cv)
			if ns < cfg.TextStrong && neg == Anger {
				label = Tense
			}
		}
	case th > 0:
		// Thanks: the caller is calm, or relieved if the voice is
		// raised; only a voice raised to anger keeps a flag, a step
		// down (a shouted "thanks" may be sarcasm the words cannot
		// show).
		switch voice {
		case Angry:
			label, src, conf = Tense, FromVoice, cv*0.6
		case Tense:
			label, src, conf = Calm, FromText, th*0.6
		default:
			label, src, conf = Calm, FromText, max(th*(0.6+0.4*cv), cv)
			if voice == Calm {
				src = FromBoth
			}
		}
	case !c.Baseline:
		// No baseline yet and nothing in the words: no verdict.
		src, conf = "", 0.2
	}
	c.Label, c.Source, c.Confidence = label, src, clamp01(conf)
	// Valence: the words, with a small push from the voice's verdict
	// when it is all there is.
	c.Valence = c.Text.Thanks - c.Text.Negativity()
	if c.Text.Thanks == 0 && c.Text.Negativity() == 0 {
		switch voice {
		case Angry:
			c.Valence = -0.3
		case Sad:
			c.Valence = -0.2
		}
	}
	c.Valence = max(min(c.Valence, 1), -1)
}

func clamp01(v float64) float64 { return max(min(v, 1), 0) }

// trend fits a line to the arousal of the last TrendTurns judged turns.
func (t *Tracker) trend() Trend {
	a := t.arousal
	if len(a) < 3 {
		return Steady
	}
	a = a[max(len(a)-t.cfg.TrendTurns, 0):]
	n := float64(len(a))
	var mx, my float64
	for i, v := range a {
		mx += float64(i)
		my += v
	}
	mx /= n
	my /= n
	var num, den float64
	for i, v := range a {
		num += (float64(i) - mx) * (v - my)
		den += (float64(i) - mx) * (float64(i) - mx)
	}
	switch slope := num / den; {
	case slope >= t.cfg.TrendSlope:
		return Rising
	case slope <= -t.cfg.TrendSlope:
		return Falling
	}
	return Steady
}

// Last returns the latest cue, and false before the first turn.
func (t *Tracker) Last() (Cue, bool) {
	if len(t.cues) == 0 {
		return Cue{}, false
	}
	return t.cues[len(t.cues)-1], true
}

// Cues returns every cue so far, oldest first.
func (t *Tracker) Cues() []Cue { return append([]Cue(nil), t.cues...) }

// Timeline returns the call's emotion timeline so far, one Point a turn,
// ready for encoding/json.
func (t *Tracker) Timeline() []Point {
	out := make([]Point, len(t.cues))
	for i, c := range t.cues {
		out[i] = c.Point()
	}
	return out
}

// Point is the cue as the call's record keeps it.
func (c Cue) Point() Point {
	return Point{
		Turn:       c.Turn,
		AtMS:       c.Start.Milliseconds(),
		DurationMS: c.Features.Speech.Milliseconds(),
		Label:      c.Label,
		Arousal:    round3(c.Arousal),
		Valence:    round3(c.Valence),
		Confidence: round3(c.Confidence),
		Source:     c.Source,
		Trend:      c.Trend,
		Why:        append([]string(nil), c.Why...),
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
