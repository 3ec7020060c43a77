package rules

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

// A phrase added to an intent is matched from the next turn on, by a call
// already in progress too, and the recognizer's grammar holds it.
func TestAddExampleLive(t *testing.T) {
	b := New(bankFlow(t), nil)
	c := &call{t: t, s: b.NewSession(nil).(*Session)}
	const phrase = "the hole in the wall swallowed it"
	if as := c.say(phrase); as[0].Intent == "lost_card" {
		t.Fatalf("%q already means lost_card: %+v", phrase, as)
	}
	if slices.Contains(c.s.Grammar(), phrase) {
		t.Fatal("grammar holds the phrase before it was added")
	}
	if err := b.AddExample("lost_card", "en", phrase); err != nil {
		t.Fatal(err)
	}
	// Twice is once.
	if err := b.AddExample("lost_card", "en", phrase); err != nil {
		t.Fatal(err)
	}
	if n := len(b.flow.addedPhrases("en")); n != 1 {
		t.Errorf("%d phrases added, want 1", n)
	}
	c2 := &call{t: t, s: b.NewSession(nil).(*Session)}
	for _, cl := range []*call{c, c2} {
		as := cl.say(phrase)
		if as[0].Intent != "lost_card" {
			t.Errorf("after adding: %q answered as %q: %q", phrase, as[0].Intent, spoken(as))
		}
	}
	if fresh := b.NewSession(nil).(*Session); !slices.Contains(fresh.Grammar(), phrase) {
		t.Error("grammar lacks the added phrase")
	}
	if m := b.flow.Match("取款机把它吞掉了"); m.Intent == "lost_card" && m.Score >= b.flow.Threshold {
		t.Fatalf("Chinese phrase matched before it was added: %+v", m)
	}
	if err := b.AddExample("lost_card", "zh", "取款机把它吞掉了"); err != nil {
		t.Fatal(err)
	}
	if m := b.flow.Match("取款机把它吞掉了"); m.Intent != "lost_card" || m.Score < b.flow.Threshold {
		t.Errorf("Chinese phrase after adding: %+v", m)
	}

	for _, tc := range []struct{ intent, lang, phrase string }{
		{"no_such_intent", "en", "hello there friend"},
		{"lost_card", "fr", "j'ai perdu ma carte"},
		{"lost_card", "en", "I would like to"},
	} {
		err := b.AddExample(tc.intent, tc.lang, tc.phrase)
		if err == nil {
			t.Errorf("%+v: added", tc)
		}
		if errors.Is(err, ErrUnknownIntent) != (tc.intent == "no_such_intent") {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}

// Each action of a reply names the intent it serves, through the slots
// that follow; a reply that serves none names none.
func TestActionsNameTheirIntent(t *testing.T) {
	c := newCall(t, nil, nil)
	for _, a := range c.say("I lost my card") {
		if a.Intent != "lost_card" {
			t.Errorf("action %+v: want intent lost_card", a)
		}
	}
	for _, a := range c.say("one two three four") {
		if a.Intent != "lost_card" {
			t.Errorf("slot answer's action %+v: want intent lost_card", a)
		}
	}
	c = newCall(t, nil, nil)
	for _, a := range c.say("purple elephants dancing") {
		if a.Intent != "" {
			t.Errorf("not understood, yet action %+v names an intent", a)
		}
	}
}

// Phrases are added while calls match: no race.
func TestAddExampleConcurrent(t *testing.T) {
	b := New(bankFlow(t), nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			c := &call{t: t, s: b.NewSession(nil).(*Session)}
			for range 20 {
				c.say("what are your opening hours")
				c.s.Grammar()
			}
		})
		wg.Go(func() {
			if err := b.AddExample("fees", "en", []string{"what does it cost me", "price of the account", "monthly charge amount", "how expensive is it"}[i]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
