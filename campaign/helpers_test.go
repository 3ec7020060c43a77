package campaign

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-cc/hotline/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is time the test moves by hand.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	// parked is told each time a loop waits on the clock.
	parked chan struct{}
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, parked: make(chan struct{}, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), c: ch})
	c.parked <- struct{}{}
	return ch
}

// Advance moves the clock on by d, waking the waiters that fall due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.c <- c.now
	}
	c.waiters = kept
}

// fakeCaller hands each call to the test, which ends it with a result.
type fakeCaller struct{ calls chan *placed }

type placed struct {
	Call
	result chan Result
}

func (f *fakeCaller) Call(ctx context.Context, c Call) Result {
	p := &placed{Call: c, result: make(chan Result, 1)}
	f.calls <- p
	select {
	case r := <-p.result:
		return r
	case <-ctx.Done():
		return Result{Outcome: Failed, Detail: "shut down"}
	}
}

// next is the next call placed; the test fails when none comes.
func (f *fakeCaller) next(t *testing.T) *placed {
	t.Helper()
	select {
	case p := <-f.calls:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no call placed")
		return nil
	}
}

// none fails the test if a call is waiting to be taken.
func (f *fakeCaller) none(t *testing.T) {
	t.Helper()
	select {
	case p := <-f.calls:
		t.Fatalf("unexpected call to %s (attempt %d)", p.Contact.Number, p.Attempt)
	default:
	}
}

// fixture is a dialer on a fresh SQLite store, driven step by step.
type fixture struct {
	t      *testing.T
	st     *store.Store
	clock  *fakeClock
	caller *fakeCaller
	d      *Dialer
}

var monday = time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC) // a Monday

func newFixture(t *testing.T, now time.Time) *fixture {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "hotline.db")
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, clock: newFakeClock(now), caller: &fakeCaller{calls: make(chan *placed, 100)}}
	f.d = New(st, f.caller, f.clock, slog.New(slog.DiscardHandler))
	t.Cleanup(func() {
		f.d.Close()
		st.Close()
	})
	return f
}

// campaign creates a campaign of spec with contacts, in the dialer's
// memory as running but without its loop: the test calls step itself.
func (f *fixture) campaign(spec Spec, contacts ...Contact) *run {
	f.t.Helper()
	ctx := context.Background()
	id, err := f.d.Create(ctx, spec)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.d.AddContacts(ctx, id, contacts); err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.SetCampaignState(ctx, id, store.CampaignRunning); err != nil {
		f.t.Fatal(err)
	}
	c, err := f.st.Campaign(ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	r, err := f.d.load(ctx, c, store.CampaignPaused)
	if err != nil {
		f.t.Fatal(err)
	}
	r.state = store.CampaignRunning
	return r
}

// step runs one pass of the schedule and returns its wait.
func (f *fixture) step(r *run) time.Duration {
	f.t.Helper()
	wait, _ := f.d.step(r)
	return wait
}

// end ends a placed call and waits until the dialer has recorded it.
func (f *fixture) end(r *run, p *placed, res Result) {
	f.t.Helper()
	p.result <- res
	waitFor(f.t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range r.contacts {
			if e.c.Number == p.Contact.Number {
				return !e.dialing
			}
		}
		return false
	})
}

func (f *fixture) inFlight(r *run) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight
}

func baseSpec() Spec {
	return Spec{Name: "reminders", Greeting: "Hello {name}, your {product} payment is due on {due_date}. Shall we book a reminder?",
		Hours: Hours{Start: "00:00", End: "24:00"}, MaxConcurrent: 2, CallsPerSecond: 1}
}

func contacts(numbers ...string) []Contact {
	out := make([]Contact, len(numbers))
	for i, n := range numbers {
		out[i] = Contact{Number: n, Name: "Customer " + n}
	}
	return out
}
