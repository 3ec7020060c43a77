package routing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestPriorityClassesThenFIFO: one agent serves the queue; calls are taken
// crisis, vip, escalated, normal, and in arrival order within a class.
func TestPriorityClassesThenFIFO(t *testing.T) {
	a, clk := newTestACD(t, testConfig("ann"), nil)
	calls := []Call{
		{ID: "normal-1", Class: Normal},
		{ID: "escalated-1", Class: Escalated},
		{ID: "vip-1", Class: VIP},
		{ID: "normal-2", Class: Normal},
		{ID: "crisis-1", Class: Crisis},
		{ID: "escalated-2", Class: Escalated},
		{ID: "vip-2", Class: VIP},
		{ID: "crisis-2", Class: Crisis},
	}
	tickets := map[string]*Ticket{}
	for _, c := range calls {
		tickets[c.ID] = enqueue(t, a, c)
		clk.Advance(time.Second)
	}
	// A call overflowed here from another queue keeps its place by when
	// the caller began waiting.
	tickets["normal-0"] = enqueue(t, a, Call{ID: "normal-0", Since: clk.Now().Add(-time.Hour)})

	login(t, a, clk, "ann")
	want := []string{"crisis-1", "crisis-2", "vip-1", "vip-2", "escalated-1", "escalated-2", "normal-0", "normal-1", "normal-2"}
	for _, id := range want {
		for other, tk := range tickets {
			if other != id {
				nothing(t, tk)
			}
		}
		serve(t, a, tickets[id], "ann")
		delete(tickets, id)
	}
}

// TestStrategies: longest idle takes the agent free the longest; round
// robin takes agents in turn in configuration order, however long idle.
func TestStrategies(t *testing.T) {
	for _, tc := range []struct {
		strategy Strategy
		want     []string
	}{
		// Logged in c, b, a: c idle longest; each agent who served a call
		// is then the most recently idle.
		{LongestIdle, []string{"c", "b", "a", "c", "b"}},
		{RoundRobin, []string{"a", "b", "c", "a", "b"}},
	} {
		t.Run(string(tc.strategy), func(t *testing.T) {
			cfg := testConfig("a", "b", "c")
			cfg.Queues[0].Strategy = tc.strategy
			a, clk := newTestACD(t, cfg, nil)
			login(t, a, clk, "c", "b", "a")
			for i, agent := range tc.want {
				serve(t, a, enqueue(t, a, Call{ID: string(rune('1' + i))}), agent)
				clk.Advance(time.Second)
			}
		})
	}
}

// TestSkills: queues and calls need skills at a minimum level; a call no
// free agent can take does not hold up the calls behind it.
func TestSkills(t *testing.T) {
	cfg := testConfig()
	cfg.Agents = []AgentConfig{
		{ID: "junior", Skills: map[string]int{"billing": 3, "english": 9}},
		{ID: "senior", Skills: map[string]int{"billing": 7, "english": 9}},
		{ID: "mandarin", Skills: map[string]int{"mandarin": 8, "english": 5}},
	}
	cfg.Queues = []QueueConfig{
		{Name: "general"},
		{Name: "billing", Skills: map[string]int{"billing": 5}},
	}
	a, clk := newTestACD(t, cfg, nil)
	login(t, a, clk, "junior", "mandarin", "senior")

	billing := enqueue(t, a, Call{ID: "bill", Queue: "billing"})
	expectOffer(t, billing, "senior") // the junior is idle longer but below level 5
	zh := enqueue(t, a, Call{ID: "zh", Skills: map[string]int{"mandarin": 5}})
	expectOffer(t, zh, "mandarin")
	zh2 := enqueue(t, a, Call{ID: "zh2", Class: Crisis, Skills: map[string]int{"mandarin": 5}})
	nothing(t, zh2) // the only mandarin speaker is ringing
	en := enqueue(t, a, Call{ID: "en"})
	expectOffer(t, en, "junior") // behind a crisis call, but the crisis needs mandarin
	if err := a.Answer("zh", "mandarin"); err != nil {
		t.Fatal(err)
	}
	next(t, zh)
	if err := a.Hangup("zh"); err != nil {
		t.Fatal(err)
	}
	expectOffer(t, zh2, "mandarin")
	if err := a.Answer("zh2", "senior"); !errors.Is(err, ErrNotOffered) {
		t.Errorf("answered by an agent it was not offered to: %v", err)
	}
}

// TestRingTimeoutAndMissedCalls: an unanswered ring goes to the next
// TestUnavailable: an agent offered a call who turns out to be taken
// elsewhere is not offered it again: the call goes to the next agent, or
// waits, and the agent is not ready with the reason given, without a miss,
// until made available.
func TestUnavailable(t *testing.T) {
	a, clk := newTestACD(t, testConfig("ann", "bob"), nil)
	login(t, a, clk, "ann")
	tk := enqueue(t, a, Call{ID: "c1"})
	expectOffer(t, tk, "ann")
	if err := a.Unavailable("c1", "ann", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if o := next(t, tk); o.Kind != Retracted || o.Agent != "ann" || o.Reason != "unavailable" {
		t.Fatalf("%+v, want the offer to ann retracted as unavailable", o)
	}
	nothing(t, tk) // ann alone, and not offered the call again
	if s := agentState(a, "ann"); s.State != NotReady || s.Reason != "elsewhere" || s.Missed != 0 {
		t.Fatalf("ann %v (%q) with %d missed, want not_ready (elsewhere), none missed", s.State, s.Reason, s.Missed)
	}
	if err := a.Unavailable("c1", "ann", "elsewhere"); !errors.Is(err, ErrNotOffered) {
		t.Errorf("unavailable for a call not offered: %v", err)
	}
	login(t, a, clk, "bob")
	serve(t, a, tk, "bob")
	if err := a.SetState("ann", Available, ""); err != nil {
		t.Fatal(err)
	}
}

// agent; an agent who misses max_missed calls in a row is made not ready;
// a rejection is not a miss.
func TestRingTimeoutAndMissedCalls(t *testing.T) {
	cfg := testConfig("ann", "bob")
	cfg.RingTimeout = 20 * time.Second
	a, clk := newTestACD(t, cfg, nil)
	sub := a.Subscribe(100)
	defer sub.Close()
	login(t, a, clk, "ann", "bob")

	tk := enqueue(t, a, Call{ID: "c1"})
	expectOffer(t, tk, "ann")
	clk.Advance(19 * time.Second)
	nothing(t, tk)
	clk.Advance(time.Second)
	if o := next(t, tk); o.Kind != Retracted || o.Agent != "ann" || o.Reason != "no answer" {
		t.Fatalf("%+v, want the offer to ann retracted for no answer", o)
	}
	expectOffer(t, tk, "bob")
	if s := agentState(a, "ann"); s.State != Available || s.Missed != 1 {
		t.Fatalf("ann %v with %d missed, want available with 1", s.State, s.Missed)
	}

	// Bob declines; ann has been free longer than bob, so it is her turn.
	clk.Advance(time.Second)
	if err := a.Reject("c1", "bob"); err != nil {
		t.Fatal(err)
	}
	if o := next(t, tk); o.Kind != Retracted || o.Reason != "rejected" {
		t.Fatalf("%+v, want retracted as rejected", o)
	}
	expectOffer(t, tk, "ann")
	if s := agentState(a, "bob"); s.State != Available || s.Missed != 0 {
		t.Fatalf("bob %v with %d missed after a rejection, want available with 0", s.State, s.Missed)
	}

	// Ann's phone is reported unreachable: her second miss in a row.
	if err := a.NoAnswer("c1", "ann"); err != nil {
		t.Fatal(err)
	}
	next(t, tk) // retracted
	if s := agentState(a, "ann"); s.State != NotReady || s.Reason != ReasonMissedCalls {
		t.Fatalf("ann %v (%q), want not_ready for missed calls", s.State, s.Reason)
	}
	expectOffer(t, tk, "bob")
	if err := a.Answer("c1", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := a.NoAnswer("c1", "bob"); !errors.Is(err, ErrNotOffered) {
		t.Errorf("no answer for a connected call: %v", err)
	}

	var trail []string
	for len(sub.Events()) > 0 {
		e := <-sub.Events()
		if e.Kind == AgentState && e.Agent == "ann" {
			trail = append(trail, e.State.String())
		}
	}
	if got, want := strings.Join(trail, " "), "available ringing available ringing not_ready"; got != want {
		t.Errorf("ann went %s, want %s", got, want)
	}
}

// TestWrapUp: after a call the agent wraps up for the queue's wrap-up
// time, then takes the next call; they may finish early.
func TestWrapUp(t *testing.T) {
	cfg := testConfig("ann")
	cfg.WrapUp = 30 * time.Second
	short := 10 * time.Second
	none := time.Duration(0)
	cfg.Queues = []QueueConfig{{Name: "general"}, {Name: "short", WrapUp: &short}, {Name: "none", WrapUp: &none}}
	a, clk := newTestACD(t, cfg, nil)
	login(t, a, clk, "ann")

	serve(t, a, enqueue(t, a, Call{ID: "c1"}), "ann")
	waiting := enqueue(t, a, Call{ID: "c2", Queue: "short"})
	clk.Advance(29 * time.Second)
	if s := agentState(a, "ann"); s.State != WrapUp {
		t.Fatalf("ann %v 29 s after the call, want wrap_up", s.State)
	}
	nothing(t, waiting)
	clk.Advance(time.Second)
	serve(t, a, waiting, "ann")

	clk.Advance(short - time.Second)
	if s := agentState(a, "ann"); s.State != WrapUp {
		t.Fatalf("ann %v, want wrap_up from the short queue", s.State)
	}
	clk.Advance(time.Second)
	if s := agentState(a, "ann"); s.State != Available {
		t.Fatalf("ann %v after the short queue's wrap-up, want available", s.State)
	}

	serve(t, a, enqueue(t, a, Call{ID: "c3", Queue: "none"}), "ann")
	if s := agentState(a, "ann"); s.State != Available {
		t.Fatalf("ann %v after a queue without wrap-up, want available", s.State)
	}

	serve(t, a, enqueue(t, a, Call{ID: "c4"}), "ann")
	if err := a.SetState("ann", Available, ""); err != nil {
		t.Fatalf("finishing wrap-up early: %v", err)
	}
	clk.Advance(time.Minute) // the stopped wrap-up timer changes nothing
	if s := agentState(a, "ann"); s.State != Available {
		t.Fatalf("ann %v, want available", s.State)
	}
}

// TestMaxWaitOverflow: a call that waits max_wait leaves with the queue's
// overflow decision; one ringing at that moment overflows only if the
// ring goes unanswered.
func TestMaxWaitOverflow(t *testing.T) {
	for _, oc := range []OverflowConfig{
		{Action: OverflowQueue, Queue: "general"},
		{Action: OverflowVoicemail},
		{Action: OverflowCallback},
	} {
		t.Run(string(oc.Action), func(t *testing.T) {
			cfg := testConfig("ann")
			cfg.Queues = []QueueConfig{{Name: "general"}, {Name: "sales", MaxWait: time.Minute, Overflow: oc}}
			a, clk := newTestACD(t, cfg, nil)
			tk := enqueue(t, a, Call{ID: "c1", Queue: "sales"})
			clk.Advance(59 * time.Second)
			nothing(t, tk)
			clk.Advance(time.Second)
			o := next(t, tk)
			if o.Kind != Overflowed || o.Overflow.Action != oc.Action || o.Overflow.Queue != oc.Queue || o.Overflow.Waited != time.Minute {
				t.Fatalf("%+v, want overflow %+v after a minute", o, oc)
			}
			if _, ok := <-tk.Outcomes(); ok {
				t.Fatal("outcomes go on after overflow")
			}
			if err := a.Hangup("c1"); !errors.Is(err, ErrUnknownCall) {
				t.Errorf("the overflowed call is still known: %v", err)
			}
		})
	}

	t.Run("while ringing", func(t *testing.T) {
		cfg := testConfig("ann")
		cfg.RingTimeout = 20 * time.Second
		cfg.Queues = []QueueConfig{{Name: "general", MaxWait: time.Minute}}
		a, clk := newTestACD(t, cfg, nil)
		tk := enqueue(t, a, Call{ID: "c1"})
		clk.Advance(50 * time.Second)
		login(t, a, clk, "ann") // offered at 50 s, rings past the minute
		expectOffer(t, tk, "ann")
		clk.Advance(15 * time.Second)
		nothing(t, tk)
		clk.Advance(5 * time.Second)
		if o := next(t, tk); o.Kind != Retracted {
			t.Fatalf("%v, want the ring retracted", o.Kind)
		}
		if o := next(t, tk); o.Kind != Overflowed || o.Overflow.Action != OverflowVoicemail {
			t.Fatalf("%+v, want the default overflow to voicemail", o)
		}
	})
}

// TestVIPRouting: a VIP customer's call goes to their advisor, waiting a
// while for them; then to the VIP queue; then to the queue it was sent to.
func TestVIPRouting(t *testing.T) {
	dir, err := ParseDirectory(strings.NewReader("number,name,tier,advisor\n+1 555 010 0100,Grace Hopper,platinum,vera\n+1 555 010 0200,Alan Kay,gold,\n"))
	if err != nil {
		t.Fatal(err)
	}
	setup := func(t *testing.T) (*ACD, *fakeClock) {
		cfg := testConfig()
		cfg.VIP = VIPConfig{Queue: "vip", AdvisorWait: 20 * time.Second, QueueWait: time.Minute}
		cfg.Agents = []AgentConfig{
			{ID: "gus"},
			{ID: "vic", Skills: map[string]int{"vip": 5}},
			{ID: "vera", Skills: map[string]int{"vip": 9}, VIPAdvisor: true},
		}
		cfg.Queues = []QueueConfig{{Name: "general"}, {Name: "vip", Skills: map[string]int{"vip": 5}}}
		a, clk := newTestACD(t, cfg, dir)
		login(t, a, clk, "gus", "vic", "vera")
		return a, clk
	}
	vipCall := Call{ID: "grace", Number: "(+1) 555-010-0100"}

	t.Run("advisor free", func(t *testing.T) {
		a, _ := setup(t)
		tk := enqueue(t, a, vipCall)
		if tk.Class != VIP || tk.Customer == nil || tk.Customer.Name != "Grace Hopper" {
			t.Fatalf("ticket class %v, customer %+v, want a VIP with her entry", tk.Class, tk.Customer)
		}
		expectOffer(t, tk, "vera") // gus and vic are idle longer
	})
	t.Run("advisor back within the wait", func(t *testing.T) {
		a, clk := setup(t)
		a.SetState("vera", NotReady, "coffee")
		tk := enqueue(t, a, vipCall)
		clk.Advance(15 * time.Second)
		nothing(t, tk)
		a.SetState("vera", Available, "")
		expectOffer(t, tk, "vera")
	})
	t.Run("then the vip queue", func(t *testing.T) {
		a, clk := setup(t)
		a.SetState("vera", NotReady, "coffee")
		tk := enqueue(t, a, vipCall)
		clk.Advance(20 * time.Second)
		expectOffer(t, tk, "vic")
	})
	t.Run("advisor misses", func(t *testing.T) {
		a, _ := setup(t)
		tk := enqueue(t, a, vipCall)
		expectOffer(t, tk, "vera")
		a.Reject("grace", "vera")
		next(t, tk) // retracted
		expectOffer(t, tk, "vic")
	})
	t.Run("then the general queue", func(t *testing.T) {
		a, clk := setup(t)
		a.SetState("vera", NotReady, "coffee")
		a.SetState("vic", NotReady, "coffee")
		tk := enqueue(t, a, vipCall)
		clk.Advance(20*time.Second + 59*time.Second)
		nothing(t, tk)
		clk.Advance(time.Second)
		expectOffer(t, tk, "gus")
	})
	t.Run("no advisor", func(t *testing.T) {
		a, _ := setup(t)
		tk := enqueue(t, a, Call{ID: "alan", Number: "15550100200"})
		expectOffer(t, tk, "vic")
	})
	t.Run("advisor logged out", func(t *testing.T) {
		a, clk := setup(t)
		a.SetState("vera", NotReady, "coffee")
		a.SetState("vic", NotReady, "coffee")
		tk := enqueue(t, a, vipCall)
		clk.Advance(5 * time.Second)
		a.SetState("vera", Offline, "")
		a.SetState("vic", Available, "")
		expectOffer(t, tk, "vic")
	})
	t.Run("crisis", func(t *testing.T) {
		a, _ := setup(t)
		c := vipCall
		c.Class = Crisis
		tk := enqueue(t, a, c)
		if tk.Class != Crisis || tk.Customer == nil {
			t.Fatalf("class %v, customer %+v, want a crisis with her entry", tk.Class, tk.Customer)
		}
		expectOffer(t, tk, "gus") // the first free agent, no advisor or VIP stage
	})
	t.Run("not a vip", func(t *testing.T) {
		a, _ := setup(t)
		tk := enqueue(t, a, Call{ID: "joe", Number: "+1 555 010 0999"})
		if tk.Class != Normal || tk.Customer != nil {
			t.Fatalf("class %v, customer %+v for a number not in the directory", tk.Class, tk.Customer)
		}
		expectOffer(t, tk, "gus")
	})
}

// TestInvalidTransitions: the state machine refuses what an agent's day
// does not allow, and says from where to where.
func TestInvalidTransitions(t *testing.T) {
	a, clk := newTestACD(t, testConfig("ann", "bob"), nil)
	for _, tc := range []struct {
		from, to State
	}{
		{Offline, NotReady},
		{Offline, OnCall},
		{Offline, WrapUp},
	} {
		err := a.SetState("ann", tc.to, "")
		var te *TransitionError
		if !errors.Is(err, ErrInvalidTransition) || !errors.As(err, &te) || te.From != tc.from || te.To != tc.to || te.Agent != "ann" {
			t.Errorf("%v → %v: %v, want an invalid transition", tc.from, tc.to, err)
		}
	}
	login(t, a, clk, "ann")
	tk := enqueue(t, a, Call{ID: "c1"})
	expectOffer(t, tk, "ann")
	for _, to := range []State{Available, NotReady, Offline, Ringing} {
		if err := a.SetState("ann", to, ""); !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("ringing → %v: %v, want an invalid transition", to, err)
		}
	}
	a.Answer("c1", "ann")
	for _, to := range []State{Available, NotReady, Offline} {
		if err := a.SetState("ann", to, ""); !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("on_call → %v: %v, want an invalid transition", to, err)
		}
	}
	if err := a.SetState("zed", Available, ""); !errors.Is(err, ErrUnknownAgent) {
		t.Errorf("unknown agent: %v", err)
	}
	if _, err := a.Enqueue(context.Background(), Call{ID: "c2", Queue: "nowhere"}); !errors.Is(err, ErrUnknownQueue) {
		t.Errorf("unknown queue: %v", err)
	}
	if _, err := a.Enqueue(context.Background(), Call{ID: "c1", Queue: "general"}); !errors.Is(err, ErrDuplicateCall) {
		t.Errorf("duplicate call: %v", err)
	}
	if err := a.SetState("bob", Available, ""); err != nil {
		t.Fatal(err)
	}
	if err := a.SetState("bob", NotReady, "lunch"); err != nil {
		t.Fatal(err)
	}
	if s := agentState(a, "bob"); s.State != NotReady || s.Reason != "lunch" {
		t.Errorf("bob %v (%q), want not_ready for lunch", s.State, s.Reason)
	}
}

// TestEvents: every change is an event, numbered; a subscriber that does
// not keep up loses events and is told so, without slowing anything.
func TestEvents(t *testing.T) {
	a, clk := newTestACD(t, testConfig("ann", "bob"), nil)
	all := a.Subscribe(1000)
	slow := a.Subscribe(2)
	defer slow.Close()
	login(t, a, clk, "ann", "bob")
	for i := range 5 {
		serve(t, a, enqueue(t, a, Call{ID: string(rune('a' + i))}), []string{"ann", "bob"}[i%2])
		clk.Advance(time.Second)
	}
	all.Close()
	var seq uint64
	kinds := map[EventKind]int{}
	for e := range all.Events() {
		if e.Seq != seq+1 {
			t.Fatalf("event %d after %d", e.Seq, seq)
		}
		seq = e.Seq
		kinds[e.Kind]++
		if e.Kind == AgentState && !allowed(e.Prev, e.State) {
			t.Errorf("agent %s went %v → %v, which the state machine does not allow", e.Agent, e.Prev, e.State)
		}
	}
	if kinds[CallQueued] != 5 || kinds[CallOffered] != 5 || kinds[CallConnected] != 5 || kinds[CallEnded] != 5 {
		t.Errorf("call events %v, want 5 of each", kinds)
	}
	if got := uint64(len(slow.Events())) + slow.Dropped(); got != seq {
		t.Errorf("slow subscriber: %d kept + %d dropped, want %d events", len(slow.Events()), slow.Dropped(), seq)
	}
	if slow.Dropped() == 0 {
		t.Error("the slow subscriber lost nothing")
	}
}

// TestPositionAndSnapshot: waiting callers hear their place and an
// estimate from the queue's recent handle time; the supervisor sees the
// queues and the agents.
func TestPositionAndSnapshot(t *testing.T) {
	cfg := testConfig("ann", "bob")
	cfg.HandleTime = 3 * time.Minute
	a, clk := newTestACD(t, cfg, nil)
	login(t, a, clk, "ann", "bob")
	for _, id := range []string{"x", "y"} {
		tk := enqueue(t, a, Call{ID: id})
		o := next(t, tk)
		a.Answer(id, o.Agent)
	}
	for _, id := range []string{"c1", "c2", "c3"} {
		enqueue(t, a, Call{ID: id})
		clk.Advance(10 * time.Second)
	}
	for i, id := range []string{"c1", "c2", "c3"} {
		p, err := a.Position(id)
		if err != nil {
			t.Fatal(err)
		}
		// Before any handled call: the configured 3 min, shared by 2 agents.
		want := time.Duration(i+1) * 90 * time.Second
		if p.Place != i+1 || p.Staffed != 2 || p.Estimated != want {
			t.Errorf("%s: %+v, want place %d of 2 agents, %v", id, p, i+1, want)
		}
	}
	s := a.Snapshot()
	if q := s.Queues[0]; q.Waiting != 3 || q.LongestWait != 30*time.Second || q.Staffed != 2 || q.Available != 0 {
		t.Errorf("queue %+v, want 3 waiting for up to 30 s, 2 staffed, none free", q)
	}
	if s.ByState[OnCall] != 2 || s.Agents[0].Call != "x" {
		t.Errorf("agents %+v by state %v, want both on a call, ann on x", s.Agents, s.ByState)
	}

	// Calls of a minute each; the estimate follows them.
	clk.Advance(time.Minute - 30*time.Second)
	a.Hangup("x") // ann takes c1
	a.Hangup("y") // bob takes c2
	p, _ := a.Position("c3")
	if p.Place != 1 || p.Estimated != 30*time.Second {
		t.Errorf("c3 %+v, want place 1 and 30 s (1 min handle time, 2 agents)", p)
	}
	if p, _ := a.Position("c1"); p.Place != 1 || p.Estimated != 0 {
		t.Errorf("ringing c1 %+v, want place 1 and no wait", p)
	}
	if _, err := a.Position("x"); !errors.Is(err, ErrUnknownCall) {
		t.Errorf("position of an ended call: %v", err)
	}
}

// TestHangupAndContext: a call that hangs up while waiting or ringing is
// abandoned and frees the agent; ending the call's context does the same;
// closing the distributor abandons what is left.
func TestHangupAndContext(t *testing.T) {
	a, clk := newTestACD(t, testConfig("ann"), nil)
	login(t, a, clk, "ann")
	ringing := enqueue(t, a, Call{ID: "c1"})
	expectOffer(t, ringing, "ann")
	ctx, cancel := context.WithCancel(context.Background())
	waiting, err := a.Enqueue(ctx, Call{ID: "c2", Queue: "general"})
	if err != nil {
		t.Fatal(err)
	}
	closing := enqueue(t, a, Call{ID: "c3"})

	a.Hangup("c1")
	if o := next(t, ringing); o.Kind != Abandoned || o.Reason != "hangup" {
		t.Fatalf("%+v, want abandoned", o)
	}
	expectOffer(t, waiting, "ann")
	cancel()
	o, ok := <-waiting.Outcomes() // the context's hang-up comes from its own goroutine
	if !ok || o.Kind != Abandoned {
		t.Fatalf("%+v, want abandoned when the call's context ends", o)
	}
	a.Snapshot() // waits for that hang-up to have offered the next call
	expectOffer(t, closing, "ann")
	a.Close()
	if o := next(t, closing); o.Kind != Abandoned || o.Reason != "closed" {
		t.Fatalf("%+v, want abandoned on close", o)
	}
	if _, err := a.Enqueue(context.Background(), Call{ID: "c4", Queue: "general"}); !errors.Is(err, ErrClosed) {
		t.Errorf("enqueue after close: %v", err)
	}
}

// TestRealClockClose: on the wall clock, pending timeouts end with Close
// and leave no goroutine behind (TestMain checks).
func TestRealClockClose(t *testing.T) {
	cfg := testConfig("ann")
	cfg.Queues[0].MaxWait = time.Hour
	a, err := New(cfg, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a.SetState("ann", Available, "")
	ringing := enqueue(t, a, Call{ID: "c1"})
	waiting := enqueue(t, a, Call{ID: "c2"})
	expectOffer(t, ringing, "ann")
	a.Close()
	for _, tk := range []*Ticket{ringing, waiting} {
		if o := next(t, tk); o.Kind != Abandoned {
			t.Errorf("%s: %v, want abandoned", tk.CallID, o.Kind)
		}
	}
}
