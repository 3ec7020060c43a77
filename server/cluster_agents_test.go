package server

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/metrics"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// clusterDesk is node's desk sharing agents through the store at dsn,
// with agent alice and no wrap-up.
func clusterDesk(t *testing.T, dsn, node string, ph *fakePhones) *agentDesk {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.Driver, cfg.DSN = store.Postgres, dsn
	st, err := store.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rc := routing.DefaultConfig()
	rc.WrapUp = 0
	rc.Agents = []routing.AgentConfig{{ID: "alice"}}
	rc.Queues = []routing.QueueConfig{{Name: "general", RingTimeout: 7 * time.Second}}
	log := slog.New(slog.DiscardHandler)
	d, err := newAgentDesk(rc, nil, ph, metrics.New(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	d.shared = newSharedAgents(st, node, log)
	return d
}

// Alice's phone registers with node b. Node a counts her available and,
// when both nodes offer her a caller, the first to claim her rings her
// phone where it registered; the other's offer is retracted and she is
// held not ready there, not offered again, until the first node is done
// with her.
func TestClusterDesksShareAnAgent(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	phone := binding("alice", "sip:alice@127.0.0.1:5072")
	phone.Expires = time.Now().Add(time.Hour)
	phA, phB := &fakePhones{}, &fakePhones{bindings: map[string][]sip.Binding{"alice": {phone}}}
	a, b := clusterDesk(t, dsn, "a", phA), clusterDesk(t, dsn, "b", phB)
	b.registered(sip.RegistrationEvent{User: "alice", Bindings: phB.bindings["alice"]})
	sync := func(d *agentDesk) {
		t.Helper()
		if err := d.syncCluster(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sync(a)
	if s := agentState(a, "alice"); s != "available" {
		t.Fatalf("alice on node a is %s, want available through node b's phone", s)
	}

	ticketA, err := a.Enqueue(ctx, routing.Call{ID: "c1", Queue: "general"})
	if err != nil {
		t.Fatal(err)
	}
	ticketB, err := b.Enqueue(ctx, routing.Call{ID: "c2", Queue: "general"})
	if err != nil {
		t.Fatal(err)
	}
	offerA, offerB := <-ticketA.Outcomes(), <-ticketB.Outcomes()
	if offerA.Kind != routing.Offered || offerB.Kind != routing.Offered {
		t.Fatalf("offers %+v, %+v: both nodes should offer alice", offerA, offerB)
	}

	caller, agent := media.NewPipe(ctx, 8000)
	defer caller.Hangup(context.WithoutCancel(ctx))
	phA.dial = func(context.Context, sip.DialRequest) (*sip.OutboundCall, error) {
		return &sip.OutboundCall{Call: &sip.Call{Leg: agent}}, nil
	}
	if leg, err := a.Ring(ctx, "c1", offerA, ivr.TransferTurn{}); err != nil || leg != agent {
		t.Fatalf("node a rings alice: %v, %v", leg, err)
	}
	if len(phA.dialed) != 1 || phA.dialed[0].To != "sip:alice@127.0.0.1:5072" || phA.dialed[0].Destination.String() != "127.0.0.1:5070" {
		t.Fatalf("node a dialed %+v, want alice's phone where it registered with node b", phA.dialed)
	}
	if _, err := b.Ring(ctx, "c2", offerB, ivr.TransferTurn{}); !errors.Is(err, errAgentElsewhere) {
		t.Fatalf("node b rings alice too: %v, want errAgentElsewhere", err)
	}
	if len(phB.dialed) != 0 {
		t.Fatalf("node b dialed %+v while node a has alice", phB.dialed)
	}
	if o := <-ticketB.Outcomes(); o.Kind != routing.Retracted || o.Reason != "unavailable" {
		t.Fatalf("node b's caller: %+v, want the offer retracted", o)
	}
	if s := b.Snapshot().Agents[0]; s.State != routing.NotReady || s.Reason != reasonElsewhere {
		t.Fatalf("alice on node b: %v (%q), want held not ready", s.State, s.Reason)
	}
	select {
	case o := <-ticketB.Outcomes():
		t.Fatalf("node b's caller offered again: %+v", o)
	default:
	}

	// Node a's call ends: the claim goes, and node b offers alice its
	// caller.
	if err := a.Hangup("c1"); err != nil {
		t.Fatal(err)
	}
	a.shared.releaseFree(ctx, a.Snapshot())
	sync(b)
	if o := <-ticketB.Outcomes(); o.Kind != routing.Offered || o.Agent != "alice" {
		t.Fatalf("node b's caller after node a's call: %+v, want offered to alice", o)
	}
}

// Alice's browser phone connects to node b: node b publishes it as a
// contact at its own SIP address naming her, and node a, once she is
// ready, dials it as a SIP phone with the call's screen pop in headers.
// When the browser phone goes, so does the row.
func TestClusterBrowserPhoneShared(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	phA, phB := &fakePhones{}, &fakePhones{}
	a, b := clusterDesk(t, dsn, "a", phA), clusterDesk(t, dsn, "b", phB)
	b.shared.sip = netip.MustParseAddrPort("127.0.0.1:5082")
	br := &fakeBrowser{online: map[string]bool{"alice": true}}
	b.browser = br
	b.browserPhone("alice", true)
	sync := func(d *agentDesk) {
		t.Helper()
		if err := d.syncCluster(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sync(a)
	if s := agentState(a, "alice"); s != "offline" {
		t.Fatalf("alice on node a is %s before she is ready on node b", s)
	}
	if err := b.setState("alice", "available", ""); err != nil {
		t.Fatal(err)
	}
	sync(b)
	sync(a)
	if s := agentState(a, "alice"); s != "available" {
		t.Fatalf("alice on node a is %s, want available through node b's browser phone", s)
	}

	ticket, err := a.Enqueue(ctx, routing.Call{ID: "c1", Queue: "general", Number: "+15550100"})
	if err != nil {
		t.Fatal(err)
	}
	offer := <-ticket.Outcomes()
	caller, agent := media.NewPipe(ctx, 8000)
	defer caller.Hangup(context.WithoutCancel(ctx))
	phA.dial = func(context.Context, sip.DialRequest) (*sip.OutboundCall, error) {
		return &sip.OutboundCall{Call: &sip.Call{Leg: agent}}, nil
	}
	if _, err := a.Ring(ctx, "c1", offer, ivr.TransferTurn{Summary: "card stolen"}); err != nil {
		t.Fatal(err)
	}
	if len(phA.dialed) != 1 {
		t.Fatalf("node a dialed %d times", len(phA.dialed))
	}
	r := phA.dialed[0]
	if r.To != "sip:alice@127.0.0.1:5082" || r.Destination.String() != "127.0.0.1:5082" {
		t.Errorf("node a dialed %s at %s, want node b's address naming alice", r.To, r.Destination)
	}
	if h := r.Headers; h["X-Hotline-Call"] != "c1" || h["X-Hotline-Caller"] != "+15550100" || h["X-Hotline-Queue"] != "general" || h["X-Hotline-Summary"] != "card stolen" {
		t.Errorf("headers %v", h)
	}

	br.online["alice"] = false
	b.browserPhone("alice", false)
	phones, err := b.shared.st.AgentPhones(ctx, time.Now())
	if err != nil || len(phones) != 0 {
		t.Errorf("phones after the browser phone went: %+v, %v", phones, err)
	}
}
