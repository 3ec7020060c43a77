package sip

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	sipgo "github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
)

// verifyNoLeaks checks, after every other cleanup of the test, that nothing
// the test started is still running.
func verifyNoLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// TestShutdownDrainsThenHangsUp: once Shutdown starts, a new INVITE gets
// 503 with Retry-After; a call still up when drain_time runs out gets BYE
// and its handler sees ErrShutdown; then everything stops.
func TestShutdownDrainsThenHangsUp(t *testing.T) {
	verifyNoLeaks(t)
	cfg := testConfig()
	cfg.DrainTime = 500 * time.Millisecond
	cause := make(chan error, 1)
	s := newTestServer(t, cfg, func(ctx context.Context, call *Call) {
		<-ctx.Done()
		cause <- context.Cause(ctx)
	})
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.dial(ctx, s, p.offer())
	within(t, 2*time.Second, func() bool { return onlyDialog(t, s).getState() == stateConfirmed }, "the call to start")

	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	within(t, time.Second, s.isDraining, "draining")

	late := newCaller(t, "udp")
	res := answerCode(t, ctx, late.invite(ctx, s, "100", p.offer()), sipgo.AnswerOptions{})
	if res.StatusCode != 503 || headerValue(res, "Retry-After") == "" {
		t.Errorf("INVITE while draining: %d, Retry-After %q", res.StatusCode, headerValue(res, "Retry-After"))
	}
	// The health probe of a SIP front sees the node out of service.
	probe := late.do(ctx, siplib.NewRequest(siplib.OPTIONS, late.uri(s, "")))
	if probe.StatusCode != 503 || headerValue(probe, "Retry-After") == "" {
		t.Errorf("OPTIONS while draining: %d, Retry-After %q", probe.StatusCode, headerValue(probe, "Retry-After"))
	}

	c.waitBye(5 * time.Second)
	if waited := time.Since(start); waited < cfg.DrainTime {
		t.Errorf("BYE after %v, before drain_time %v", waited, cfg.DrainTime)
	}
	if err := <-cause; !errors.Is(err, ErrShutdown) {
		t.Errorf("cause = %v, want ErrShutdown", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if s.Calls() != 0 {
		t.Error("calls left after Shutdown")
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Start after Shutdown = %v", err)
	}
}

// TestShutdownReturnsWhenCallsEnd: a call that ends within drain_time ends
// the wait; no BYE is needed.
func TestShutdownReturnsWhenCallsEnd(t *testing.T) {
	verifyNoLeaks(t)
	cfg := testConfig()
	cfg.DrainTime = 10 * time.Second
	s := newTestServer(t, cfg, func(ctx context.Context, call *Call) { <-ctx.Done() })
	c := newCaller(t, "tcp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess := c.dial(ctx, s, p.offer())
	within(t, 2*time.Second, func() bool { return onlyDialog(t, s).getState() == stateConfirmed }, "the call to start")
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- s.Shutdown(context.Background()) }()
	within(t, time.Second, s.isDraining, "draining")
	time.Sleep(100 * time.Millisecond)
	if err := sess.Bye(ctx); err != nil {
		t.Fatalf("caller bye: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown still waiting after the last call ended")
	}
	if time.Since(start) > 3*time.Second {
		t.Error("Shutdown waited for drain_time with no calls left")
	}
}

// TestShutdownContextCut: when Shutdown's ctx ends before drain_time, the
// rest is hung up at once and Shutdown reports the ctx error.
func TestShutdownContextCut(t *testing.T) {
	verifyNoLeaks(t)
	cfg := testConfig()
	cfg.DrainTime = time.Minute
	s := newTestServer(t, cfg, func(ctx context.Context, call *Call) { <-ctx.Done() })
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.dial(ctx, s, p.offer())
	within(t, 2*time.Second, func() bool { return onlyDialog(t, s).getState() == stateConfirmed }, "the call to start")
	sctx, scancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer scancel()
	if err := s.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want deadline exceeded", err)
	}
	c.waitBye(3 * time.Second)
}

// TestStartCloseNoLeaks: a server that is started and closed, with or
// without traffic, leaves nothing running; Start's ctx closes it too.
func TestStartCloseNoLeaks(t *testing.T) {
	verifyNoLeaks(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var calls atomic.Int32
	s, err := NewServer(testConfig(), neverCalled(&calls), quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"udp", "tcp"} {
		if !s.Addr(n).IsValid() || s.Addr(n).Port() == 0 {
			t.Errorf("Addr(%s) = %v", n, s.Addr(n))
		}
	}
	conn, err := net.Dial("tcp", s.Addr("tcp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cancel() // Start's ctx ending closes the server
	within(t, 2*time.Second, func() bool {
		_, err := net.Dial("tcp", s.Addr("tcp").String())
		return err != nil
	}, "the listener to close")
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	// Never started.
	s2, err := NewServer(testConfig(), neverCalled(&calls), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
}

// TestStartBindError: a port in use fails Start and releases what it bound.
func TestStartBindError(t *testing.T) {
	verifyNoLeaks(t)
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig()
	cfg.Listen = []string{"tcp:127.0.0.1:0", "udp:" + busy.LocalAddr().String()}
	var calls atomic.Int32
	s, err := NewServer(cfg, neverCalled(&calls), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("Start bound a busy port")
	}
}
