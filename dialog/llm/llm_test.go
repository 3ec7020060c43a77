package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"go.uber.org/goleak"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/internal/openaitest"
	"github.com/hotline-cc/hotline/knowledge"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/tts"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "sk-test-9f8e7d6c5b4a39281706"

// logBuffer is a log sink safe for the handler's writes and the test's
// reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakeKB answers every search with its passages and records the queries.
type fakeKB struct {
	mu       sync.Mutex
	queries  []string
	passages []knowledge.Passage
}

func (f *fakeKB) Search(q string, k int) []knowledge.Passage {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	return f.passages[:min(k, len(f.passages))]
}

func (f *fakeKB) Queries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queries)
}

var cardPassages = []knowledge.Passage{
	{Doc: "cards/replacement.md", Title: "Replacing a card", Heading: "Fees", Text: "A replacement card costs 10 euros.", Score: 3.2},
	{Doc: "cards/replacement.md", Title: "Replacing a card", Heading: "Delivery", Text: "A new card arrives within five working days.", Score: 2.1},
}

type harness struct {
	t    *testing.T
	srv  *openaitest.Server
	kb   *fakeKB
	logs *logBuffer
	b    *Brain
	conv *dialog.Conversation
	s    dialog.Session
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Setenv(envAPIKey, testKey)
	h := &harness{t: t, srv: openaitest.New(t, testKey), kb: &fakeKB{passages: cardPassages}, logs: &logBuffer{}}
	cfg := DefaultConfig()
	cfg.BaseURL = h.srv.URL
	cfg.Model = "test-model"
	cfg.Queues = []string{"general", "cards"}
	// A turn that should have ended long before fails instead of hanging.
	cfg.TurnTimeout = 10 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := New(cfg, Deps{Knowledge: h.kb}, log)
	if err != nil {
		t.Fatal(err)
	}
	h.b = b
	h.conv = &dialog.Conversation{CallID: "call-17", Language: "en"}
	h.s = b.NewSession(h.conv)
	return h
}

// caller adds the caller's turn and returns its input.
func (h *harness) caller(text string, cue *prosody.Cue) dialog.Input {
	h.conv.Turns = append(h.conv.Turns, dialog.Turn{Speaker: dialog.Caller, Text: text, Emotion: cue})
	return dialog.Input{Text: text, Emotion: cue}
}

// respond runs a turn, collecting its actions; Say actions become Hotline's
// turn, as the manager records them.
func (h *harness) respond(in dialog.Input) ([]dialog.Action, error) {
	return h.respondWith(in, nil)
}

func (h *harness) respondWith(in dialog.Input, onAction func(dialog.Action) error) ([]dialog.Action, error) {
	h.t.Helper()
	var acts []dialog.Action
	err := h.s.Respond(context.Background(), in, func(a dialog.Action) error {
		if onAction != nil {
			if err := onAction(a); err != nil {
				return err
			}
		}
		acts = append(acts, a)
		return nil
	})
	var said []string
	for _, a := range acts {
		if a.Kind == dialog.Say || a.Kind == dialog.CollectDigits {
			said = append(said, a.Text)
		}
	}
	if len(said) > 0 {
		h.conv.Turns = append(h.conv.Turns, dialog.Turn{Speaker: dialog.Bot, Text: strings.Join(said, " ")})
	}
	return acts, err
}

func says(acts []dialog.Action) []string {
	var out []string
	for _, a := range acts {
		if a.Kind == dialog.Say {
			out = append(out, a.Text)
		}
	}
	return out
}

func toolNames(r openaitest.Request) []string {
	var names []string
	for _, t := range r.Chat.Tools {
		names = append(names, t.Function.Name)
	}
	return names
}

func TestRequestCarriesTheCallsContext(t *testing.T) {
	h := newHarness(t, nil)
	h.conv.Profile = dialog.Profile{Number: "+4930123456", Name: "Lena Park", Tier: "gold", Advisor: "adv-7"}
	h.conv.Summary = "The caller lost her card in Lisbon yesterday."
	h.conv.Turns = []dialog.Turn{
		{Speaker: dialog.Caller, Text: "I lost my card."},
		{Speaker: dialog.Bot, Text: "I am sorry to hear that."},
	}
	h.conv.Folded = 0
	cue := &prosody.Cue{Turn: 2, Label: prosody.Tense, Arousal: 0.78, Trend: prosody.Rising, Confidence: 0.7}
	h.srv.Script(openaitest.Text("I understand.", " Let me help."))

	if _, err := h.respond(h.caller("How much is a new card and when does it come?", cue)); err != nil {
		t.Fatal(err)
	}
	r := h.srv.Last()
	msgs := r.Chat.Messages
	if msgs[0].Role != openai.ChatMessageRoleSystem || msgs[0].Content != DefaultSystemPrompt {
		t.Errorf("first message: %+v", msgs[0])
	}
	ctx := msgs[1].Content
	for _, want := range []string{
		"Lena Park", "tier gold", "adv-7", // profile
		"tense", "0.78", "rising", "confidence 0.70", "calm and reassuring", "offer a person", // cue and tone
		"A replacement card costs 10 euros.", "Replacing a card — Delivery", // passages
		"lost her card in Lisbon", // summary
	} {
		if !strings.Contains(ctx, want) {
			t.Errorf("context lacks %q:\n%s", want, ctx)
		}
	}
	if strings.Contains(ctx, "+4930123456") {
		t.Error("the caller's number went to the model")
	}
	var roles []string
	for _, m := range msgs[2:] {
		roles = append(roles, m.Role)
	}
	if !slices.Equal(roles, []string{"user", "assistant", "user"}) || msgs[4].Content != "How much is a new card and when does it come?" {
		t.Errorf("history %q: %+v", roles, msgs[2:])
	}
	if q := h.kb.Queries(); !slices.Equal(q, []string{"How much is a new card and when does it come?"}) {
		t.Errorf("knowledge queries %q", q)
	}
	if !r.Chat.Stream || r.Chat.Model != "test-model" || r.Chat.MaxCompletionTokens != 300 || r.Chat.Temperature != 0.3 {
		t.Errorf("request %s", r.Body)
	}
	if names := toolNames(r); !slices.Equal(names, []string{toolTransfer, toolLookup, toolEndCall, toolDigits}) {
		t.Errorf("tools %q", names)
	}
	if !strings.Contains(string(r.Body), `"enum":["general","cards"]`) {
		t.Errorf("transfer_to_agent does not list the queues: %s", r.Body)
	}
}

func TestToneFollowsTheCue(t *testing.T) {
	for label, want := range map[prosody.Label]string{
		prosody.Angry:   "apologise once",
		prosody.Sad:     "gentle",
		prosody.Neutral: "friendly and efficient",
	} {
		if got := tone(&prosody.Cue{Label: label, Confidence: 0.9}); !strings.Contains(got, want) {
			t.Errorf("%s: %q", label, got)
		}
	}
	if got := tone(&prosody.Cue{Label: prosody.Angry, Confidence: 0.2}); !strings.Contains(got, "uncertain") {
		t.Errorf("low confidence: %q", got)
	}
}

func TestWithoutKnowledgeNoLookup(t *testing.T) {
	t.Setenv(envAPIKey, testKey)
	srv := openaitest.New(t, testKey)
	b, err := New(Config{BaseURL: srv.URL}, Deps{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	conv := &dialog.Conversation{CallID: "c", Turns: []dialog.Turn{{Speaker: dialog.Caller, Text: "Hello?"}}}
	srv.Script(openaitest.Text("Hello, how can I help?"))
	if err := b.NewSession(conv).Respond(context.Background(), dialog.Input{Text: "Hello?"}, func(dialog.Action) error { return nil }); err != nil {
		t.Fatal(err)
	}
	r := srv.Last()
	if names := toolNames(r); slices.Contains(names, toolLookup) {
		t.Errorf("tools %q", names)
	}
	if strings.Contains(r.Chat.Messages[1].Content, "Knowledge passages") {
		t.Errorf("context %q", r.Chat.Messages[1].Content)
	}
}

func TestSentencesStreamAsTheyComplete(t *testing.T) {
	for name, chunks := range map[string][]string{
		"en": {"Your card is blocked", ". A new card", " arrives in five days. ", "Anything else?"},
		"zh": {"您好，您的卡", "已经冻结。新卡将在", "五个工作日内寄到。", "还有什么可以帮您？"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			last := make(chan struct{})
			h.srv.Script(openaitest.Reply{Chunks: chunks, Hold: map[int]<-chan struct{}{len(chunks) - 1: last}})
			// The last chunk is held until the first sentence is out: the
			// turn completes only if that sentence came before the end.
			acts, err := h.respondWith(h.caller("Is my card blocked?", nil), func(a dialog.Action) error {
				select {
				case <-last:
				default:
					close(last)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := tts.SplitSentences(strings.Join(chunks, ""))
			if got := says(acts); !slices.Equal(got, want) || len(got) != 3 {
				t.Errorf("said %q, want %q", got, want)
			}
		})
	}
}

func TestToolCallsAcrossDeltasAndLookup(t *testing.T) {
	h := newHarness(t, nil)
	two := openaitest.Calls(
		openaitest.ToolCall{ID: "call_fee", Name: toolLookup, Args: `{"query":"card replacement fee"}`, Split: 5},
		openaitest.ToolCall{ID: "call_eta", Name: toolLookup, Args: `{"query":"新卡寄送时间"}`, Split: 4},
	)
	two.Interleave = true
	h.srv.Script(two, openaitest.Text("A new card costs 10 euros", " and arrives within five working days."))
	acts, err := h.respond(h.caller("What does a new card cost?", nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := says(acts); !slices.Equal(got, []string{"A new card costs 10 euros and arrives within five working days."}) {
		t.Errorf("said %q", got)
	}
	if q := h.kb.Queries(); !slices.Equal(q, []string{"What does a new card cost?", "card replacement fee", "新卡寄送时间"}) {
		t.Errorf("knowledge queries %q", q)
	}
	reqs := h.srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	msgs := reqs[1].Chat.Messages
	n := len(msgs)
	call, fee, eta := msgs[n-3], msgs[n-2], msgs[n-1]
	if call.Role != openai.ChatMessageRoleAssistant || len(call.ToolCalls) != 2 {
		t.Fatalf("assistant message %+v", call)
	}
	for i, want := range []openai.FunctionCall{
		{Name: toolLookup, Arguments: `{"query":"card replacement fee"}`},
		{Name: toolLookup, Arguments: `{"query":"新卡寄送时间"}`},
	} {
		if c := call.ToolCalls[i]; c.Function != want || c.Type != openai.ToolTypeFunction {
			t.Errorf("tool call %d: %+v", i, c)
		}
	}
	if fee.Role != openai.ChatMessageRoleTool || fee.ToolCallID != "call_fee" || eta.ToolCallID != "call_eta" ||
		!strings.Contains(fee.Content, "costs 10 euros") {
		t.Errorf("results %+v %+v", fee, eta)
	}
}

func TestTransferAndEndCall(t *testing.T) {
	h := newHarness(t, nil)
	h.conv.Summary = "Card blocked abroad."
	h.srv.Script(openaitest.Reply{
		Chunks:    []string{"I will put you through to our card team now."},
		ToolCalls: []openaitest.ToolCall{{ID: "t1", Name: toolTransfer, Args: `{"queue":"cards","reason":"card blocked abroad"}`, Split: 3}},
	})
	acts, err := h.respond(h.caller("My card does not work in Spain.", nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []dialog.Action{
		{Kind: dialog.Say, Text: "I will put you through to our card team now."},
		{Kind: dialog.Transfer, Queue: "cards", Reason: "card blocked abroad", Summary: "Card blocked abroad."},
	}
	if !slices.Equal(acts, want) {
		t.Errorf("got %+v", acts)
	}

	h.srv.Script(openaitest.Reply{
		Chunks:    []string{"Thank you for calling.", " Goodbye!"},
		ToolCalls: []openaitest.ToolCall{{ID: "e1", Name: toolEndCall, Args: `{"reason":"caller is done"}`, Split: 2}},
	})
	acts, err = h.respond(h.caller("That is all, thanks.", nil))
	if err != nil {
		t.Fatal(err)
	}
	want = []dialog.Action{
		{Kind: dialog.Say, Text: "Thank you for calling. Goodbye!"},
		{Kind: dialog.Hangup, Reason: "caller is done"},
	}
	if !slices.Equal(acts, want) {
		t.Errorf("got %+v", acts)
	}
	if n := len(h.srv.Requests()); n != 2 {
		t.Errorf("%d requests: a transfer or hang-up ends the turn", n)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "tool="+toolTransfer) || !strings.Contains(logs, "tool="+toolEndCall) {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestCollectDigitsFeedsTheNextTurn(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.Script(openaitest.Calls(openaitest.ToolCall{
		ID: "call_d", Name: toolDigits, Args: `{"prompt":"Please key in the last four digits of your card.","max_digits":4}`, Split: 6,
	}))
	acts, err := h.respond(h.caller("I want to check my card.", nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []dialog.Action{{Kind: dialog.CollectDigits, Text: "Please key in the last four digits of your card.", MaxDigits: 4}}
	if !slices.Equal(acts, want) {
		t.Fatalf("got %+v", acts)
	}

	// The caller keys 4821.
	h.conv.Turns = append(h.conv.Turns, dialog.Turn{Speaker: dialog.Caller})
	h.srv.Script(openaitest.Text("Thank you, I found the card ending in 4821."))
	if _, err := h.respond(dialog.Input{Digits: "4821"}); err != nil {
		t.Fatal(err)
	}
	msgs := h.srv.Last().Chat.Messages
	n := len(msgs)
	call, result := msgs[n-2], msgs[n-1]
	if len(call.ToolCalls) != 1 || call.ToolCalls[0].ID != "call_d" || call.ToolCalls[0].Function.Name != toolDigits {
		t.Errorf("assistant message %+v", call)
	}
	if result.Role != openai.ChatMessageRoleTool || result.ToolCallID != "call_d" || result.Content != `{"digits":"4821"}` {
		t.Errorf("result %+v", result)
	}
	if msgs[n-3].Role != openai.ChatMessageRoleAssistant || msgs[n-3].Content != "Please key in the last four digits of your card." {
		t.Errorf("before the call: %+v", msgs[n-3])
	}

	// The wait is over: the next turn is plain.
	h.srv.Script(openaitest.Text("Sure."))
	if _, err := h.respond(h.caller("Thanks.", nil)); err != nil {
		t.Fatal(err)
	}
	for _, m := range h.srv.Last().Chat.Messages {
		if m.Role == openai.ChatMessageRoleTool || len(m.ToolCalls) > 0 {
			t.Errorf("stale tool message %+v", m)
		}
	}
}

func TestCollectDigitsAnsweredBySpeech(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.Script(openaitest.Calls(openaitest.ToolCall{ID: "d", Name: toolDigits, Args: `{"prompt":"Key in your choice.","max_digits":1}`}))
	if _, err := h.respond(h.caller("Menu please.", nil)); err != nil {
		t.Fatal(err)
	}
	h.srv.Script(openaitest.Text("Of course."))
	if _, err := h.respond(h.caller("I would rather talk to someone.", nil)); err != nil {
		t.Fatal(err)
	}
	msgs := h.srv.Last().Chat.Messages
	n := len(msgs)
	if msgs[n-2].ToolCallID != "d" || !strings.Contains(msgs[n-2].Content, "spoke instead") ||
		msgs[n-1].Role != openai.ChatMessageRoleUser || msgs[n-1].Content != "I would rather talk to someone." {
		t.Errorf("got %+v", msgs[n-2:])
	}
}

func TestBadToolArgumentsAreAnswered(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.Script(
		openaitest.Calls(
			openaitest.ToolCall{ID: "b1", Name: toolTransfer, Args: `{"queue": "cards"`, Split: 2},
			openaitest.ToolCall{ID: "b2", Name: toolTransfer, Args: `{"queue":"cards"}`},
			openaitest.ToolCall{ID: "b3", Name: "open_account", Args: `{}`},
		),
		openaitest.Calls(
			openaitest.ToolCall{ID: "b4", Name: toolTransfer, Args: `{"queue":"vip","reason":"wants a person"}`},
			openaitest.ToolCall{ID: "b5", Name: toolDigits, Args: `{"prompt":"Key in."}`},
		),
		openaitest.Calls(openaitest.ToolCall{ID: "ok", Name: toolTransfer, Args: `{"queue":"general","reason":"wants a person","summary":"Asked for a person."}`}),
	)
	acts, err := h.respond(h.caller("Get me a person!", nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []dialog.Action{{Kind: dialog.Transfer, Queue: "general", Reason: "wants a person", Summary: "Asked for a person."}}
	if !slices.Equal(acts, want) {
		t.Errorf("got %+v", acts)
	}
	reqs := h.srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	results := map[string]string{}
	for _, m := range reqs[2].Chat.Messages {
		if m.Role == openai.ChatMessageRoleTool {
			results[m.ToolCallID] = m.Content
		}
	}
	for id, want := range map[string]string{
		"b1": "not a JSON object", "b2": "reason is required", "b3": `no tool named "open_account"`,
		"b4": `unknown queue "vip": use one of general, cards`, "b5": "max_digits is required",
	} {
		if got := results[id]; !strings.HasPrefix(got, "error: ") || !strings.Contains(got, want) {
			t.Errorf("%s answered %q, want %q", id, got, want)
		}
	}
}

func TestEndlessBadToolsAreBounded(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxToolRounds = 2 })
	bad := openaitest.Calls(openaitest.ToolCall{ID: "x", Name: toolEndCall, Args: `{}`})
	h.srv.Script(bad, bad, bad, bad)
	_, err := h.respond(h.caller("Hello?", nil))
	if !errors.Is(err, dialog.ErrNoReply) {
		t.Fatalf("got %v", err)
	}
	reqs := h.srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		last := i == len(reqs)-1
		if (r.Chat.ToolChoice == "none") != last {
			t.Errorf("request %d: tool_choice %v", i, r.Chat.ToolChoice)
		}
	}
}

func TestNoFirstTokenIsNoReply(t *testing.T) {
	held := make(chan struct{})
	defer close(held)
	for name, reply := range map[string]openaitest.Reply{
		"no byte":        {Stall: true},
		"role then none": {Chunks: []string{"Hello."}, Hold: map[int]<-chan struct{}{0: held}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.FirstTokenTimeout = 100 * time.Millisecond })
			reply.Cancelled = make(chan struct{})
			h.srv.Script(reply)
			acts, err := h.respond(h.caller("Hello?", nil))
			if !errors.Is(err, dialog.ErrNoReply) || len(acts) != 0 {
				t.Fatalf("got %v, %+v", err, acts)
			}
			<-reply.Cancelled
			if logs := h.logs.String(); !strings.Contains(logs, "call_id=call-17") || !strings.Contains(logs, "no first token") {
				t.Errorf("logs:\n%s", logs)
			}
		})
	}
}

func TestEmptyReplyIsNoReply(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.Script(openaitest.Text())
	if _, err := h.respond(h.caller("Hello?", nil)); !errors.Is(err, dialog.ErrNoReply) {
		t.Fatalf("got %v", err)
	}
}

func TestTurnTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.FirstTokenTimeout = 50 * time.Millisecond
		c.TurnTimeout = 200 * time.Millisecond
	})
	held := make(chan struct{})
	defer close(held)
	h.srv.Script(openaitest.Reply{Chunks: []string{"One moment please.", " Still here."}, Hold: map[int]<-chan struct{}{1: held}})
	_, err := h.respond(h.caller("Hello?", nil))
	if err == nil || errors.Is(err, dialog.ErrNoReply) || !strings.Contains(err.Error(), "not done within 200ms") {
		t.Fatalf("got %v", err)
	}
}

func TestHTTPErrorsAreWrappedWithoutTheKey(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusTooManyRequests} {
		h := newHarness(t, nil)
		// A careless provider echoes the key.
		h.srv.Script(openaitest.Error(status, "rejected key "+testKey))
		_, err := h.respond(h.caller("Hello?", nil))
		var apiErr *openai.APIError
		if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != status || errors.Is(err, dialog.ErrNoReply) {
			t.Fatalf("%d: got %v", status, err)
		}
		if msg := err.Error(); strings.Contains(msg, testKey) || !strings.Contains(msg, "llm: chat: HTTP "+strconv.Itoa(status)) {
			t.Errorf("%d: %q", status, msg)
		}
		logs := h.logs.String()
		if strings.Contains(logs, testKey) || !strings.Contains(logs, "call_id=call-17") || !strings.Contains(logs, "[redacted]") {
			t.Errorf("%d: logs:\n%s", status, logs)
		}
		if got := h.srv.Last().Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("Authorization %q", got)
		}
	}
}

func TestBargeInStopsTheStream(t *testing.T) {
	h := newHarness(t, nil)
	held := make(chan struct{})
	defer close(held)
	cancelled := make(chan struct{})
	h.srv.Script(openaitest.Reply{
		Chunks:    []string{"First sentence here.", " Second sentence here.", " Third sentence here."},
		Hold:      map[int]<-chan struct{}{2: held},
		Cancelled: cancelled,
	})
	bargeIn := errors.New("caller spoke")
	acts, err := h.respondWith(h.caller("Tell me everything.", nil), func(a dialog.Action) error {
		return bargeIn
	})
	if !errors.Is(err, bargeIn) || len(acts) != 0 {
		t.Fatalf("got %v, %+v", err, acts)
	}
	<-cancelled // the server saw the request end
	if logs := h.logs.String(); strings.Contains(logs, "level=WARN") {
		t.Errorf("a barge-in is no failure:\n%s", logs)
	}
}

// summarizer is a fake model that summarizes a call by keeping the
// caller's statements about themselves: enough to show a fact travels
// from an early turn through the summaries to a late request.
func summarizer(r openaitest.Request) openaitest.Reply {
	if r.Chat.Stream {
		return openaitest.Text("Noted, thank you.")
	}
	in := r.Chat.Messages[len(r.Chat.Messages)-1].Content
	var facts []string
	for line := range strings.Lines(in) {
		line = strings.TrimSpace(line)
		if prev, ok := strings.CutPrefix(line, "Summary so far: "); ok {
			facts = append(facts, prev)
		}
		if said, ok := strings.CutPrefix(line, "Caller: "); ok && strings.Contains(strings.ToLower(said), "my ") {
			facts = append(facts, "The caller said: "+said)
		}
	}
	if len(facts) == 0 {
		facts = []string{"Small talk."}
	}
	return openaitest.Text(strings.Join(facts, " "))
}

func TestMemoryKeepsAnEarlyFact(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.KeepTurns = 6 })
	h.srv.Answer(summarizer)
	fact := "My name is Lena and my account ends in 4821."
	ctx := context.Background()
	for i := 1; i <= 30; i++ {
		text := "What about question " + string(rune('A'+i%26)) + "?"
		if i == 2 {
			text = fact
		}
		if _, err := h.respond(h.caller(text, nil)); err != nil {
			t.Fatalf("turn %d: %v", i, err)
		}
		// Folding as the dialog manager does: beyond the window, down to
		// half of it.
		if recent := h.conv.Recent(); len(recent) > 6 {
			n := len(recent) - 3
			sum, err := h.b.Summarize(ctx, h.conv.Summary, recent[:n])
			if err != nil {
				t.Fatalf("summary after turn %d: %v", i, err)
			}
			h.conv.Summary, h.conv.Folded = sum, h.conv.Folded+n
		}
		if n := len(h.conv.Recent()); n > 6 {
			t.Fatalf("turn %d: %d turns unfolded", i, n)
		}
	}
	var last openaitest.Request
	summaries := 0
	for _, r := range h.srv.Requests() {
		if r.Chat.Stream {
			last = r
		} else {
			summaries++
		}
	}
	if summaries < 5 || summaries > 20 {
		t.Errorf("%d summaries for 30 turns", summaries)
	}
	msgs := last.Chat.Messages
	if !strings.Contains(msgs[1].Content, "Summary of the call so far:") || !strings.Contains(msgs[1].Content, fact) {
		t.Errorf("turn 30's context lacks the fact:\n%s", msgs[1].Content)
	}
	for _, m := range msgs[2:] {
		if strings.Contains(m.Content, "4821") {
			t.Errorf("turn 2 still verbatim in turn 30's history: %+v", m)
		}
	}
	if len(msgs) > 2+6 {
		t.Errorf("%d messages: more than keep_turns of history", len(msgs))
	}
}

func TestSummarizeRequest(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.Script(openaitest.Text("  Lena asked about her card ending in 4821.  "))
	got, err := h.b.Summarize(context.Background(), "Lena called about a card.", []dialog.Turn{
		{Speaker: dialog.Caller, Text: "It ends in 4821."},
		{Speaker: dialog.Bot, Text: "Thank you."},
	})
	if err != nil || got != "Lena asked about her card ending in 4821." {
		t.Fatalf("got %q, %v", got, err)
	}
	r := h.srv.Last()
	if r.Chat.Stream || r.Chat.Messages[0].Content != summarizePrompt ||
		r.Chat.Messages[1].Content != "Summary so far: Lena called about a card.\n\nNew turns:\nCaller: It ends in 4821.\nHotline: Thank you.\n" {
		t.Errorf("request %s", r.Body)
	}
	if got, err := h.b.Summarize(context.Background(), "unchanged", nil); got != "unchanged" || err != nil {
		t.Errorf("no turns: %q, %v", got, err)
	}
	h.srv.Script(openaitest.Error(http.StatusBadGateway, "bad gateway"))
	if _, err := h.b.Summarize(context.Background(), "", []dialog.Turn{{Speaker: dialog.Caller, Text: "Hi."}}); err == nil ||
		!strings.Contains(err.Error(), "llm: summary: HTTP 502") {
		t.Errorf("got %v", err)
	}
}

func TestToolSchemasAreJSON(t *testing.T) {
	h := newHarness(t, nil)
	for _, d := range h.b.defs {
		b, err := json.Marshal(d.Function.Parameters)
		if err != nil || !json.Valid(b) || !strings.Contains(string(b), `"required"`) {
			t.Errorf("%s: %s, %v", d.Function.Name, b, err)
		}
	}
}

func BenchmarkRespond(b *testing.B) {
	b.Setenv(envAPIKey, testKey)
	srv := openaitest.New(b, testKey)
	srv.Answer(func(openaitest.Request) openaitest.Reply {
		return openaitest.Text("Your card", " is blocked.", " A new card", " arrives in five", " working days.", " Anything else?")
	})
	cfg := DefaultConfig()
	cfg.BaseURL = srv.URL
	brain, err := New(cfg, Deps{Knowledge: &fakeKB{passages: cardPassages}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	conv := &dialog.Conversation{CallID: "bench", Turns: []dialog.Turn{{Speaker: dialog.Caller, Text: "Is my card blocked?"}}}
	s := brain.NewSession(conv)
	ctx := context.Background()
	in := dialog.Input{Text: "Is my card blocked?"}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Respond(ctx, in, func(dialog.Action) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHistoryIsBoundedByKeepTurns(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.KeepTurns = 4 })
	for i := range 10 {
		h.conv.Turns = append(h.conv.Turns,
			dialog.Turn{Speaker: dialog.Caller, Text: "Question " + strconv.Itoa(i) + "."},
			dialog.Turn{Speaker: dialog.Bot, Text: "Answer " + strconv.Itoa(i) + "."})
	}
	h.srv.Script(openaitest.Text("Sure."))
	if _, err := h.respond(h.caller("Last question.", nil)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range h.srv.Last().Chat.Messages[2:] {
		got = append(got, m.Content)
	}
	if want := []string{"Answer 8.", "Question 9.", "Answer 9.", "Last question."}; !slices.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}
}
