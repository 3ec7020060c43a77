package guard

import (
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/prosody"
	"gopkg.in/yaml.v3"
)

func cue(label prosody.Label, confidence float64) prosody.Cue {
	return prosody.Cue{Label: label, Confidence: confidence}
}

func TestMood(t *testing.T) {
	const (
		angry = prosody.Angry
		tense = prosody.Tense
		calm  = prosody.Calm
		neut  = prosody.Neutral
		sad   = prosody.Sad
	)
	type turn struct {
		label prosody.Label
		conf  float64
		want  Escalation
	}
	for _, tt := range []struct {
		name  string
		cfg   MoodConfig
		turns []turn
	}{
		{"offer then transfer", MoodConfig{}, []turn{
			{angry, 0.9, None}, {tense, 0.8, Offer}, {angry, 0.9, Transfer}}},
		{"calm resets before the offer", MoodConfig{}, []turn{
			{angry, 0.9, None}, {calm, 0.7, None}, {angry, 0.9, None}, {angry, 0.9, Offer}}},
		{"neutral after the offer starts over", MoodConfig{}, []turn{
			{angry, 0.9, None}, {angry, 0.9, Offer}, {neut, 0.8, None}, {angry, 0.9, None}, {angry, 0.9, Offer}}},
		{"unconfident turns change nothing", MoodConfig{}, []turn{
			{angry, 0.9, None}, {angry, 0.3, None}, {calm, 0.2, None}, {tense, 0.7, Offer}, {neut, 0.4, None}, {angry, 0.6, Transfer}}},
		{"sad is not watched by default", MoodConfig{}, []turn{
			{sad, 0.9, None}, {sad, 0.9, None}, {angry, 0.9, None}, {sad, 0.9, None}, {angry, 0.9, Offer}}},
		{"sad watched when configured", MoodConfig{Labels: []prosody.Label{sad}}, []turn{
			{sad, 0.9, None}, {sad, 0.9, Offer}, {angry, 0.9, None}, {sad, 0.9, Transfer}}},
		{"starts over after a transfer", MoodConfig{}, []turn{
			{angry, 0.9, None}, {angry, 0.9, Offer}, {angry, 0.9, Transfer}, {angry, 0.9, None}, {angry, 0.9, Offer}}},
		{"configured counts", MoodConfig{OfferAfter: 3, TransferAfter: 2, MinConfidence: 0.5}, []turn{
			{angry, 0.5, None}, {tense, 0.5, None}, {angry, 0.5, Offer}, {angry, 0.9, None}, {angry, 0.9, Transfer}}},
		{"offer on the first turn", MoodConfig{OfferAfter: 1}, []turn{
			{angry, 0.9, Offer}, {calm, 0.9, None}, {tense, 0.9, Offer}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMood(tt.cfg)
			for i, tr := range tt.turns {
				if got := m.Observe(cue(tr.label, tr.conf)); got != tr.want {
					t.Errorf("turn %d (%s %.1f): %v, want %v", i+1, tr.label, tr.conf, got, tr.want)
				}
			}
		})
	}
}

func TestMoodReset(t *testing.T) {
	m := NewMood(MoodConfig{})
	m.Observe(cue(prosody.Angry, 0.9))
	if got := m.Observe(cue(prosody.Angry, 0.9)); got != Offer {
		t.Fatalf("second angry turn: %v, want offer", got)
	}
	m.Reset() // the caller declined
	if got := m.Observe(cue(prosody.Angry, 0.9)); got != None {
		t.Errorf("after Reset: %v, want none", got)
	}
}

func TestMoodConfig(t *testing.T) {
	var cfg struct {
		Mood MoodConfig `yaml:"mood"`
	}
	src := "mood:\n  offer_after: 3\n  transfer_after: 2\n  min_confidence: 0.7\n  labels: [angry, sad]\n"
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	want := MoodConfig{OfferAfter: 3, TransferAfter: 2, MinConfidence: 0.7, Labels: []prosody.Label{prosody.Angry, prosody.Sad}}
	if got := cfg.Mood; got.OfferAfter != want.OfferAfter || got.TransferAfter != want.TransferAfter ||
		got.MinConfidence != want.MinConfidence || len(got.Labels) != 2 || got.Labels[1] != prosody.Sad {
		t.Errorf("parsed %+v, want %+v", got, want)
	}
	if err := cfg.Mood.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := (MoodConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	for _, tt := range []struct {
		cfg  MoodConfig
		want string
	}{
		{MoodConfig{OfferAfter: -1}, "negative"},
		{MoodConfig{TransferAfter: -2}, "negative"},
		{MoodConfig{MinConfidence: 1.5}, "min_confidence"},
		{MoodConfig{MinConfidence: -0.1}, "min_confidence"},
		{MoodConfig{Labels: []prosody.Label{prosody.Calm}}, "calm"},
		{MoodConfig{Labels: []prosody.Label{"furious"}}, "furious"},
	} {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want an error about %s", tt.cfg, err, tt.want)
		}
	}
}

func TestEscalationString(t *testing.T) {
	for e, want := range map[Escalation]string{None: "none", Offer: "offer", Transfer: "transfer", 7: "escalation(7)"} {
		if got := e.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(e), got, want)
		}
	}
}
