package routing

import "sync/atomic"

// Subscription receives the distributor's events. It is fed without ever
// blocking the distributor: when its buffer is full the event is lost and
// counted in Dropped, and the gap shows in Event.Seq.
type Subscription struct {
	acd     *ACD
	ch      chan Event
	dropped atomic.Uint64
}

// Subscribe returns a subscription holding up to buffer undelivered events.
func (a *ACD) Subscribe(buffer int) *Subscription {
	s := &Subscription{acd: a, ch: make(chan Event, max(buffer, 1))}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		close(s.ch)
		return s
	}
	a.subs[s] = struct{}{}
	return s
}

// Events delivers the events in order; it is closed by Close or when the
// distributor closes.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Dropped is how many events were lost because the subscriber was behind.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription.
func (s *Subscription) Close() {
	a := s.acd
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.subs[s]; ok {
		delete(a.subs, s)
		close(s.ch)
	}
}

// emit stamps e and offers it to every subscriber; a.mu is held.
func (a *ACD) emit(e Event) {
	a.seq++
	e.Seq = a.seq
	e.Time = a.clock.Now()
	for s := range a.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}
