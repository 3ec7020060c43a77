package routing

import (
	"log/slog"
	"slices"
	"time"
)

// Ticket follows one call through the distributor.
type Ticket struct {
	CallID string
	// Class is the call's priority after the VIP directory was consulted.
	Class Class
	// Customer is the caller's VIP directory entry, for the agent's screen;
	// nil when the number is not in the directory.
	Customer *Customer

	ch chan Outcome
}

// Outcomes delivers what becomes of the call: offers to agents and their
// retractions, then one final outcome (Connected, Overflowed or Abandoned),
// after which the channel is closed. It never blocks the distributor: an
// offer retracted before it was received is withdrawn from the channel
// instead of being followed by its retraction, and a final outcome
// withdraws an offer not yet received, so a few outcomes at most are ever
// pending.
func (t *Ticket) Outcomes() <-chan Outcome { return t.ch }

// ticketBuffer holds what may be pending on a ticket: by the withdrawal
// rules, a retraction of an offer already received and then either the
// next offer or the final outcome.
const ticketBuffer = 2

type ticketState uint8

const (
	waiting ticketState = iota
	ringing
	connected
	done
)

// ticket is the distributor's side of a call; its fields belong to the
// ACD's lock.
type ticket struct {
	*Ticket
	call    Call
	arrival uint64
	since   time.Time // the caller began waiting: the order within a class
	queued  time.Time // entered this distributor: max wait and overflow
	home    *queue    // the queue the call was sent to
	// queues are where agents are looked for, in order of preference;
	// advisor, when set, is the only agent looked for.
	queues  []*queue
	advisor *agent
	state   ticketState
	agent   *agent // ringing or connected
	via     *queue // the queue agent was chosen for
	overdue bool   // max wait passed while ringing

	stage, maxWait, ring *timer
	answered             time.Time
	unwatch              func() bool // stops watching the call's context
	log                  *slog.Logger
}

func (t *ticket) stopTimers() {
	t.stage.stop()
	t.maxWait.stop()
	t.ring.stop()
}

// post hands o to the call side without blocking, withdrawing pending
// outcomes o makes moot (see Outcomes). Only the distributor sends on the
// channel and it holds its lock, so the pending outcomes can be taken out
// and put back; a receiver meanwhile just waits a moment longer.
func (t *ticket) post(o Outcome) {
	var pending []Outcome
	for more := true; more; {
		select {
		case p := <-t.ch:
			pending = append(pending, p)
		default:
			more = false
		}
	}
	switch o.Kind {
	case Offered:
		pending = append(pending, o)
	case Retracted:
		if i := slices.IndexFunc(pending, func(p Outcome) bool { return p.Kind == Offered }); i >= 0 {
			pending = slices.Delete(pending, i, i+1)
		} else {
			pending = append(pending, o)
		}
	default:
		pending = slices.DeleteFunc(pending, func(p Outcome) bool { return p.Kind == Offered })
		pending = append(pending, o)
	}
	for _, p := range pending {
		t.ch <- p
	}
	if o.Kind.final() {
		close(t.ch)
	}
}
