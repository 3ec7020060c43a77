package browser

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/store"
)

const (
	supToken      = "supervisor-token-0123456789"
	agentPassword = "alice-secret-pw"
	callID        = "desk-call-1@test"
	summary       = "Charged twice for the March invoice; wants the second charge refunded."
)

// fakeDesk is the node's side of the desktops, as the server will provide
// it from routing: the agents and queues, and agents' state changes.
type fakeDesk struct {
	mu        sync.Mutex
	agents    []api.AgentView
	sets      []string
	transfers []string
}

// TransferCall records the agent's transfer of their call on.
func (d *fakeDesk) TransferCall(callID, agent, queue string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.transfers = append(d.transfers, callID+" by "+agent+" to "+queue)
	return nil
}

func (d *fakeDesk) Agents() []api.AgentView {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.agents)
}

func (d *fakeDesk) Queues() []api.QueueView {
	return []api.QueueView{
		{Name: "billing", Waiting: 2, LongestWait: 75 * time.Second, AgentsAvailable: 0},
		{Name: "crisis", Waiting: 0, AgentsAvailable: 1},
	}
}

func (d *fakeDesk) SetState(agent, state, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.agents {
		if d.agents[i].ID == agent {
			d.agents[i].State, d.agents[i].Reason, d.agents[i].Since = state, reason, time.Now()
			d.sets = append(d.sets, agent+"="+state)
			return nil
		}
	}
	return fmt.Errorf("agent %s: %w", agent, routing.ErrUnknownAgent)
}

func (d *fakeDesk) changes() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.sets)
}

// deskStep is a line desk.mjs prints.
type deskStep struct {
	stepHead
	Agent struct {
		State, Phone, Caller, Queue, Reason, Summary, Emotion, EmotionClass, Trend, Arousal, Shortcuts string
		Timeline, Transcript                                                                           []string
		AudioDisabled                                                                                  bool
	} `json:"agent"`
	Supervisor struct {
		Title  string
		Alerts []string
		Queues [][]string
		Agents string
		Calls  [][]string
		Nodes  [][]string
	} `json:"supervisor"`
	Wrapup string `json:"wrapup"`
	// SignedOut is the sign-in form's message after the supervisor signed out.
	SignedOut string `json:"signedOut"`
}

// The agent signs in and goes ready with a key; a call handed over with a
// summary, and the caller's turns with their mood, appear on the agent's
// desktop; a crisis alert appears on the supervisor's, with the queues,
// agents and the live call, until it is acknowledged; the call's end
// leaves the agent in wrap-up.
func TestDesktopsInChromium(t *testing.T) {
	chromium := needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	st := openStore(ctx, t, filepath.Join(t.TempDir(), "hotline.db"))
	other, err := st.CallStarted(ctx, store.CallStart{CallID: "desk-call-2@test", From: "+14155550111", To: "100", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	alertID, err := st.AddCrisisAlert(ctx, other, store.CrisisAlert{At: time.Now(), Category: "self_harm", Excerpt: "I can't go on", Action: "transferred to the crisis queue"})
	if err != nil {
		t.Fatal(err)
	}

	// Two nodes share the store; node2 drains with a caller still waiting.
	now := time.Now()
	for _, n := range []store.Node{
		{Name: "node1", SIP: "10.0.0.1:5060", StartedAt: now.Add(-time.Hour), HeartbeatAt: now},
		{Name: "node2", SIP: "10.0.0.2:5060", StartedAt: now.Add(-time.Hour), HeartbeatAt: now, Draining: true,
			Queues: []store.NodeQueue{{Name: "billing", Waiting: 1, LongestWaitMS: 30000}}},
	} {
		if err := st.Heartbeat(ctx, n); err != nil {
			t.Fatal(err)
		}
	}

	bus := events.NewBus(0)
	desk := &fakeDesk{agents: []api.AgentView{
		{ID: "alice", Name: "Alice Ng", State: "offline", Since: time.Now()},
		{ID: "bob", Name: "Bob Ode", State: "not_ready", Reason: "lunch", Since: time.Now().Add(-10 * time.Minute)},
	}}
	hs := serveAPI(t, "", api.Deps{
		Store: st, Events: bus, Agents: desk, Queues: desk, AgentControl: desk, CallControl: desk,
		Login: func(agent, password string) bool { return agent == "alice" && password == agentPassword },
	}, warnLog(t))

	shots := screenshotDir(t)
	cmd := script(ctx, t, chromium, "desk.mjs", hs.URL, supToken, "alice", agentPassword, shots)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	next := readSteps[deskStep](t, cancel, "desk.mjs", startScript(t, cmd))
	defer func() {
		stdin.Close()
		waitScript(t, cmd)
	}()
	proceed := func() {
		t.Helper()
		if _, err := io.WriteString(stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
	}

	next("ready")
	if got := desk.changes(); !slices.Equal(got, []string{"alice=available"}) {
		t.Fatalf("state changes %v, want alice=available from the R key", got)
	}
	if n := bus.Subscribers(); n != 2 {
		t.Fatalf("%d live streams, want the agent's and the supervisor's", n)
	}

	// The server's events for a call handed to alice: the caller joins the
	// queue with the assistant's summary, alice answers, the caller talks.
	publish := func(typ, agent string, data any) {
		bus.Publish(events.Event{Type: typ, CallID: callID, Agent: agent, Data: data})
	}
	publish("call.started", "alice", map[string]any{"from": "+14155550123", "to": "100", "channel": "sip"})
	publish("transfer", "alice", map[string]any{"queue": "billing", "reason": "asked for a person", "summary": summary})
	if err := desk.SetState("alice", "on_call", ""); err != nil {
		t.Fatal(err)
	}
	publish("agent.connected", "alice", map[string]any{"queue": "billing", "agent": "alice", "wait_ms": 12000})
	publish("turn", "alice", map[string]any{"speaker": "caller", "text": "I was charged twice this month",
		"emotion": map[string]any{"turn": 1, "label": "tense", "arousal": 0.62, "trend": "rising"}})
	publish("turn", "alice", map[string]any{"speaker": "hotline", "text": "I am sorry about that. Let me get someone to help."})
	publish("turn", "alice", map[string]any{"speaker": "caller", "text": "I want that money back today",
		"emotion": map[string]any{"turn": 2, "label": "angry", "arousal": 0.85, "trend": "rising"}})
	bus.Publish(events.Event{Type: "alert", CallID: "desk-call-2@test", Data: map[string]any{"category": "self_harm", "phrase": "I can't go on", "at_ms": 3000}})
	proceed()

	seen := next("seen")
	a := seen.Agent
	for _, c := range []struct{ what, got, want string }{
		{"state", a.State, "On a call"},
		{"phone", a.Phone, "phone: SIP"},
		{"caller", a.Caller, "[phone]"}, // the live stream redacts
		{"queue", a.Queue, "billing"},
		{"reason", a.Reason, "asked for a person"},
		{"summary", a.Summary, summary},
		{"emotion", a.Emotion, "angry"},
		{"emotion class", a.EmotionClass, "emo emo-angry"},
		{"trend", a.Trend, "↑"},
		{"arousal bar", a.Arousal, "85%"},
	} {
		if c.got != c.want {
			t.Errorf("agent desktop %s: %q, want %q", c.what, c.got, c.want)
		}
	}
	if want := []string{"emo emo-tense", "emo emo-angry"}; !slices.Equal(a.Timeline, want) {
		t.Errorf("emotion timeline %v, want %v", a.Timeline, want)
	}
	desk.mu.Lock()
	transfers := slices.Clone(desk.transfers)
	desk.mu.Unlock()
	if want := []string{"desk-call-1@test by alice to crisis"}; !slices.Equal(transfers, want) {
		t.Errorf("transfers from the desktop %q, want %q", transfers, want)
	}
	if want := []string{"CallerI was charged twice this monthtense ↑", "AssistantI am sorry about that. Let me get someone to help.", "CallerI want that money back todayangry ↑"}; !slices.Equal(a.Transcript, want) {
		t.Errorf("transcript %q, want %q", a.Transcript, want)
	}
	if !a.AudioDisabled {
		t.Error("audio controls enabled without a browser phone")
	}
	for _, k := range []string{"R ready", "N not ready", "A accept", "H hang up"} {
		if !strings.Contains(a.Shortcuts, k) {
			t.Errorf("shortcuts %q: want %q", a.Shortcuts, k)
		}
	}

	s := seen.Supervisor
	if len(s.Alerts) != 1 || !strings.Contains(s.Alerts[0], "CRISIS") || !strings.Contains(s.Alerts[0], "self harm") || !strings.Contains(s.Alerts[0], "I can't go on") {
		t.Errorf("crisis banners %q", s.Alerts)
	}
	if !strings.HasPrefix(s.Title, "(1) CRISIS") {
		t.Errorf("title %q: want the alert counted", s.Title)
	}
	if want := [][]string{{"billing", "2", "1:15", "0"}, {"crisis", "0", "—", "1"}}; !slices.EqualFunc(s.Queues, want, slices.Equal) {
		t.Errorf("queues %q, want %q", s.Queues, want)
	}
	if len(s.Nodes) != 2 || !slices.Equal(s.Nodes[0][:4], []string{"node1", "10.0.0.1:5060", "serving", "0"}) ||
		!slices.Equal(s.Nodes[1][:4], []string{"node2", "10.0.0.2:5060", "draining", "1"}) {
		t.Errorf("nodes %q", s.Nodes)
	}
	if !strings.Contains(s.Agents, "On a call (1)Alice Ng") || !strings.Contains(s.Agents, "Not ready (1)Bob Ode — lunch") {
		t.Errorf("agents %q", s.Agents)
	}
	// The call open in the store since before the page loaded, then the
	// one the events told of.
	if len(s.Calls) != 2 || s.Calls[0][0] != "+14155550111" || s.Calls[0][4] != "—" ||
		s.Calls[1][0] != "[phone]" || s.Calls[1][2] != "billing" || s.Calls[1][3] != "alice" || s.Calls[1][4] != "angry ↑" {
		t.Errorf("live calls %q", s.Calls)
	}
	alerts, err := st.CrisisAlerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts.Alerts) != 1 || alerts.Alerts[0].ID != alertID || alerts.Alerts[0].AcknowledgedBy != "sup" {
		t.Errorf("alert %+v: want acknowledged by sup", alerts.Alerts)
	}

	if err := desk.SetState("alice", "wrap_up", ""); err != nil {
		t.Fatal(err)
	}
	publish("call.ended", "alice", map[string]any{"disposition": "completed", "side": "caller", "agent": "alice"})
	proceed()
	done := next("done")
	if !strings.HasPrefix(done.Wrapup, "The caller hung up after ") || !strings.HasSuffix(done.Wrapup, "(completed).") {
		t.Errorf("wrap-up %q", done.Wrapup)
	}
	if done.SignedOut != "" {
		t.Errorf("after signing out the supervisor desk says %q", done.SignedOut)
	}
	t.Logf("screenshots in %s", shots)
}
