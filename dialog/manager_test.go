package dialog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/dialog/llm"
	"github.com/hotline-cc/hotline/dialog/rules"
	"github.com/hotline-cc/hotline/examples/bank"
	"github.com/hotline-cc/hotline/internal/openaitest"
	"github.com/hotline-cc/hotline/knowledge"
	"github.com/hotline-cc/hotline/prosody"
)

const testKey = "sk-manager-test-0123456789"

// sampleBrain is the rule brain on the sample bank built into the binary.
func sampleBrain(t *testing.T) *rules.Brain {
	t.Helper()
	flow, err := bank.RuleFlow()
	if err != nil {
		t.Fatal(err)
	}
	kb, err := knowledge.LoadFS(bank.Knowledge())
	if err != nil {
		t.Fatal(err)
	}
	return rules.New(flow, kb)
}

// turnRecorder runs turns and keeps every action.
type turnRecorder struct {
	t       *testing.T
	call    *dialog.Call
	actions []dialog.Action
	at      time.Duration
}

func start(t *testing.T, cfg dialog.Config, primary, fallback dialog.Brain) *turnRecorder {
	t.Helper()
	m, err := dialog.NewManager(cfg, primary, fallback)
	if err != nil {
		t.Fatal(err)
	}
	return &turnRecorder{t: t, call: m.Start("call-1", dialog.Profile{Number: "+15550100"}, slog.New(slog.DiscardHandler))}
}

// say runs one caller turn and returns its actions.
func (r *turnRecorder) say(in dialog.Input) []dialog.Action {
	r.t.Helper()
	r.at += 5 * time.Second
	var got []dialog.Action
	if err := r.call.Turn(r.t.Context(), in, r.at, func(a dialog.Action) error {
		got = append(got, a)
		return nil
	}); err != nil {
		r.t.Fatalf("turn %q: %v", in.Text, err)
	}
	r.actions = append(r.actions, got...)
	return got
}

func last(as []dialog.Action) dialog.Action {
	if len(as) == 0 {
		return dialog.Action{}
	}
	return as[len(as)-1]
}

func TestCrisisGoesToAPersonAtOnce(t *testing.T) {
	for _, tc := range []struct{ text, lang, want string }{
		{"i just don't want to live anymore", "en", "You do not have to go through it alone"},
		{"我真的不想活了", "zh", "不要挂机"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			r := start(t, dialog.DefaultConfig(), sampleBrain(t), nil)
			var alerts []dialog.Crisis
			r.call.OnCrisis = func(c dialog.Crisis) { alerts = append(alerts, c) }
			got := r.say(dialog.Input{Text: tc.text, Language: tc.lang})
			if len(got) != 2 || got[0].Kind != dialog.Say || !strings.Contains(got[0].Text, tc.want) {
				t.Fatalf("actions %+v, want the safe message then a transfer", got)
			}
			if tr := got[1]; tr.Kind != dialog.Transfer || tr.Queue != "crisis" || !strings.Contains(tr.Reason, "crisis") {
				t.Errorf("transfer %+v, want the crisis queue", tr)
			}
			if len(alerts) != 1 || alerts[0].CallID != "call-1" || alerts[0].Phrase == "" {
				t.Errorf("alerts %+v, want one for the call", alerts)
			}
		})
	}
}

func TestAskingForAPersonTransfers(t *testing.T) {
	for _, text := range []string{"can i speak to a real person please", "帮我转人工"} {
		r := start(t, dialog.DefaultConfig(), sampleBrain(t), nil)
		r.say(dialog.Input{Text: "what are your opening hours"})
		got := last(r.say(dialog.Input{Text: text}))
		if got.Kind != dialog.Transfer || got.Queue != "general" {
			t.Errorf("%q: last action %+v, want a transfer to general", text, got)
		}
		// The agent learns what the caller asked before.
		if !strings.Contains(got.Summary, "Opening hours") {
			t.Errorf("%q: summary %q lacks the earlier question", text, got.Summary)
		}
	}
}

func TestSustainedAngerOffersThenTransfers(t *testing.T) {
	angry := &prosody.Cue{Label: prosody.Angry, Confidence: 0.9, Trend: prosody.Rising}
	r := start(t, dialog.DefaultConfig(), sampleBrain(t), nil)
	r.say(dialog.Input{Text: "what are your opening hours", Emotion: angry})
	got := r.say(dialog.Input{Text: "what are the fees for my account", Emotion: angry})
	if l := last(got); l.Kind != dialog.Say || !strings.Contains(l.Text, "advisors") {
		t.Fatalf("second angry turn ends with %+v, want the offer of a person", l)
	}
	if got[0].Kind != dialog.Say || strings.Contains(got[0].Text, "advisors") {
		t.Errorf("the question was not answered before the offer: %+v", got)
	}
	got = r.say(dialog.Input{Text: "this is ridiculous", Emotion: angry})
	if l := last(got); l.Kind != dialog.Transfer || !strings.Contains(l.Reason, "angry") || !strings.Contains(l.Summary, "angry") {
		t.Errorf("still angry after the offer: %+v, want a transfer saying why", l)
	}
}

func TestPersonalDataStaysOutOfTheMemory(t *testing.T) {
	r := start(t, dialog.DefaultConfig(), sampleBrain(t), nil)
	r.say(dialog.Input{Text: "my card number is 4111 1111 1111 1111 and it was stolen"})
	for _, tn := range r.call.Conversation().Turns {
		if strings.Contains(tn.Text, "4111") {
			t.Errorf("memory keeps %q", tn.Text)
		}
	}
}

// A model that never answers: the caller is answered by the rule brain,
// or handed to a person, as configured.
func TestSilentModelFallsBack(t *testing.T) {
	srv := openaitest.New(t, testKey)
	srv.Answer(func(openaitest.Request) openaitest.Reply { return openaitest.Reply{Stall: true} })
	t.Setenv("OPENAI_API_KEY", testKey)
	lc := llm.DefaultConfig()
	lc.BaseURL, lc.FirstTokenTimeout = srv.URL, 100*time.Millisecond
	brain, err := llm.New(lc, llm.Deps{}, nil)
	if err != nil {
		t.Fatal(err)
	}

	r := start(t, dialog.DefaultConfig(), brain, sampleBrain(t))
	got := r.say(dialog.Input{Text: "what are your opening hours"})
	if len(got) == 0 || !strings.Contains(got[0].Text, "Monday") {
		t.Errorf("fallback answer %+v, want the rule brain's opening hours", got)
	}

	cfg := dialog.DefaultConfig()
	cfg.OnNoReply = dialog.NoReplyTransfer
	r = start(t, cfg, brain, sampleBrain(t))
	if l := last(r.say(dialog.Input{Text: "what are your opening hours"})); l.Kind != dialog.Transfer {
		t.Errorf("with on_no_reply transfer: %+v", l)
	}
}

// The model sees the caller's words without their card number.
func TestModelGetsRedactedText(t *testing.T) {
	srv := openaitest.New(t, testKey)
	srv.Answer(func(openaitest.Request) openaitest.Reply { return openaitest.Text("I have blocked nothing yet. ") })
	t.Setenv("OPENAI_API_KEY", testKey)
	lc := llm.DefaultConfig()
	lc.BaseURL = srv.URL
	brain, err := llm.New(lc, llm.Deps{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, dialog.DefaultConfig(), brain, nil)
	r.say(dialog.Input{Text: "please block card 4111 1111 1111 1111"})
	body := string(srv.Last().Body)
	if strings.Contains(body, "4111") || !strings.Contains(body, "block card") {
		t.Errorf("request to the model: %s", body)
	}
}

// A caller talking over the reply stops the turn.
func TestBargeInStopsTheTurn(t *testing.T) {
	m, err := dialog.NewManager(dialog.DefaultConfig(), sampleBrain(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Start("call-2", dialog.Profile{}, slog.New(slog.DiscardHandler))
	barged := errors.New("caller talked")
	n := 0
	err = c.Turn(context.Background(), dialog.Input{Text: "what are your opening hours"}, 0, func(dialog.Action) error {
		n++
		return barged
	})
	if !errors.Is(err, barged) || n != 1 {
		t.Errorf("turn returned %v after %d actions, want the barge-in after the first", err, n)
	}
}

// Thirty turns with a small memory window: a fact from turn 2 survives
// in the summary.
func TestLongCallKeepsEarlyFacts(t *testing.T) {
	cfg := dialog.DefaultConfig()
	cfg.KeepTurns = 4
	r := start(t, cfg, sampleBrain(t), nil)
	r.say(dialog.Input{Text: "hello"})
	r.say(dialog.Input{Text: "i lost my card"})
	r.say(dialog.Input{Text: "four eight two one"})
	for i := 0; i < 27; i++ {
		r.say(dialog.Input{Text: fmt.Sprintf("what are your opening hours %d", i)})
	}
	conv := r.call.Conversation()
	if conv.Folded == 0 || len(conv.Recent()) > cfg.KeepTurns+2 {
		t.Fatalf("folded %d of %d turns, %d recent", conv.Folded, len(conv.Turns), len(conv.Recent()))
	}
	if !strings.Contains(conv.Summary, "lost my card") {
		t.Errorf("summary %q lost turn 2", conv.Summary)
	}
}
