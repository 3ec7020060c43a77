package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/metrics"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/sip"
)

// fakePhones are the agents' phones: each agent's registrations, and what
// dialing one does.
type fakePhones struct {
	bindings map[string][]sip.Binding
	dial     func(ctx context.Context, r sip.DialRequest) (*sip.OutboundCall, error)
	dialed   []sip.DialRequest
}

func (f *fakePhones) Contacts(user string) []sip.Binding { return f.bindings[user] }

func (f *fakePhones) Dial(ctx context.Context, r sip.DialRequest) (*sip.OutboundCall, error) {
	f.dialed = append(f.dialed, r)
	return f.dial(ctx, r)
}

func testDesk(t *testing.T, ph *fakePhones, agents ...string) *agentDesk {
	t.Helper()
	cfg := routing.DefaultConfig()
	for _, a := range agents {
		cfg.Agents = append(cfg.Agents, routing.AgentConfig{ID: a})
	}
	cfg.Queues = []routing.QueueConfig{{Name: "general", RingTimeout: 7 * time.Second}, {Name: "cards"}}
	d, err := newAgentDesk(cfg, nil, ph, metrics.New(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	return d
}

func binding(user, contact string) sip.Binding {
	return sip.Binding{User: user, Contact: contact, Source: netip.MustParseAddrPort("127.0.0.1:5070")}
}

func agentState(d *agentDesk, id string) string {
	for _, a := range d.Agents() {
		if a.ID == id {
			return a.State
		}
	}
	return "unknown"
}

func TestRegistrationsMakeAgentsAvailable(t *testing.T) {
	d := testDesk(t, &fakePhones{}, "alice")
	d.registered(sip.RegistrationEvent{User: "alice", Bindings: []sip.Binding{binding("alice", "sip:alice@127.0.0.1:5070")}})
	if s := agentState(d, "alice"); s != "available" {
		t.Errorf("registered alice is %s", s)
	}
	d.registered(sip.RegistrationEvent{User: "mallory", Bindings: []sip.Binding{binding("mallory", "sip:m@127.0.0.1")}})
	if err := d.setState("alice", "not_ready", "lunch"); err != nil || agentState(d, "alice") != "not_ready" {
		t.Errorf("alice to not ready: %v, %s", err, agentState(d, "alice"))
	}
	if err := d.setState("alice", "on_call", ""); !errors.Is(err, routing.ErrInvalidTransition) {
		t.Errorf("alice to on_call: %v, want an invalid transition", err)
	}
	d.registered(sip.RegistrationEvent{User: "alice"})
	if s := agentState(d, "alice"); s != "offline" {
		t.Errorf("unregistered alice is %s", s)
	}
}

// A ring that fails tells the distributor: declined is a rejection, busy a
// missed call; an answer connects the call, with the summary on one line
// in the INVITE.
func TestRingReportsToTheDistributor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		ph := &fakePhones{bindings: map[string][]sip.Binding{
			"alice": {binding("alice", "sip:old@127.0.0.1:5070"), binding("alice", "sip:alice@127.0.0.1:5072")},
			"bob":   {binding("bob", "sip:bob@127.0.0.1:5074")},
		}}
		d := testDesk(t, ph, "bob", "alice")
		for _, a := range []string{"bob", "alice"} {
			d.registered(sip.RegistrationEvent{User: a, Bindings: ph.bindings[a]})
			time.Sleep(time.Second)
		}
		ticket, err := d.Enqueue(ctx, routing.Call{ID: "c1", Queue: "general"})
		if err != nil {
			t.Fatal(err)
		}
		tr := ivr.TransferTurn{Summary: "Card lost.\nCard 4111 1111 1111 1111 blocked?"}

		offer := <-ticket.Outcomes()
		ph.dial = func(context.Context, sip.DialRequest) (*sip.OutboundCall, error) {
			return nil, fmt.Errorf("603 Decline: %w", sip.ErrDeclined)
		}
		if _, err := d.Ring(ctx, "c1", offer, tr); !errors.Is(err, sip.ErrDeclined) {
			t.Fatalf("declined ring: %v", err)
		}
		if o := <-ticket.Outcomes(); o.Kind != routing.Retracted || o.Agent != "bob" || o.Reason != "rejected" {
			t.Fatalf("after bob declined: %+v", o)
		}

		offer = <-ticket.Outcomes()
		caller, agent := media.NewPipe(ctx, 8000)
		defer caller.Hangup(ctx)
		ph.dial = func(context.Context, sip.DialRequest) (*sip.OutboundCall, error) {
			return &sip.OutboundCall{Call: &sip.Call{Leg: agent}}, nil
		}
		leg, err := d.Ring(ctx, "c1", offer, tr)
		if err != nil || leg != agent {
			t.Fatalf("answered ring: %v, %v", leg, err)
		}
		if o := <-ticket.Outcomes(); o.Kind != routing.Connected || o.Agent != "alice" {
			t.Fatalf("after alice answered: %+v", o)
		}
		last := ph.dialed[len(ph.dialed)-1]
		if last.To != "sip:alice@127.0.0.1:5072" || last.RingTimeout != 7*time.Second || last.Headers["X-Hotline-Call"] != "c1" {
			t.Errorf("dialed %+v, want alice's latest phone with the queue's ring timeout", last)
		}
		if sum := last.Headers["X-Hotline-Summary"]; strings.Contains(sum, "\n") || strings.Contains(sum, "4111") || !strings.HasPrefix(sum, "Card lost. Card") {
			t.Errorf("summary header %q, want it redacted on one line", sum)
		}
		if q := d.Queues()[0]; q.Name != "general" || q.Waiting != 0 || q.AgentsAvailable != 1 {
			t.Errorf("queue view %+v", q)
		}
		if s := agentState(d, "alice"); s != "on_call" {
			t.Errorf("alice is %s", s)
		}
	})
}

func TestQueueFallsBackToTheFirst(t *testing.T) {
	d := testDesk(t, &fakePhones{})
	if q, known := d.Queue("cards"); !known || q.Name != "cards" || q.RingTimeout != 20*time.Second {
		t.Errorf("cards: %+v %v", q, known)
	}
	if q, known := d.Queue("crisis"); known || q.Name != "general" {
		t.Errorf("crisis: %+v %v, want general, unknown", q, known)
	}
}

// The gauges' goroutine ends with the desk.
func TestDeskGaugesStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := testDesk(t, &fakePhones{}, "alice")
		d.start(t.Context())
		d.registered(sip.RegistrationEvent{User: "alice", Bindings: []sip.Binding{binding("alice", "sip:a@127.0.0.1")}})
		synctest.Wait()
		d.close()
	})
}
