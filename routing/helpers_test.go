package routing

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is time the test moves by hand; timers fire, in order of their
// deadlines, inside Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	over bool // fired or stopped
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.over
	t.over = true
	return was
}

// Advance moves the clock on by d, firing the timers that fall due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return t.over })
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		next.over = true
		c.now = next.at
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
}

var quiet = slog.New(slog.DiscardHandler)

// agents makes agents by id with no skills.
func agents(ids ...string) []AgentConfig {
	var out []AgentConfig
	for _, id := range ids {
		out = append(out, AgentConfig{ID: id})
	}
	return out
}

func testConfig(agentIDs ...string) Config {
	c := DefaultConfig()
	c.WrapUp = 0
	c.Agents = agents(agentIDs...)
	return c
}

func newTestACD(t testing.TB, cfg Config, dir *Directory) (*ACD, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	a, err := New(cfg, Options{Clock: clk, Directory: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a, clk
}

// login makes agents available, one clock second apart, so the first
// given has been idle longest.
func login(t testing.TB, a *ACD, clk *fakeClock, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := a.SetState(id, Available, ""); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
}

func enqueue(t testing.TB, a *ACD, c Call) *Ticket {
	t.Helper()
	if c.Queue == "" {
		c.Queue = "general"
	}
	tk, err := a.Enqueue(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// next is the outcome pending on tk; everything in the distributor
// happens inside the calls that cause it, so it is there or it is not.
func next(t testing.TB, tk *Ticket) Outcome {
	t.Helper()
	select {
	case o, ok := <-tk.Outcomes():
		if !ok {
			t.Fatalf("call %s: outcomes closed", tk.CallID)
		}
		return o
	default:
		t.Fatalf("call %s: no outcome pending", tk.CallID)
		return Outcome{}
	}
}

func nothing(t testing.TB, tk *Ticket) {
	t.Helper()
	select {
	case o, ok := <-tk.Outcomes():
		if ok {
			t.Fatalf("call %s: unexpected %v %+v", tk.CallID, o.Kind, o)
		}
	default:
	}
}

func expectOffer(t testing.TB, tk *Ticket, agent string) {
	t.Helper()
	o := next(t, tk)
	if o.Kind != Offered || o.Agent != agent {
		t.Fatalf("call %s: %v to %q, want offered to %q", tk.CallID, o.Kind, o.Agent, agent)
	}
}

// serve answers the offered call and hangs it up.
func serve(t testing.TB, a *ACD, tk *Ticket, agent string) {
	t.Helper()
	expectOffer(t, tk, agent)
	if err := a.Answer(tk.CallID, agent); err != nil {
		t.Fatal(err)
	}
	if o := next(t, tk); o.Kind != Connected || o.Agent != agent {
		t.Fatalf("call %s: %v, want connected to %s", tk.CallID, o.Kind, agent)
	}
	if _, ok := <-tk.Outcomes(); ok {
		t.Fatalf("call %s: outcomes go on after connected", tk.CallID)
	}
	if err := a.Hangup(tk.CallID); err != nil {
		t.Fatal(err)
	}
}

func agentState(a *ACD, id string) AgentStatus {
	for _, s := range a.Snapshot().Agents {
		if s.ID == id {
			return s
		}
	}
	return AgentStatus{}
}
