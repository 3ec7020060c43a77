package events

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func recv(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

func closed(t *testing.T, ch <-chan Event) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("channel not closed")
		}
	}
}

func TestDelivery(t *testing.T) {
	b := NewBus(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch1, _ := b.Subscribe(ctx)
	ch2, _ := b.Subscribe(ctx)
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	b.Publish(Event{Type: "call.started", At: at, CallID: "c1", Data: map[string]string{"from": "x"}})
	b.Publish(Event{Type: "turn", CallID: "c1"})
	for _, ch := range []<-chan Event{ch1, ch2} {
		e := recv(t, ch)
		if e.Type != "call.started" || !e.At.Equal(at) || e.CallID != "c1" {
			t.Errorf("first event %+v", e)
		}
		e = recv(t, ch)
		if e.Type != "turn" || e.At.IsZero() {
			t.Errorf("second event %+v: want type turn, At set by Publish", e)
		}
	}
}

func TestContextEnds(t *testing.T) {
	b := NewBus(4)
	ctx, cancel := context.WithCancel(context.Background())
	ch, sub := b.Subscribe(ctx)
	if b.Subscribers() != 1 {
		t.Fatalf("subscribers %d", b.Subscribers())
	}
	cancel()
	closed(t, ch)
	if sub.Err() != nil {
		t.Errorf("Err = %v, want nil after the context ended", sub.Err())
	}
	if b.Subscribers() != 0 {
		t.Errorf("subscribers %d after cancel", b.Subscribers())
	}
	b.Publish(Event{Type: "after"}) // no subscriber: nothing to do, no panic
}

// A subscriber that stops reading is dropped once its buffer is full; the
// publisher never waits, and the others keep receiving.
func TestSlowSubscriberDropped(t *testing.T) {
	const buffer = 8
	b := NewBus(buffer)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, slowSub := b.Subscribe(ctx)
	fast, _ := b.Subscribe(ctx)

	var got []Event
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range fast {
			got = append(got, e)
			if len(got) == 100 {
				return
			}
		}
	}()
	start := time.Now()
	for i := range 100 {
		b.Publish(Event{Type: "tick", Data: i})
		if i%buffer == 0 {
			time.Sleep(time.Millisecond) // let the fast reader keep up
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("publishing 100 events took %v: the publisher waited", d)
	}
	<-done
	for i, e := range got {
		if e.Data != i {
			t.Fatalf("fast subscriber: event %d has %v: out of order or skipped", i, e.Data)
		}
	}

	n := 0
	for range slow {
		n++
	}
	if n != buffer {
		t.Errorf("slow subscriber read %d events before the close, want its buffer of %d", n, buffer)
	}
	if slowSub.Err() != ErrSlow {
		t.Errorf("Err = %v, want ErrSlow", slowSub.Err())
	}
	if b.Dropped() != 1 || b.Subscribers() != 1 {
		t.Errorf("dropped %d, subscribers %d; want 1 and 1", b.Dropped(), b.Subscribers())
	}
}

// Publishing, subscribing and cancelling at once (run with -race).
func TestConcurrent(t *testing.T) {
	b := NewBus(16)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 500 {
				b.Publish(Event{Type: "x", Data: i})
			}
		})
	}
	for range 8 {
		wg.Go(func() {
			for range 20 {
				ctx, cancel := context.WithCancel(context.Background())
				ch, sub := b.Subscribe(ctx)
				// Read a little, unless the publishers are done.
				select {
				case <-ch:
				case <-time.After(time.Millisecond):
				}
				cancel()
				for range ch {
				}
				_ = sub.Err()
			}
		})
	}
	wg.Wait()
	if n := b.Subscribers(); n != 0 {
		t.Errorf("%d subscribers left", n)
	}
}

// Publishing to ten subscribers that keep up: their buffers are emptied,
// off the clock, before they fill.
func BenchmarkPublish(b *testing.B) {
	bus := NewBus(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var subs []<-chan Event
	for range 10 {
		ch, _ := bus.Subscribe(ctx)
		subs = append(subs, ch)
	}
	e := Event{Type: "turn", CallID: "c1", Data: "hello"}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		bus.Publish(e)
		if n++; n == DefaultBuffer {
			b.StopTimer()
			for _, ch := range subs {
				for len(ch) > 0 {
					<-ch
				}
			}
			n = 0
			b.StartTimer()
		}
	}
	if bus.Dropped() != 0 {
		b.Fatalf("%d subscribers dropped", bus.Dropped())
	}
}
