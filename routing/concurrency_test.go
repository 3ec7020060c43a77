package routing

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentCalls: hundreds of calls enqueued, rejected, answered and
// hung up from their own goroutines while an agent goes on and off breaks
// and supervisors read: every call is connected exactly once, never
// offered to two agents at a time, no agent has two calls, and every state
// change is one the state machine allows.
func TestConcurrentCalls(t *testing.T) {
	const nAgents, nCalls = 8, 400
	var ids []string
	for i := range nAgents {
		ids = append(ids, "agent-"+strconv.Itoa(i))
	}
	a, _ := newTestACD(t, testConfig(ids...), nil)
	sub := a.Subscribe(nCalls * 20)
	busy := map[string]*atomic.Bool{}
	for _, id := range ids {
		busy[id] = new(atomic.Bool)
		if err := a.SetState(id, Available, ""); err != nil {
			t.Fatal(err)
		}
	}

	var connected atomic.Int64
	failures := make(chan string, nCalls)
	var calls sync.WaitGroup
	for i := range nCalls {
		calls.Go(func() {
			id := fmt.Sprintf("call-%d", i)
			tk, err := a.Enqueue(t.Context(), Call{ID: id, Queue: "general", Class: Class(i % 4)})
			if err != nil {
				failures <- err.Error()
				return
			}
			ringing, rejected := "", i%7 != 0
			for o := range tk.Outcomes() {
				switch o.Kind {
				case Offered:
					if ringing != "" {
						failures <- fmt.Sprintf("%s offered to %s while ringing at %s", id, o.Agent, ringing)
						return
					}
					ringing = o.Agent
					if !rejected {
						rejected = true
						err = a.Reject(id, o.Agent)
					} else {
						err = a.Answer(id, o.Agent)
					}
				case Retracted:
					if o.Agent != ringing {
						failures <- fmt.Sprintf("%s: offer to %s retracted while ringing at %q", id, o.Agent, ringing)
					}
					ringing = ""
				case Connected:
					if !busy[o.Agent].CompareAndSwap(false, true) {
						failures <- fmt.Sprintf("%s: %s is on two calls", id, o.Agent)
						return
					}
					connected.Add(1)
					runtime.Gosched()
					busy[o.Agent].Store(false)
					err = a.Hangup(id)
				default:
					failures <- fmt.Sprintf("%s: %v (%s)", id, o.Kind, o.Reason)
				}
				if err != nil {
					failures <- fmt.Sprintf("%s: %v", id, err)
					return
				}
			}
		})
	}

	done := make(chan struct{})
	var others sync.WaitGroup
	others.Go(func() { // an agent taking short breaks
		for range 200 {
			if a.SetState("agent-0", NotReady, "break") == nil {
				if err := a.SetState("agent-0", Available, ""); err != nil {
					failures <- err.Error()
				}
			}
			runtime.Gosched()
		}
	})
	others.Go(func() { // a supervisor's wallboard and announcements
		for {
			select {
			case <-done:
				return
			default:
			}
			a.Snapshot()
			a.Position("call-" + strconv.Itoa(nCalls-1))
		}
	})
	finished := make(chan struct{})
	go func() { calls.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Minute): // a guard against a hang, not a timing
		t.Fatalf("calls stuck: %+v", a.Snapshot())
	}
	close(done)
	others.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}

	if n := connected.Load(); n != nCalls {
		t.Errorf("%d calls connected, want %d", n, nCalls)
	}
	s := a.Snapshot()
	if s.Queues[0].Waiting != 0 || s.Queues[0].Ringing != 0 || s.ByState[Available] != nAgents {
		t.Errorf("after all calls: %+v, agents %v", s.Queues[0], s.ByState)
	}
	sub.Close()
	offered := map[string]int{}
	for e := range sub.Events() {
		switch e.Kind {
		case AgentState:
			if !allowed(e.Prev, e.State) {
				t.Errorf("agent %s went %v → %v", e.Agent, e.Prev, e.State)
			}
		case CallConnected:
			offered[e.Call]++
		}
	}
	if sub.Dropped() != 0 || len(offered) != nCalls {
		t.Errorf("%d events dropped, %d calls connected in the events", sub.Dropped(), len(offered))
	}
	for id, n := range offered {
		if n != 1 {
			t.Errorf("%s connected %d times", id, n)
		}
	}
}

// BenchmarkRoute is the cost of one call through the distributor with n
// agents free: enqueue, the choice of agent, answer, hang-up and the
// agent's return.
func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			var ids []string
			for i := range n {
				ids = append(ids, "agent-"+strconv.Itoa(i))
			}
			a, _ := newTestACD(b, testConfig(ids...), nil)
			for _, id := range ids {
				a.SetState(id, Available, "")
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				id := strconv.Itoa(i)
				tk, err := a.Enqueue(ctx, Call{ID: id, Queue: "general"})
				if err != nil {
					b.Fatal(err)
				}
				o := <-tk.Outcomes()
				if err := a.Answer(id, o.Agent); err != nil {
					b.Fatal(err)
				}
				if err := a.Hangup(id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRouteBacklog is the cost of serving the next call with n calls
// waiting, half of them ahead by class but needing a skill the free agent
// lacks: the agent's hang-up, the search of the waiting calls, the offer,
// the answer and a new call joining the end of the line.
func BenchmarkRouteBacklog(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("waiting=%d", n), func(b *testing.B) {
			a, _ := newTestACD(b, testConfig("ann"), nil)
			ctx := context.Background()
			calls := 0
			enqueue := func(c Call) *Ticket {
				calls++
				c.ID, c.Queue = strconv.Itoa(calls), "general"
				tk, err := a.Enqueue(ctx, c)
				if err != nil {
					b.Fatal(err)
				}
				return tk
			}
			for range n / 2 {
				enqueue(Call{Class: Escalated, Skills: map[string]int{"mandarin": 5}})
			}
			var line []*Ticket // the calls ann can take, in the order she will
			for range n/2 + 1 {
				line = append(line, enqueue(Call{}))
			}
			a.SetState("ann", Available, "")
			current := line[0]
			line = line[1:]
			<-current.Outcomes()
			a.Answer(current.CallID, "ann")
			b.ReportAllocs()
			for b.Loop() {
				if err := a.Hangup(current.CallID); err != nil {
					b.Fatal(err)
				}
				current, line = line[0], line[1:]
				if o := <-current.Outcomes(); o.Kind != Offered {
					b.Fatalf("%v, want offered", o.Kind)
				}
				if err := a.Answer(current.CallID, "ann"); err != nil {
					b.Fatal(err)
				}
				line = append(line, enqueue(Call{}))
			}
		})
	}
}

// BenchmarkRouteAtScale is one routing decision in a large center: 1,000
// agents all on calls and 10,000 calls waiting; each operation is an agent
// hanging up, the longest-waiting call offered to them and answered, and a
// new call joining the line.
func BenchmarkRouteAtScale(b *testing.B) {
	const agents, waiting = 1000, 10000
	var ids []string
	for i := range agents {
		ids = append(ids, "agent-"+strconv.Itoa(i))
	}
	a, _ := newTestACD(b, testConfig(ids...), nil)
	ctx := context.Background()
	calls := 0
	enqueue := func() *Ticket {
		calls++
		tk, err := a.Enqueue(ctx, Call{ID: strconv.Itoa(calls), Queue: "general"})
		if err != nil {
			b.Fatal(err)
		}
		return tk
	}
	var line []*Ticket
	for range agents + waiting {
		line = append(line, enqueue())
	}
	// Every agent takes a call; the rest wait.
	onCall := map[string]string{} // agent → call
	for _, id := range ids {
		a.SetState(id, Available, "")
		tk := line[0]
		line = line[1:]
		o := <-tk.Outcomes()
		if err := a.Answer(tk.CallID, o.Agent); err != nil {
			b.Fatal(err)
		}
		onCall[o.Agent] = tk.CallID
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		agent := ids[i%agents]
		i++
		if err := a.Hangup(onCall[agent]); err != nil {
			b.Fatal(err)
		}
		// Wrap-up is zero in the test configuration: the agent is free at
		// once and the next call in line is theirs.
		tk := line[0]
		line = line[1:]
		o := <-tk.Outcomes()
		if err := a.Answer(tk.CallID, o.Agent); err != nil {
			b.Fatal(err)
		}
		onCall[o.Agent] = tk.CallID
		line = append(line, enqueue())
	}
}
