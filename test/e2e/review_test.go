package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A supervisor teaches the rule flow's lost_card intent a phrase through
// the API while Hotline runs; the next caller who says it, on a SIPp call
// heard by the embedded recognizer, is answered for lost_card, and the
// call's record names the intent the reply served. Untaught, the flow
// takes the phrase for fees, and the recognizer's grammar lacks it.
func TestTaughtPhraseServesTheNextCall(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	n := startHotline(t, "", "dialog: {brain: rules}")
	api := newAPIClient(t, n)

	const phrase = "the cash machine swallowed it"
	api.do("POST", "/api/v1/intents/lost_card/examples", "application/json", `{"phrase":"`+phrase+`"}`, http.StatusCreated, nil)
	n.logs.must(t, "api: example phrase added", map[string]any{"intent": "lost_card"}, time.Second)

	c := startSpokenCall(t, n, "slt", []string{phrase, "goodbye"}, []time.Duration{4 * time.Second, 20 * time.Second})
	sr := c.sipp.wait(t)
	c.capt.stop(t)
	sr.expectSuccess(t)
	n.logs.must(t, "call ended", map[string]any{"call_id": sr.CallID}, 5*time.Second)

	var page struct {
		Calls []struct {
			ID int64 `json:"id"`
		} `json:"calls"`
	}
	api.do("GET", "/api/v1/calls?intent=lost_card&ended=true", "", "", http.StatusOK, &page)
	if len(page.Calls) != 1 {
		t.Fatalf("calls served for lost_card: %+v", page.Calls)
	}
	var detail struct {
		Turns []struct {
			Speaker string `json:"speaker"`
			Text    string `json:"text"`
			Intent  string `json:"intent"`
		} `json:"transcript"`
	}
	api.do("GET", fmt.Sprintf("/api/v1/calls/%d", page.Calls[0].ID), "", "", http.StatusOK, &detail)
	heard := -1
	for i, tn := range detail.Turns {
		if tn.Speaker == "caller" && tn.Text == phrase {
			heard = i
		}
	}
	if heard < 0 {
		t.Fatalf("the recognizer did not hear %q: %+v", phrase, detail.Turns)
	}
	var reply []string
	for _, tn := range detail.Turns[heard+1:] {
		if tn.Speaker == "caller" {
			break
		}
		if tn.Speaker == "hotline" && tn.Text != "" {
			reply = append(reply, tn.Intent+": "+tn.Text)
		}
	}
	if len(reply) == 0 || !strings.HasPrefix(reply[0], "lost_card: ") {
		t.Errorf("reply to %q: %q, want one serving lost_card", phrase, reply)
	}
}
