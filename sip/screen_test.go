package sip

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
)

// TestScreen: the screen sees each new call before it is answered, with
// its Request-URI user and headers; it refuses one with its status,
// answers another at once with its own handler (not after ring_time),
// and leaves the rest to the server's handler; a caller's CANCEL ends its
// context.
func TestScreen(t *testing.T) {
	var served, screened atomic.Int32
	cancelled := make(chan struct{})
	screen := func(ctx context.Context, in Inbound) (Handler, error) {
		switch in.User {
		case "busy":
			return nil, &Refusal{Code: 486, Reason: "Busy Here"}
		case "agent":
			if in.Header("X-Test") != "yes" || in.Source.Addr().String() != "127.0.0.1" {
				return nil, &Refusal{Code: 403, Reason: "Forbidden"}
			}
			return func(ctx context.Context, c *Call) { screened.Add(1) }, nil
		case "slow":
			<-ctx.Done()
			close(cancelled)
			return nil, ctx.Err()
		}
		return nil, nil
	}
	s := newTestServer(t, testConfig(), func(ctx context.Context, c *Call) { served.Add(1) }, func(s *Server) {
		s.ringTime = 500 * time.Millisecond
		s.SetScreen(screen)
	})
	c := newCaller(t, "udp")
	ph := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if res := answerCode(t, ctx, c.invite(ctx, s, "busy", ph.offer()), sipgo.AnswerOptions{}); res.StatusCode != 486 {
		t.Fatalf("refused call: %d, want 486", res.StatusCode)
	}
	if res := answerCode(t, ctx, c.invite(ctx, s, "agent", ph.offer()), sipgo.AnswerOptions{}); res.StatusCode != 403 {
		t.Fatalf("call without the header: %d, want 403", res.StatusCode)
	}

	start := time.Now()
	sess := c.invite(ctx, s, "agent", ph.offer(), siplib.NewHeader("X-Test", "yes"))
	if res := answerCode(t, ctx, sess, sipgo.AnswerOptions{}); res.StatusCode != 200 {
		t.Fatalf("screened call: %d, want 200", res.StatusCode)
	}
	if d := time.Since(start); d >= 500*time.Millisecond {
		t.Errorf("screened call answered after %v: it waited ring_time", d)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, func() bool { return screened.Load() == 1 }, "the screen's handler to serve the call")
	c.waitBye(2 * time.Second)

	c.dial(ctx, s, ph.offer())
	within(t, 2*time.Second, func() bool { return served.Load() == 1 }, "the server's handler to serve an unscreened call")
	c.waitBye(2 * time.Second)

	ringCtx, hangUp := context.WithCancel(ctx)
	err := c.invite(ringCtx, s, "slow", ph.offer()).WaitAnswer(ringCtx, sipgo.AnswerOptions{OnResponse: func(r *siplib.Response) error {
		if r.StatusCode == 180 {
			hangUp()
		}
		return nil
	}})
	hangUp()
	if err == nil {
		t.Fatal("a cancelled call was answered")
	}
	select {
	case <-cancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("the screen's context did not end with the CANCEL")
	}
	within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "every call to be released")
	if served.Load() != 1 || screened.Load() != 1 {
		t.Errorf("handlers ran %d (server) and %d (screen) times, want 1 and 1", served.Load(), screened.Load())
	}
}
