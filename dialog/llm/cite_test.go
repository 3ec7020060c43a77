package llm

import (
	"testing"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/internal/openaitest"
	"github.com/hotline-cc/hotline/knowledge"
)

// A sentence of the model's that repeats a passage it was given names the
// passage's article and version; one of its own names none.
func TestRepliesCiteThePassagesTheyRepeat(t *testing.T) {
	h := newHarness(t, nil)
	h.kb.passages = []knowledge.Passage{
		{ID: "cards/replacement", Version: 3, Title: "Replacing a card", Heading: "Fees", Text: "A replacement card costs 10 euros."},
		{ID: "cards/delivery", Version: 1, Title: "Replacing a card", Heading: "Delivery", Text: "A new card arrives within five working days."},
	}
	h.srv.Script(openaitest.Text("A replacement card costs 10 euros.", " Is there anything else I can help with?"))
	acts, err := h.respond(h.caller("What does a new card cost?", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0].Cite == nil || *acts[0].Cite != (dialog.Citation{Article: "cards/replacement", Version: 3}) || acts[1].Cite != nil {
		t.Fatalf("actions %+v", acts)
	}

	// A turn given no passages cites none, whatever it says.
	h.kb.passages = nil
	h.srv.Script(openaitest.Text("A replacement card costs 10 euros."))
	if acts, err := h.respond(h.caller("And again?", nil)); err != nil || len(acts) != 1 || acts[0].Cite != nil {
		t.Fatalf("next turn: %+v, %v", acts, err)
	}
}
