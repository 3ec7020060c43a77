package routing

import (
	"errors"
	"fmt"
	"time"
)

// Errors the ACD returns; wrapped with the agent, call or queue concerned.
var (
	ErrInvalidTransition = errors.New("routing: invalid agent state transition")
	ErrUnknownAgent      = errors.New("routing: unknown agent")
	ErrUnknownQueue      = errors.New("routing: unknown queue")
	ErrUnknownCall       = errors.New("routing: unknown call")
	ErrDuplicateCall     = errors.New("routing: call already queued")
	ErrNotOffered        = errors.New("routing: call is not ringing at this agent")
	ErrClosed            = errors.New("routing: distributor closed")
)

// State is an agent's state.
type State uint8

// An agent's day: offline → available → ringing → on_call → wrap_up →
// available, with not_ready (and a reason) for breaks.
const (
	Offline State = iota
	Available
	Ringing
	OnCall
	WrapUp
	NotReady
)

var stateNames = [...]string{"offline", "available", "ringing", "on_call", "wrap_up", "not_ready"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// ParseState reads a state by its name.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if n == name {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("routing: unknown agent state %q", name)
}

// transitions lists where each state may go. Ringing, on_call and wrap_up
// are entered by the distributor only; see manual.
var transitions = map[State][]State{
	Offline:   {Available},
	Available: {Ringing, NotReady, Offline},
	Ringing:   {OnCall, Available, NotReady},
	OnCall:    {WrapUp},
	WrapUp:    {Available, NotReady},
	NotReady:  {Available, Offline},
}

// manual is what an agent or supervisor may ask for with SetState; a
// ringing agent answers or rejects instead.
var manual = map[State]bool{Available: true, NotReady: true, Offline: true}

func allowed(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// TransitionError is an invalid state change; it matches
// ErrInvalidTransition with errors.Is.
type TransitionError struct {
	Agent    string
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("routing: agent %s cannot go from %s to %s", e.Agent, e.From, e.To)
}

func (e *TransitionError) Unwrap() error { return ErrInvalidTransition }

// Class is a call's priority class. Calls are served class by class, the
// highest first, and in order of arrival within a class.
type Class uint8

// From lowest to highest priority.
const (
	Normal Class = iota
	// Escalated: the caller is angry or anxious.
	Escalated
	// VIP: a customer of the VIP directory.
	VIP
	// Crisis: the caller may be in danger.
	Crisis
)

var classNames = [...]string{"normal", "escalated", "vip", "crisis"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", c)
}

// ParseClass reads a class by its name.
func ParseClass(name string) (Class, error) {
	for i, n := range classNames {
		if n == name {
			return Class(i), nil
		}
	}
	return 0, fmt.Errorf("routing: unknown call class %q", name)
}

// Strategy picks one of the free agents able to take a call.
type Strategy string

const (
	// LongestIdle picks the agent free the longest, which spreads the work
	// evenly.
	LongestIdle Strategy = "longest_idle"
	// RoundRobin takes the agents in turn, in configuration order.
	RoundRobin Strategy = "round_robin"
)

func (s Strategy) validate() error {
	if s != LongestIdle && s != RoundRobin {
		return fmt.Errorf("%q: want longest_idle or round_robin", s)
	}
	return nil
}

// OverflowAction is what becomes of a call that waited a queue's max_wait.
type OverflowAction string

const (
	// OverflowQueue: enqueue the call in Overflow.Queue.
	OverflowQueue OverflowAction = "queue"
	// OverflowVoicemail: let the caller leave a message.
	OverflowVoicemail OverflowAction = "voicemail"
	// OverflowCallback: offer to call the caller back.
	OverflowCallback OverflowAction = "callback"
)

// Overflow is the decision for a call that waited too long; the call side
// carries it out.
type Overflow struct {
	Action OverflowAction
	// Queue is the next queue, with OverflowQueue.
	Queue string
	// Waited is how long the call waited in the queue it leaves.
	Waited time.Duration
}

// Call is a call to distribute.
type Call struct {
	// ID identifies the call: its Call-ID or session id. Required.
	ID string
	// Queue is where the call waits. Required.
	Queue string
	// Class is the call's priority. A number in the VIP directory raises
	// it to VIP at least.
	Class Class
	// Number is the caller's number, looked up in the VIP directory.
	Number string
	// Skills the call needs on top of its queue's, with minimum levels: a
	// language, a product.
	Skills map[string]int
	// Since is when the caller began waiting; zero means now. A call
	// overflowed from another queue passes its first Since and keeps its
	// place among calls of its class.
	Since time.Time
}

// OutcomeKind says what a ticket's outcome is.
type OutcomeKind uint8

const (
	// Offered: Agent was chosen and is to be rung. Report the agent's
	// answer with Answer, Reject or NoAnswer.
	Offered OutcomeKind = iota + 1
	// Retracted: the offer to Agent ended unanswered (Reason); stop
	// ringing them. The call waits for the next offer.
	Retracted
	// Connected: Agent answered; bridge the call to them. Final.
	Connected
	// Overflowed: the call waited too long; carry out Overflow. Final.
	Overflowed
	// Abandoned: the call left the queue (Reason). Final.
	Abandoned
)

func (k OutcomeKind) final() bool { return k == Connected || k == Overflowed || k == Abandoned }

var outcomeNames = [...]string{"", "offered", "retracted", "connected", "overflowed", "abandoned"}

func (k OutcomeKind) String() string {
	if int(k) < len(outcomeNames) {
		return outcomeNames[k]
	}
	return fmt.Sprintf("outcome(%d)", k)
}

// Outcome is one step of a call through the distributor.
type Outcome struct {
	Kind OutcomeKind
	// Agent, with Offered, Retracted and Connected.
	Agent string
	// AgentName, for the caller's announcement.
	AgentName string
	// Queue the agent was chosen for.
	Queue string
	// Overflow, with Overflowed.
	Overflow Overflow
	// Reason, with Retracted ("no answer", "rejected") and Abandoned
	// ("hangup", "closed").
	Reason string
}

// Position is where a waiting call stands, for periodic announcements.
type Position struct {
	// Place is 1 for the next call to be served in the call's queue.
	Place int
	// Waited is how long the call has waited.
	Waited time.Duration
	// Estimated is the expected wait from now.
	Estimated time.Duration
	// Staffed is how many agents who serve the queue are logged in and
	// ready or busy; 0 means nobody can answer for now.
	Staffed int
}

// EventKind says what an Event reports.
type EventKind uint8

const (
	// AgentState: Agent went from Prev to State.
	AgentState EventKind = iota + 1
	// CallQueued: Call began waiting in Queue.
	CallQueued
	// CallOffered: Call is ringing at Agent.
	CallOffered
	// CallConnected: Agent answered Call.
	CallConnected
	// CallEnded: a connected Call hung up.
	CallEnded
	// CallOverflowed: Call waited too long in Queue.
	CallOverflowed
	// CallAbandoned: Call left before an agent answered.
	CallAbandoned
)

var eventNames = [...]string{"", "agent_state", "call_queued", "call_offered", "call_connected", "call_ended", "call_overflowed", "call_abandoned"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", k)
}

// Event is one change in the distributor, for supervisors' screens and the
// store.
type Event struct {
	// Seq numbers events from 1 without gaps; a subscriber that sees a gap
	// lost events.
	Seq  uint64
	Time time.Time
	Kind EventKind
	// Agent and its state change, with AgentState; Agent also with
	// CallOffered and CallConnected.
	Agent       string
	Prev, State State
	// Reason for NotReady, for Retracted offers and for abandons.
	Reason string
	Call   string
	Queue  string
	Class  Class
}
