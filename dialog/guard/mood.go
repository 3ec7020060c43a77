package guard

import (
	"errors"
	"fmt"

	"github.com/hotline-cc/hotline/prosody"
)

// Escalation is what the caller's sustained mood calls for.
type Escalation int

const (
	// None: carry on.
	None Escalation = iota
	// Offer: offer the caller a person.
	Offer
	// Transfer: transfer the caller to a person.
	Transfer
)

func (e Escalation) String() string {
	switch e {
	case None:
		return "none"
	case Offer:
		return "offer"
	case Transfer:
		return "transfer"
	}
	return fmt.Sprintf("escalation(%d)", int(e))
}

// MoodConfig tunes a Mood. Zero fields take the defaults of
// DefaultMoodConfig.
type MoodConfig struct {
	// OfferAfter is how many consecutive confident turns with a watched
	// label make the dialog offer a person. One upset turn is often a
	// moment; two in a row are a mood. Default 2.
	OfferAfter int `yaml:"offer_after"`
	// TransferAfter is how many more such turns after the offer transfer
	// the caller: the offer did not help. Default 1.
	TransferAfter int `yaml:"transfer_after"`
	// MinConfidence is the confidence a cue needs to count, for and
	// against. Default 0.6.
	MinConfidence float64 `yaml:"min_confidence"`
	// Labels are the labels watched, among tense, angry and sad. Default
	// tense and angry: a sad caller is not helped by a transfer as a rule.
	Labels []prosody.Label `yaml:"labels"`
}

// DefaultMoodConfig returns the defaults: offer after two upset turns,
// transfer if the next is upset too.
func DefaultMoodConfig() MoodConfig {
	return MoodConfig{
		OfferAfter:    2,
		TransferAfter: 1,
		MinConfidence: 0.6,
		Labels:        []prosody.Label{prosody.Tense, prosody.Angry},
	}
}

func (c MoodConfig) withDefaults() MoodConfig {
	d := DefaultMoodConfig()
	if c.OfferAfter == 0 {
		c.OfferAfter = d.OfferAfter
	}
	if c.TransferAfter == 0 {
		c.TransferAfter = d.TransferAfter
	}
	if c.MinConfidence == 0 {
		c.MinConfidence = d.MinConfidence
	}
	if len(c.Labels) == 0 {
		c.Labels = d.Labels
	}
	return c
}

// Validate reports settings a Mood cannot work with (zero fields are fine:
// they take defaults).
func (c MoodConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.OfferAfter < 0 || c.TransferAfter < 0:
		return errors.New("guard: offer_after and transfer_after must not be negative")
	case c.MinConfidence < 0 || c.MinConfidence > 1:
		return fmt.Errorf("guard: min_confidence %g must be within 0..1", c.MinConfidence)
	}
	for _, l := range c.Labels {
		if !l.Flagged() {
			return fmt.Errorf("guard: label %q cannot be watched: use tense, angry or sad", l)
		}
	}
	return nil
}

// Mood watches the emotion cues of the caller's turns and says when their
// mood calls for a person: after OfferAfter consecutive confident turns
// with a watched label it offers one; if TransferAfter more follow, it
// transfers. A confident calm or neutral turn starts over, offer included;
// an unconfident turn, or one with a label not watched, changes nothing.
// After a Transfer it starts over too, so a transfer that fails (no one
// free) is offered again if the caller stays upset.
//
// A Mood is for one call and not safe for concurrent use.
type Mood struct {
	cfg     MoodConfig
	streak  int  // consecutive watched turns before the offer
	offered bool // an offer was made
	since   int  // watched turns since the offer
}

// NewMood returns a Mood for one call. cfg should have been validated.
func NewMood(cfg MoodConfig) *Mood { return &Mood{cfg: cfg.withDefaults()} }

// Observe takes the cue of the caller's latest turn.
func (m *Mood) Observe(c prosody.Cue) Escalation {
	if c.Confidence < m.cfg.MinConfidence {
		return None
	}
	switch {
	case c.Label == prosody.Calm || c.Label == prosody.Neutral:
		m.Reset()
	case m.watched(c.Label) && !m.offered:
		m.streak++
		if m.streak >= m.cfg.OfferAfter {
			m.offered = true
			return Offer
		}
	case m.watched(c.Label):
		m.since++
		if m.since >= m.cfg.TransferAfter {
			m.Reset()
			return Transfer
		}
	}
	return None
}

// Reset starts over, as if the call had just begun: for when the caller
// declined the offer or was transferred another way.
func (m *Mood) Reset() { m.streak, m.offered, m.since = 0, false, 0 }

func (m *Mood) watched(l prosody.Label) bool {
	for _, w := range m.cfg.Labels {
		if w == l {
			return true
		}
	}
	return false
}
