package routing

import "time"

// Snapshot is the supervisor's view of the distributor at one moment.
type Snapshot struct {
	At     time.Time
	Queues []QueueStatus
	// Agents in configuration order.
	Agents []AgentStatus
	// ByState counts the agents in each state.
	ByState map[State]int
}

// QueueStatus is one queue's load. A call counts in the queue it was sent
// to, whichever stage of VIP routing it is in.
type QueueStatus struct {
	Name string
	// Waiting calls, and calls ringing at an agent.
	Waiting, Ringing int
	// LongestWait is how long the caller waiting longest, ringing or not,
	// has waited.
	LongestWait time.Duration
	// Staffed agents serve the queue and are at work (see Position);
	// Available of them are free.
	Staffed, Available int
	// HandleTime is the recent mean talk and wrap-up time, the basis of
	// the estimated wait.
	HandleTime time.Duration
}

// AgentStatus is one agent's state.
type AgentStatus struct {
	ID, Name string
	State    State
	// Reason, when not ready.
	Reason string
	Since  time.Time
	// Call ringing at the agent or on the line with them.
	Call string
	// Missed calls in a row.
	Missed int
}

// Snapshot returns the current state of every queue and agent.
func (a *ACD) Snapshot() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock.Now()
	s := Snapshot{At: now, ByState: make(map[State]int)}
	index := make(map[*queue]int, len(a.cfg.Queues))
	for _, qc := range a.cfg.Queues {
		q := a.queues[qc.Name]
		index[q] = len(s.Queues)
		st := QueueStatus{Name: qc.Name, Staffed: a.staffed(q), HandleTime: q.handleTime(a.cfg.HandleTime)}
		for _, ag := range a.free {
			if ag.serves[q] {
				st.Available++
			}
		}
		s.Queues = append(s.Queues, st)
	}
	for _, t := range a.calls {
		st := &s.Queues[index[t.home]]
		switch t.state {
		case waiting:
			st.Waiting++
		case ringing:
			st.Ringing++
		default:
			continue
		}
		st.LongestWait = max(st.LongestWait, now.Sub(t.since))
	}
	for _, ag := range a.order {
		as := AgentStatus{ID: ag.cfg.ID, Name: ag.cfg.Name, State: ag.state, Reason: ag.reason, Since: ag.since, Missed: ag.missed}
		if ag.call != nil {
			as.Call = ag.call.call.ID
		} else if ag.remote != "" {
			as.Call = ag.remote
		}
		s.Agents = append(s.Agents, as)
		s.ByState[ag.state]++
	}
	return s
}
