package routing

import (
	"errors"
	"testing"
	"time"
)

// TestRemoteCall: an agent rung for another node's call is ringing, then
// on the call, then wraps up for the queue's wrap-up, and this node
// offers them none of its calls meanwhile; an unanswered ring leaves them
// available; only an available agent, or one held with the given reason,
// is rung.
func TestRemoteCall(t *testing.T) {
	cfg := testConfig("ann")
	cfg.WrapUp = 30 * time.Second
	a, clk := newTestACD(t, cfg, nil)
	if err := a.RemoteRing("ann", "x1", "general", "elsewhere"); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("ringing an offline agent: %v", err)
	}
	login(t, a, clk, "ann")
	if err := a.RemoteRing("ann", "x1", "nope", "elsewhere"); !errors.Is(err, ErrUnknownQueue) {
		t.Fatalf("unknown queue: %v", err)
	}
	if err := a.RemoteRing("ann", "x1", "general", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if s := agentState(a, "ann"); s.State != Ringing || s.Call != "x1" {
		t.Fatalf("ann %v on %q, want ringing for x1", s.State, s.Call)
	}
	if err := a.RemoteRing("ann", "x2", "general", "elsewhere"); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("a second ring: %v", err)
	}
	local := enqueue(t, a, Call{ID: "c1"})
	nothing(t, local)
	if err := a.RemoteAnswer("ann", "x2"); !errors.Is(err, ErrNotOffered) {
		t.Fatalf("answering another call: %v", err)
	}
	if err := a.RemoteAnswer("ann", "x1"); err != nil {
		t.Fatal(err)
	}
	if s := agentState(a, "ann"); s.State != OnCall {
		t.Fatalf("ann %v, want on_call", s.State)
	}
	if err := a.RemoteEnd("ann", "x1"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(29 * time.Second)
	if s := agentState(a, "ann"); s.State != WrapUp {
		t.Fatalf("ann %v 29 s after the call, want wrap_up", s.State)
	}
	nothing(t, local)
	clk.Advance(time.Second)
	serve(t, a, local, "ann") // available after the wrap-up: offered this node's caller
	clk.Advance(30 * time.Second)

	if err := a.SetState("ann", NotReady, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoteRing("ann", "x3", "general", "break"); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("ringing an agent not ready for another reason: %v", err)
	}
	if err := a.RemoteRing("ann", "x3", "general", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoteEnd("ann", "x3"); err != nil {
		t.Fatal(err)
	}
	if s := agentState(a, "ann"); s.State != Available {
		t.Fatalf("ann %v after an unanswered ring, want available", s.State)
	}
	if err := a.RemoteEnd("ann", "x3"); !errors.Is(err, ErrNotOffered) {
		t.Fatalf("ending it twice: %v", err)
	}
}
