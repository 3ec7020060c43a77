// Package events is the in-process bus behind the operator's live stream:
// calls, turns, transfers and alerts are published as they happen and
// every subscriber (an open event stream) receives them in order.
//
// Publish never blocks the call that publishes: each subscriber has a
// bounded buffer, and a subscriber whose buffer is full is dropped, its
// channel closed and its Err set to ErrSlow. Dropping rather than skipping
// events keeps one promise simple: a subscriber's stream has no gaps. A
// client that falls behind reconnects and reads the current state again,
// instead of showing a board that silently missed an event.
package events

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultBuffer is a subscriber's buffer when NewBus is given none: a
// few seconds of a busy node's events.
const DefaultBuffer = 256

// ErrSlow is the Err of a subscription dropped because it did not keep up.
var ErrSlow = errors.New("events: subscriber too slow, dropped")

// Event is something that happened, for the live stream.
type Event struct {
	// Type names what happened: "call.started", "turn", "transfer", ...
	Type string
	// At is when it happened; Publish sets it to now when zero.
	At time.Time
	// CallID is the call the event belongs to, if any.
	CallID string
	// Agent is the agent serving the call, if any: an agent's stream
	// carries only the events of the agent's own calls.
	Agent string
	// Data is the event's payload, encoded as JSON on the stream. It must
	// hold no personal data beyond what the store would keep (redacted
	// text).
	Data any
}

// Bus delivers published events to its subscribers. The zero Bus is not
// usable; make one with NewBus.
type Bus struct {
	buffer  int
	dropped atomic.Uint64

	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// NewBus returns a bus whose subscribers each buffer up to buffer events
// (DefaultBuffer when buffer <= 0).
func NewBus(buffer int) *Bus {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Bus{buffer: buffer, subs: make(map[*Subscription]struct{})}
}

// Subscription is one subscriber's end of the bus.
type Subscription struct {
	bus  *Bus
	ch   chan Event
	err  error // under bus.mu
	stop func() bool
}

// Err tells why the subscription's channel was closed: nil when its
// context ended (or while it is open), ErrSlow when it was dropped.
func (s *Subscription) Err() error {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.err
}

// Subscribe returns a channel of the events published from now on. The
// channel is closed when ctx ends or when the subscriber falls behind by
// more than the bus's buffer (see Subscription.Err). It starts no
// goroutine of its own until ctx ends.
func (b *Bus) Subscribe(ctx context.Context) (<-chan Event, *Subscription) {
	s := &Subscription{bus: b, ch: make(chan Event, b.buffer)}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs[s] = struct{}{}
	// Under the lock, so that Publish sees stop set; the function runs in
	// a goroutine of its own and so waits for the lock.
	s.stop = context.AfterFunc(ctx, func() { b.remove(s, nil) })
	return s.ch, s
}

// Publish delivers e to every subscriber without waiting for any of them.
func (b *Bus) Publish(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.ch <- e:
		default:
			b.dropped.Add(1)
			b.closeLocked(s, ErrSlow)
			s.stop() // its context no longer matters
		}
	}
}

// Subscribers is how many subscriptions are open.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Dropped is how many subscribers were dropped for falling behind.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

func (b *Bus) remove(s *Subscription, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closeLocked(s, err)
}

// closeLocked ends s once; only the bus sends on s.ch, always under the
// lock, so closing here cannot race a send.
func (b *Bus) closeLocked(s *Subscription, err error) {
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	s.err = err
	close(s.ch)
}
