package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/dialog/rules"
)

// intentBook is the rule brain's intents as the review sees them.
type intentBook struct{ brain *rules.Brain }

func (b *intentBook) Intents() []api.IntentView {
	f := b.brain.Flow()
	out := make([]api.IntentView, 0, len(f.Intents))
	for _, it := range f.Intents {
		out = append(out, api.IntentView{Name: it.Name, Title: it.Title})
	}
	return out
}

func (b *intentBook) AddExample(intent, lang, phrase string) error {
	err := b.brain.AddExample(intent, lang, phrase)
	if errors.Is(err, rules.ErrUnknownIntent) {
		return fmt.Errorf("%w: %w", api.ErrUnknownIntent, err)
	}
	return err
}

// loadExamples teaches the rule brain the phrases the review added to its
// intents in earlier runs. A phrase for an intent the flow no longer has
// is logged and left out.
func (s *Server) loadExamples(rb *rules.Brain) (*intentBook, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	added, err := s.store.Examples(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range added {
		if err := rb.AddExample(e.Intent, e.Lang, e.Phrase); err != nil {
			s.log.Warn("added example phrase left out", "id", e.ID, "intent", e.Intent, "err", err)
		}
	}
	if len(added) > 0 {
		s.log.Info("added example phrases", "phrases", len(added))
	}
	return &intentBook{brain: rb}, nil
}
