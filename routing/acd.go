// Package routing is Hotline's automatic call distributor (ACD): queues of
// waiting calls, agents with states and skills, and the strategy that pairs
// them. It is a library without SIP or HTTP: the call side enqueues a call,
// rings the agent it is offered and bridges the legs; the agent side
// reports answers and state changes.
//
// The ACD has no goroutine of its own. Every method works under one mutex
// and returns at once; the timers (ring timeout, wrap-up, advisor and queue
// waits, max wait) run on an injectable Clock and take the same mutex when
// they fire. Nothing it does waits on a caller: a ticket's outcomes and the
// event subscriptions are handed over without blocking.
package routing

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/internal/logctx"
)

// Options are the distributor's collaborators; the zero value runs on the
// wall clock without a VIP directory.
type Options struct {
	// Clock drives every timeout. Default: the wall clock.
	Clock Clock
	// Directory is the VIP customer directory. Default none.
	Directory *Directory
	// Logger for events without a call; calls log through their context's
	// logger (internal/logctx). Default slog.Default().
	Logger *slog.Logger
}

// ACD is the automatic call distributor. It is safe for concurrent use.
type ACD struct {
	mu     sync.Mutex
	cfg    Config
	clock  Clock
	log    *slog.Logger
	dir    *Directory
	agents map[string]*agent
	order  []*agent // configuration order: round-robin turns, ties
	free   []*agent // available agents, in no order
	queues map[string]*queue
	vip    *queue
	calls  map[string]*ticket
	// waiting is every call not ringing or connected, the next to serve
	// first: by class, then by when the caller began waiting.
	waiting  []*ticket
	subs     map[*Subscription]struct{}
	seq      uint64 // last event's number
	arrivals uint64 // tickets so far, to order calls that began waiting at once
	closed   bool
}

type agent struct {
	cfg    AgentConfig
	idx    int
	state  State
	reason string
	since  time.Time // in this state since
	missed int       // calls in a row left ringing
	call   *ticket   // ringing or on the call
	// remote is the call of another node the agent is ringing for, on or
	// wrapping up (remote.go), and remoteQ its queue; "" when none.
	remote  string
	remoteQ *queue
	wrap    *timer
	serves  map[*queue]bool
}

// Reasons the distributor gives.
const (
	// ReasonMissedCalls is the not_ready reason of an agent who left
	// max_missed calls in a row ringing.
	ReasonMissedCalls = "missed calls"
	reasonNoAnswer    = "no answer"
	reasonRejected    = "rejected"
	reasonUnavailable = "unavailable"
)

// handledWindow is how many recent calls a queue's handle time averages.
const handledWindow = 20

type queue struct {
	cfg     QueueConfig // with the section's defaults filled in
	rr      int         // order index of the agent round robin chose last
	handled [handledWindow]time.Duration
	nHandled,
	nextHandled int
}

// handleTime is the queue's mean talk and wrap-up time over its last calls,
// or def before it has any.
func (q *queue) handleTime(def time.Duration) time.Duration {
	if q.nHandled == 0 {
		return def
	}
	var sum time.Duration
	for _, d := range q.handled[:q.nHandled] {
		sum += d
	}
	return sum / time.Duration(q.nHandled)
}

func (q *queue) recordHandled(d time.Duration) {
	q.handled[q.nextHandled] = d
	q.nextHandled = (q.nextHandled + 1) % handledWindow
	q.nHandled = min(q.nHandled+1, handledWindow)
}

// New returns a distributor for cfg. Every agent starts offline.
func New(cfg Config, opt Options) (*ACD, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("routing: %w", err)
	}
	a := &ACD{
		cfg:    cfg,
		clock:  cmp.Or[Clock](opt.Clock, realClock{}),
		log:    cmp.Or(opt.Logger, slog.Default()),
		dir:    opt.Directory,
		agents: make(map[string]*agent, len(cfg.Agents)),
		queues: make(map[string]*queue, len(cfg.Queues)),
		calls:  make(map[string]*ticket),
		subs:   make(map[*Subscription]struct{}),
	}
	for _, qc := range cfg.Queues {
		a.queues[qc.Name] = &queue{cfg: cfg.queueDefaults(qc), rr: -1}
	}
	a.vip = a.queues[cfg.VIP.Queue]
	now := a.clock.Now()
	for i, ac := range cfg.Agents {
		if ac.Name == "" {
			ac.Name = ac.ID
		}
		ag := &agent{cfg: ac, idx: i, since: now, serves: make(map[*queue]bool)}
		for _, q := range a.queues {
			ag.serves[q] = hasSkills(ac.Skills, q.cfg.Skills)
		}
		a.agents[ac.ID] = ag
		a.order = append(a.order, ag)
	}
	return a, nil
}

func hasSkills(have, need map[string]int) bool {
	for s, lv := range need {
		if have[s] < lv {
			return false
		}
	}
	return true
}

// SetDirectory replaces the VIP directory, for a reload; calls already
// queued keep their route.
func (a *ACD) SetDirectory(d *Directory) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dir = d
}

// Close abandons every call not yet connected (reason "closed"), stops the
// timers and ends the subscriptions. Calls connected stay the call side's.
func (a *ACD) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	for _, t := range a.calls {
		if t.state != connected {
			a.abandon(t, "closed")
		}
		t.stopTimers()
		t.unwatch()
	}
	for _, ag := range a.order {
		ag.wrap.stop()
	}
	for s := range a.subs {
		close(s.ch)
	}
	clear(a.subs)
	a.closed = true
}

// Enqueue puts c in its queue and returns the ticket that tells the call
// side what becomes of it. The first offer may already be on the ticket
// when Enqueue returns. When ctx ends the call is hung up, as by Hangup:
// pass the call's context.
func (a *ACD) Enqueue(ctx context.Context, c Call) (*Ticket, error) {
	log := logctx.From(ctx, a.log.With("call_id", c.ID))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, ErrClosed
	}
	if c.ID == "" {
		return nil, fmt.Errorf("%w: a call without id", ErrUnknownCall)
	}
	home := a.queues[c.Queue]
	if home == nil {
		return nil, fmt.Errorf("call %s: %w %q", c.ID, ErrUnknownQueue, c.Queue)
	}
	if _, dup := a.calls[c.ID]; dup {
		return nil, fmt.Errorf("call %s: %w", c.ID, ErrDuplicateCall)
	}
	now := a.clock.Now()
	a.arrivals++
	t := &ticket{
		Ticket:  &Ticket{CallID: c.ID, ch: make(chan Outcome, ticketBuffer)},
		call:    c,
		arrival: a.arrivals,
		queued:  now,
		since:   c.Since,
		home:    home,
		log:     log,
	}
	if t.since.IsZero() {
		t.since = now
	}
	if cust, ok := a.dir.Lookup(c.Number); ok {
		t.Customer = &cust
		t.call.Class = max(t.call.Class, VIP)
		if t.call.Class == VIP { // a crisis does not wait for the advisor
			t.advisor = a.advisorFor(t, cust)
		}
	}
	t.Class = t.call.Class
	a.calls[c.ID] = t
	t.unwatch = context.AfterFunc(ctx, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.calls[c.ID] == t && !a.closed {
			a.hangup(t)
		}
	})
	switch {
	case t.advisor == nil:
		a.enterQueues(t)
	case a.cfg.VIP.AdvisorWait > 0:
		t.stage = a.after(a.cfg.VIP.AdvisorWait, func() { a.leaveAdvisor(t) })
	case t.advisor.state != Available:
		t.advisor = nil
		a.enterQueues(t)
	}
	if home.cfg.MaxWait > 0 {
		t.maxWait = a.after(home.cfg.MaxWait, func() { a.waitedTooLong(t) })
	}
	a.wait(t)
	log.Info("call queued", "queue", home.cfg.Name, "class", t.Class, "vip", t.Customer != nil, "advisor", t.advisor != nil)
	a.emit(Event{Kind: CallQueued, Call: c.ID, Queue: home.cfg.Name, Class: t.Class})
	a.dispatch()
	return t.Ticket, nil
}

// advisorFor is the customer's advisor when they may take the call: an
// agent flagged as a VIP advisor who is logged in.
func (a *ACD) advisorFor(t *ticket, c Customer) *agent {
	if c.Advisor == "" {
		return nil
	}
	ag := a.agents[c.Advisor]
	if ag == nil || !ag.cfg.VIPAdvisor {
		t.log.Warn("vip directory names an advisor who is not a vip advisor", "advisor", c.Advisor)
		return nil
	}
	if ag.state == Offline {
		return nil
	}
	return ag
}

// leaveAdvisor ends the advisor stage: the advisor is busy too long, missed
// the call or logged out.
func (a *ACD) leaveAdvisor(t *ticket) {
	if t.advisor == nil {
		return
	}
	t.advisor = nil
	t.stage.stop()
	a.enterQueues(t)
	a.dispatch()
}

// enterQueues routes t to the VIP queue first when it is a VIP call, else
// straight to its own queue.
func (a *ACD) enterQueues(t *ticket) {
	if t.call.Class != VIP || a.vip == nil || a.vip == t.home {
		t.queues = []*queue{t.home}
		return
	}
	if a.cfg.VIP.QueueWait == 0 {
		t.queues = []*queue{a.vip, t.home}
		return
	}
	t.queues = []*queue{a.vip}
	t.stage = a.after(a.cfg.VIP.QueueWait, func() {
		t.queues = []*queue{a.vip, t.home}
		a.dispatch()
	})
}

// waitedTooLong applies the home queue's overflow, after the ring when the
// call is ringing.
func (a *ACD) waitedTooLong(t *ticket) {
	switch t.state {
	case waiting:
		a.overflow(t)
	case ringing:
		t.overdue = true
	}
}

func (a *ACD) overflow(t *ticket) {
	a.unwait(t)
	oc := t.home.cfg.Overflow
	o := Overflow{Action: oc.Action, Waited: a.clock.Now().Sub(t.queued)}
	if oc.Action == OverflowQueue {
		o.Queue = oc.Queue
	}
	t.log.Info("call overflowed", "queue", t.home.cfg.Name, "action", o.Action, "to", o.Queue, "waited", o.Waited)
	a.emit(Event{Kind: CallOverflowed, Call: t.call.ID, Queue: t.home.cfg.Name, Class: t.Class, Reason: string(o.Action)})
	a.end(t, Outcome{Kind: Overflowed, Overflow: o})
}

// dispatch offers waiting calls, the most urgent first, to free agents
// until no free agent can take any of them. A call no free agent has the
// skills for does not hold up the calls behind it.
func (a *ACD) dispatch() {
	for i := 0; i < len(a.waiting) && len(a.free) > 0; {
		t := a.waiting[i]
		if ag, via := a.pick(t); ag != nil {
			a.waiting = slices.Delete(a.waiting, i, i+1)
			a.offer(t, ag, via)
			continue
		}
		i++
	}
}

// pick chooses the free agent for t and the queue they take it for: the
// advisor alone in the advisor stage, else the first of t's queues with a
// free agent who has the skills, by that queue's strategy.
func (a *ACD) pick(t *ticket) (*agent, *queue) {
	if t.advisor != nil {
		if t.advisor.state == Available {
			return t.advisor, cmp.Or(a.vip, t.home)
		}
		return nil, nil
	}
	for _, q := range t.queues {
		var best *agent
		for _, ag := range a.free {
			if !ag.serves[q] || !hasSkills(ag.cfg.Skills, t.call.Skills) {
				continue
			}
			if best == nil || a.before(q, ag, best) {
				best = ag
			}
		}
		if best != nil {
			return best, q
		}
	}
	return nil, nil
}

// before reports whether x should get a call rather than y. An agent who
// just let a call ring out or rejected it has the shortest idle time, and
// round robin has passed them, so the call goes to someone else first.
func (a *ACD) before(q *queue, x, y *agent) bool {
	if q.cfg.Strategy == RoundRobin {
		n := len(a.order)
		turn := func(ag *agent) int { return (ag.idx - q.rr - 1 + n) % n }
		return turn(x) < turn(y)
	}
	if !x.since.Equal(y.since) {
		return x.since.Before(y.since)
	}
	return x.idx < y.idx
}

func (a *ACD) offer(t *ticket, ag *agent, via *queue) {
	t.state, t.agent, t.via = ringing, ag, via
	ag.call = t
	via.rr = ag.idx
	a.setState(ag, Ringing, "")
	t.ring = a.after(via.cfg.RingTimeout, func() { a.unanswered(t, reasonNoAnswer, "") })
	t.log.Debug("call offered", "agent", ag.cfg.ID, "queue", via.cfg.Name)
	a.emit(Event{Kind: CallOffered, Call: t.call.ID, Agent: ag.cfg.ID, Queue: via.cfg.Name, Class: t.Class})
	t.post(Outcome{Kind: Offered, Agent: ag.cfg.ID, AgentName: ag.cfg.Name, Queue: via.cfg.Name})
}

// Answer reports that agentID picked up call callID.
func (a *ACD) Answer(callID, agentID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, err := a.offered(callID, agentID)
	if err != nil {
		return err
	}
	ag := t.agent
	t.stopTimers()
	t.state = connected
	t.answered = a.clock.Now()
	ag.missed = 0
	a.setState(ag, OnCall, "")
	t.log.Info("call connected", "agent", agentID, "queue", t.via.cfg.Name, "waited", t.answered.Sub(t.since))
	a.emit(Event{Kind: CallConnected, Call: callID, Agent: agentID, Queue: t.via.cfg.Name, Class: t.Class})
	t.post(Outcome{Kind: Connected, Agent: agentID, AgentName: ag.cfg.Name, Queue: t.via.cfg.Name})
	return nil
}

// Reject reports that agentID declined call callID; it goes to the next
// agent. A rejection is not a missed call.
func (a *ACD) Reject(callID, agentID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, err := a.offered(callID, agentID)
	if err != nil {
		return err
	}
	a.unanswered(t, reasonRejected, "")
	return nil
}

// NoAnswer reports that call callID rang agentID out, when the call side
// learns it before the ring timeout (the phone is unreachable, busy). The
// call goes to the next agent and the agent has missed a call.
func (a *ACD) NoAnswer(callID, agentID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, err := a.offered(callID, agentID)
	if err != nil {
		return err
	}
	a.unanswered(t, reasonNoAnswer, "")
	return nil
}

// Unavailable reports that agentID, offered call callID, cannot take it
// for a reason the distributor does not see (another node of a cluster
// has them): the call goes to the next agent, the agent has not missed it
// and is made not ready with reason, in one step, so the call is not
// offered to them again until they are made available.
func (a *ACD) Unavailable(callID, agentID, reason string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, err := a.offered(callID, agentID)
	if err != nil {
		return err
	}
	a.unanswered(t, reasonUnavailable, reason)
	return nil
}

func (a *ACD) offered(callID, agentID string) (*ticket, error) {
	if a.closed {
		return nil, ErrClosed
	}
	t := a.calls[callID]
	if t == nil {
		return nil, fmt.Errorf("call %s: %w", callID, ErrUnknownCall)
	}
	if t.state != ringing || t.agent.cfg.ID != agentID {
		return nil, fmt.Errorf("call %s, agent %s: %w", callID, agentID, ErrNotOffered)
	}
	return t, nil
}

// unanswered ends the ring at t's agent and routes t on: to the next
// agent, or to its overflow when it has meanwhile waited too long. The
// agent is available again, or not ready with hold when it is given, or
// after too many missed calls.
func (a *ACD) unanswered(t *ticket, reason, hold string) {
	ag := t.agent
	t.ring.stop()
	t.state, t.agent, ag.call = waiting, nil, nil
	if reason == reasonNoAnswer {
		ag.missed++
	}
	switch {
	case hold != "":
		a.setState(ag, NotReady, hold)
	case ag.missed >= a.cfg.MaxMissed:
		ag.missed = 0
		t.log.Warn("agent made not ready", "agent", ag.cfg.ID, "missed", a.cfg.MaxMissed)
		a.setState(ag, NotReady, ReasonMissedCalls)
	default:
		a.setState(ag, Available, "")
	}
	t.log.Debug("offer retracted", "agent", ag.cfg.ID, "reason", reason)
	t.post(Outcome{Kind: Retracted, Agent: ag.cfg.ID, AgentName: ag.cfg.Name, Queue: t.via.cfg.Name, Reason: reason})
	if t.overdue {
		a.overflow(t)
		a.dispatch()
		return
	}
	a.wait(t)
	if t.advisor != nil {
		a.leaveAdvisor(t) // dispatches
		return
	}
	a.dispatch()
}

// Hangup reports that call callID ended, from either side, at any stage: a
// waiting or ringing call is abandoned, a connected call's agent goes to
// wrap-up.
func (a *ACD) Hangup(callID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	t := a.calls[callID]
	if t == nil {
		return fmt.Errorf("call %s: %w", callID, ErrUnknownCall)
	}
	a.hangup(t)
	return nil
}

func (a *ACD) hangup(t *ticket) {
	switch t.state {
	case waiting:
		a.abandon(t, "hangup")
	case ringing:
		ag := t.agent
		ag.call = nil
		a.abandon(t, "hangup")
		a.setState(ag, Available, "")
		a.dispatch()
	case connected:
		ag, q := t.agent, t.via
		ag.call = nil
		now := a.clock.Now()
		wrap := *q.cfg.WrapUp
		q.recordHandled(now.Sub(t.answered) + wrap)
		t.log.Info("call ended", "agent", ag.cfg.ID, "talked", now.Sub(t.answered))
		a.emit(Event{Kind: CallEnded, Call: t.call.ID, Agent: ag.cfg.ID, Queue: q.cfg.Name, Class: t.Class})
		delete(a.calls, t.call.ID)
		t.unwatch()
		a.wrapUp(ag, wrap)
	}
}

// wrapUp starts ag's wrap-up after a call: wrap long, then available.
func (a *ACD) wrapUp(ag *agent, wrap time.Duration) {
	a.setState(ag, WrapUp, "")
	if wrap == 0 {
		a.endWrapUp(ag)
		return
	}
	ag.wrap = a.after(wrap, func() { a.endWrapUp(ag) })
}

func (a *ACD) abandon(t *ticket, reason string) {
	if t.state == waiting {
		a.unwait(t)
	}
	t.log.Info("call abandoned", "queue", t.home.cfg.Name, "reason", reason, "waited", a.clock.Now().Sub(t.since))
	a.emit(Event{Kind: CallAbandoned, Call: t.call.ID, Queue: t.home.cfg.Name, Class: t.Class, Reason: reason})
	a.end(t, Outcome{Kind: Abandoned, Reason: reason})
}

// end finishes a ticket that was not connected.
func (a *ACD) end(t *ticket, o Outcome) {
	t.stopTimers()
	t.unwatch()
	t.state = done
	delete(a.calls, t.call.ID)
	t.post(o)
}

func (a *ACD) endWrapUp(ag *agent) {
	if ag.state != WrapUp {
		return
	}
	a.setState(ag, Available, "")
	a.dispatch()
}

// SetState changes an agent's state at their or a supervisor's request:
// to available, not_ready (with a reason) or offline. Ringing, on_call and
// wrap-up are the distributor's to enter and a ringing agent answers or
// rejects; anything else is an ErrInvalidTransition.
func (a *ACD) SetState(agentID string, to State, reason string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	ag := a.agents[agentID]
	if ag == nil {
		return fmt.Errorf("agent %s: %w", agentID, ErrUnknownAgent)
	}
	if !manual[to] || ag.state == Ringing || !allowed(ag.state, to) {
		return &TransitionError{Agent: agentID, From: ag.state, To: to}
	}
	if to != NotReady {
		reason = ""
	}
	ag.wrap.stop()
	a.setState(ag, to, reason)
	switch to {
	case Available:
		a.dispatch()
	case Offline:
		// Calls waiting for this advisor need not wait any longer.
		for _, t := range slices.Clone(a.waiting) {
			if t.advisor == ag {
				a.leaveAdvisor(t)
			}
		}
	}
	return nil
}

func (a *ACD) setState(ag *agent, to State, reason string) {
	prev := ag.state
	if prev == Available {
		i := slices.Index(a.free, ag)
		a.free = slices.Delete(a.free, i, i+1)
	}
	ag.state, ag.reason, ag.since = to, reason, a.clock.Now()
	if to == Available {
		a.free = append(a.free, ag)
	}
	a.log.Debug("agent state", "agent", ag.cfg.ID, "from", prev, "to", to, "reason", reason)
	a.emit(Event{Kind: AgentState, Agent: ag.cfg.ID, Prev: prev, State: to, Reason: reason})
}

// wait puts t among the waiting calls in its turn.
func (a *ACD) wait(t *ticket) {
	i, _ := slices.BinarySearchFunc(a.waiting, t, serveOrder)
	a.waiting = slices.Insert(a.waiting, i, t)
}

func (a *ACD) unwait(t *ticket) {
	if i, ok := slices.BinarySearchFunc(a.waiting, t, serveOrder); ok {
		a.waiting = slices.Delete(a.waiting, i, i+1)
	}
}

// serveOrder orders calls by class, the highest first, then by when the
// caller began waiting, then by arrival.
func serveOrder(x, y *ticket) int {
	if c := cmp.Compare(y.call.Class, x.call.Class); c != 0 {
		return c
	}
	if c := x.since.Compare(y.since); c != 0 {
		return c
	}
	return cmp.Compare(x.arrival, y.arrival)
}

// Position tells a waiting caller where they stand in their queue and how
// long they may still wait: their place divided among the agents who serve
// the queue, times its recent handle time (talk and wrap-up; the configured
// handle_time before the queue has handled calls). A call ringing at an
// agent is in place 1 with no wait left.
func (a *ACD) Position(callID string) (Position, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.calls[callID]
	if t == nil || t.state == connected {
		return Position{}, fmt.Errorf("call %s: %w", callID, ErrUnknownCall)
	}
	now := a.clock.Now()
	p := Position{Place: 1, Waited: now.Sub(t.since), Staffed: a.staffed(t.home)}
	if t.state == ringing {
		return p, nil
	}
	for _, w := range a.waiting {
		if w == t {
			break
		}
		if w.home == t.home {
			p.Place++
		}
	}
	ht := t.home.handleTime(a.cfg.HandleTime)
	p.Estimated = time.Duration(p.Place) * ht / time.Duration(max(p.Staffed, 1))
	return p, nil
}

// staffed counts the agents serving q who are at work: free, ringing, on a
// call or wrapping one up.
func (a *ACD) staffed(q *queue) int {
	n := 0
	for _, ag := range a.order {
		if ag.serves[q] && ag.state != Offline && ag.state != NotReady {
			n++
		}
	}
	return n
}

// after runs fn under the distributor's lock once d has passed, unless the
// returned timer is stopped first or the distributor has closed.
func (a *ACD) after(d time.Duration, fn func()) *timer {
	tm := &timer{}
	tm.t = a.clock.AfterFunc(d, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if tm.dead || a.closed {
			return
		}
		tm.dead = true
		fn()
	})
	return tm
}

// timer is a distributor timeout. Stopping it under the lock is final even
// when the clock has already started its function.
type timer struct {
	t    Timer
	dead bool
}

func (tm *timer) stop() {
	if tm != nil && !tm.dead {
		tm.dead = true
		tm.t.Stop()
	}
}
