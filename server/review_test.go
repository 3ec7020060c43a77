package server

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/dialog/rules"
	"github.com/hotline-cc/hotline/examples/bank"
	"github.com/hotline-cc/hotline/store"
)

// The phrases the review taught in an earlier run are the rule brain's
// again at start; one for an intent the flow has since lost is logged and
// left out.
func TestLoadExamples(t *testing.T) {
	ctx := t.Context()
	st := sqliteStore(t)
	const phrase = "the cash machine swallowed it"
	for _, e := range []store.Example{
		{Intent: "lost_card", Lang: "en", Phrase: phrase, AddedBy: "sup"},
		{Intent: "retired_intent", Lang: "en", Phrase: "an old phrase", AddedBy: "sup"},
	} {
		if _, err := st.AddExample(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	flow, err := bank.RuleFlow()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	s := &Server{store: st, log: slog.New(slog.NewTextHandler(&logs, nil))}
	book, err := s.loadExamples(rules.New(flow, nil))
	if err != nil {
		t.Fatal(err)
	}
	if m := flow.Match(phrase); m.Intent != "lost_card" || m.Score < flow.Threshold {
		t.Errorf("%q after the start: %+v, want lost_card", phrase, m)
	}
	if !strings.Contains(logs.String(), "added example phrase left out") || !strings.Contains(logs.String(), "retired_intent") {
		t.Errorf("log: %s", logs.String())
	}
	if len(book.Intents()) != len(flow.Intents) || book.Intents()[0].Title == "" {
		t.Errorf("intents %+v", book.Intents())
	}
	if err := book.AddExample("retired_intent", "en", "words"); !errors.Is(err, api.ErrUnknownIntent) {
		t.Errorf("unknown intent: %v, want api.ErrUnknownIntent", err)
	}
}
