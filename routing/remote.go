package routing

import "fmt"

// A call another node of a cluster offers one of this node's agents is
// that node's: its queue, its distributor, its hold on the agent. This
// node only carries the agent's side of it; it follows the call in the
// agent's state, so that the agent's desktop and the supervisors see them
// ringing, on the call and wrapping up as for a call of its own, and so
// that this node offers them nothing meanwhile.

// RemoteRing reports that agentID's phone rings for callID, a call of
// queue that another node offers them. The agent must be available, or
// not ready with reason hold (the hold of an agent another node has
// claimed); they are ringing until RemoteAnswer or RemoteEnd.
func (a *ACD) RemoteRing(agentID, callID, queue, hold string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	ag := a.agents[agentID]
	if ag == nil {
		return fmt.Errorf("agent %s: %w", agentID, ErrUnknownAgent)
	}
	q := a.queues[queue]
	if q == nil {
		return fmt.Errorf("call %s: %w %q", callID, ErrUnknownQueue, queue)
	}
	if ag.remote != "" || !(ag.state == Available || ag.state == NotReady && ag.reason == hold) {
		return &TransitionError{Agent: agentID, From: ag.state, To: Ringing}
	}
	ag.remote, ag.remoteQ = callID, q
	a.setState(ag, Ringing, "")
	return nil
}

// RemoteAnswer reports that agentID answered callID, which RemoteRing
// rang: they are on the call.
func (a *ACD) RemoteAnswer(agentID, callID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	ag, err := a.remoteCall(agentID, callID)
	if err != nil {
		return err
	}
	if ag.state != Ringing {
		return &TransitionError{Agent: agentID, From: ag.state, To: OnCall}
	}
	a.setState(ag, OnCall, "")
	return nil
}

// RemoteEnd reports that callID, which RemoteRing rang, ended for
// agentID: unanswered, the agent is available again; after they answered,
// they wrap up for the queue's wrap-up time, then are available.
func (a *ACD) RemoteEnd(agentID, callID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	ag, err := a.remoteCall(agentID, callID)
	if err != nil {
		return err
	}
	q := ag.remoteQ
	ag.remote, ag.remoteQ = "", nil
	if ag.state != OnCall {
		a.setState(ag, Available, "")
		a.dispatch()
		return nil
	}
	a.wrapUp(ag, *q.cfg.WrapUp)
	return nil
}

func (a *ACD) remoteCall(agentID, callID string) (*agent, error) {
	if a.closed {
		return nil, ErrClosed
	}
	ag := a.agents[agentID]
	if ag == nil {
		return nil, fmt.Errorf("agent %s: %w", agentID, ErrUnknownAgent)
	}
	if ag.remote != callID {
		return nil, fmt.Errorf("call %s, agent %s: %w", callID, agentID, ErrNotOffered)
	}
	return ag, nil
}
