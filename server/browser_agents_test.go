package server

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
	"github.com/hotline-cc/hotline/webrtc"
)

// fakeBrowser is the agents' browser phones: who is connected, and what
// a ring does.
type fakeBrowser struct {
	online map[string]bool
	ring   func(in webrtc.Incoming) (*webrtc.Call, error)
	rung   []webrtc.Incoming
}

func (f *fakeBrowser) PhoneOnline(agent string) bool { return f.online[agent] }

func (f *fakeBrowser) RingAgent(_ context.Context, _ string, in webrtc.Incoming, _ time.Duration) (*webrtc.Call, error) {
	f.rung = append(f.rung, in)
	return f.ring(in)
}

// Ready needs a phone; the browser phone's going takes the agent offline
// unless a SIP phone is registered.
func TestBrowserPhoneAndReady(t *testing.T) {
	ph := &fakePhones{bindings: map[string][]sip.Binding{}}
	br := &fakeBrowser{online: map[string]bool{}}
	d := testDesk(t, ph, "alice")
	d.browser = br
	if err := d.setState("alice", "available", ""); !errors.Is(err, routing.ErrInvalidTransition) || !errors.Is(err, errNoPhone) {
		t.Fatalf("ready without a phone: %v", err)
	}
	br.online["alice"] = true
	d.browserPhone("alice", true)
	if s := agentState(d, "alice"); s != "offline" {
		t.Errorf("connecting the browser phone made alice %s: Ready does that", s)
	}
	if err := d.setState("alice", "available", ""); err != nil || agentState(d, "alice") != "available" {
		t.Fatalf("ready with the browser phone: %v, %s", err, agentState(d, "alice"))
	}
	// The SIP phone comes and goes: the browser phone keeps alice.
	d.registered(sip.RegistrationEvent{User: "alice"})
	if s := agentState(d, "alice"); s != "available" {
		t.Errorf("SIP phone gone, browser phone on: alice is %s", s)
	}
	br.online["alice"] = false
	d.browserPhone("alice", false)
	if s := agentState(d, "alice"); s != "offline" {
		t.Errorf("no phone left: alice is %s", s)
	}
}

// The browser phone, when connected, is the one rung, with the screen
// pop; its reject is a rejection, its answer connects.
func TestRingPrefersTheBrowserPhone(t *testing.T) {
	ctx := t.Context()
	ph := &fakePhones{bindings: map[string][]sip.Binding{"alice": {binding("alice", "sip:alice@127.0.0.1:5072")}},
		dial: func(context.Context, sip.DialRequest) (*sip.OutboundCall, error) {
			t.Error("the SIP phone was dialed")
			return nil, errors.New("no")
		}}
	br := &fakeBrowser{online: map[string]bool{"alice": true}}
	d := testDesk(t, ph, "alice")
	d.browser = br
	if err := d.setState("alice", "available", ""); err != nil {
		t.Fatal(err)
	}
	ticket, err := d.Enqueue(ctx, routing.Call{ID: "c1", Queue: "general", Number: "+14155550100"})
	if err != nil {
		t.Fatal(err)
	}
	tr := ivr.TransferTurn{Summary: "Card lost.\nCard 4111 1111 1111 1111 blocked?"}
	offer := <-ticket.Outcomes()
	br.ring = func(webrtc.Incoming) (*webrtc.Call, error) { return nil, webrtc.ErrDeclined }
	if _, err := d.Ring(ctx, "c1", offer, tr); !errors.Is(err, webrtc.ErrDeclined) {
		t.Fatalf("declined: %v", err)
	}
	if o := <-ticket.Outcomes(); o.Kind != routing.Retracted || o.Reason != "rejected" {
		t.Fatalf("after the reject: %+v", o)
	}
	in := br.rung[0]
	if in.Call != "c1" || in.From != "+14155550100" || in.Queue != "general" || in.Summary != headerSummary(tr.Summary) {
		t.Errorf("screen pop %+v", in)
	}

	offer = <-ticket.Outcomes()
	caller, agent := media.NewPipe(ctx, 8000)
	defer caller.Hangup(ctx)
	br.ring = func(webrtc.Incoming) (*webrtc.Call, error) { return &webrtc.Call{Leg: agent}, nil }
	if leg, err := d.Ring(ctx, "c1", offer, tr); err != nil || leg != agent {
		t.Fatalf("answered: %v, %v", leg, err)
	}
	if o := <-ticket.Outcomes(); o.Kind != routing.Connected || o.Agent != "alice" {
		t.Fatalf("after the answer: %+v", o)
	}
}

// Another node's INVITE for a browser agent of this node: refused unless
// it comes from a live node; a decline is 603 and a ring gone unanswered
// 480, each leaving the agent available; an accepted ring is answered,
// the agent on the call here, wrapping up when the call ends. Other
// calls are not screened.
func TestScreenAgentLeg(t *testing.T) {
	ctx := t.Context()
	st := sqliteStore(t)
	if err := st.Heartbeat(ctx, store.Node{Name: "a", SIP: "127.0.0.1:5061", HeartbeatAt: time.Now(), StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d := testDesk(t, &fakePhones{}, "alice")
	br := &fakeBrowser{online: map[string]bool{"alice": true}}
	d.browser = br
	if err := d.setState("alice", "available", ""); err != nil {
		t.Fatal(err)
	}
	s := &Server{log: slog.New(slog.DiscardHandler), store: st, node: "b", desk: d}
	headers := map[string]string{"X-Hotline-Call": "c1", "X-Hotline-Caller": "+15550100", "X-Hotline-Queue": "cards", "X-Hotline-Summary": "card stolen"}
	invite := func(user, src string) (sip.Handler, error) {
		return s.screenAgentLeg(ctx, sip.Inbound{User: user, Source: netip.MustParseAddrPort(src),
			Header: func(name string) string { return headers[name] }})
	}
	status := func(err error) int {
		var r *sip.Refusal
		if !errors.As(err, &r) {
			t.Fatalf("%v, want a refusal", err)
		}
		return r.Code
	}

	if h, err := invite("100", "127.0.0.1:5061"); h != nil || err != nil {
		t.Errorf("a call to a number was screened: %v", err)
	}
	if _, err := invite("alice", "127.0.0.1:5099"); status(err) != 403 {
		t.Errorf("from no node: %v", err)
	}
	br.ring = func(webrtc.Incoming) (*webrtc.Call, error) { return nil, webrtc.ErrDeclined }
	if _, err := invite("alice", "127.0.0.1:5061"); status(err) != 603 {
		t.Errorf("declined: %v", err)
	}
	br.ring = func(webrtc.Incoming) (*webrtc.Call, error) { return nil, webrtc.ErrNoAnswer }
	if _, err := invite("alice", "127.0.0.1:5061"); status(err) != 480 {
		t.Errorf("unanswered: %v", err)
	}
	// With the cluster's secret, a live node's address is not enough: the
	// INVITE must carry its signature of the call and the agent.
	d.nodeKey = []byte("0123456789abcdef-secret")
	rings := len(br.rung)
	for _, mac := range []string{"", legMAC([]byte("another-cluster-secret"), "c1", "alice"), legMAC(d.nodeKey, "c1", "bob")} {
		headers[nodeAuthHeader] = mac
		if _, err := invite("alice", "127.0.0.1:5061"); status(err) != 403 {
			t.Errorf("signature %q: %v, want 403", mac, err)
		}
	}
	if len(br.rung) != rings {
		t.Error("an unsigned INVITE rang the agent")
	}
	headers[nodeAuthHeader] = legMAC(d.nodeKey, "c1", "alice")
	if _, err := invite("alice", "127.0.0.1:5061"); status(err) != 480 {
		t.Errorf("signed, unanswered: %v", err)
	}
	d.nodeKey = nil
	delete(headers, nodeAuthHeader)
	if got := agentState(d, "alice"); got != "available" {
		t.Errorf("alice after rings she did not take: %s", got)
	}
	if in := br.rung[0]; in != (webrtc.Incoming{Call: "c1", From: "+15550100", Queue: "cards", Summary: "card stolen"}) {
		t.Errorf("screen pop %+v", in)
	}

	callCtx, hangUp := context.WithCancel(ctx)
	_, agent := media.NewPipe(ctx, 8000)
	br.ring = func(webrtc.Incoming) (*webrtc.Call, error) { return &webrtc.Call{Leg: agent}, nil }
	h, err := s.screenAgentLeg(callCtx, sip.Inbound{User: "alice", Source: netip.MustParseAddrPort("127.0.0.1:5061"),
		Header: func(name string) string { return headers[name] }})
	if err != nil || h == nil {
		t.Fatalf("accepted: %v", err)
	}
	if got := agentState(d, "alice"); got != "on_call" {
		t.Errorf("alice on the call: %s", got)
	}
	hangUp() // the SIP dialog ends
	select {
	case <-agent.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the agent's leg outlived the SIP dialog")
	}
	// Told the call ended just after the leg's hang-up, on the same goroutine.
	for deadline := time.Now().Add(5 * time.Second); agentState(d, "alice") == "on_call" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := agentState(d, "alice"); got != "wrap_up" && got != "available" {
		t.Errorf("alice after the call: %s, want wrap-up", got)
	}
}

// sqliteStore is an empty store in the test's own folder, closed when the
// test ends.
func sqliteStore(t *testing.T) *store.Store {
	t.Helper()
	sc := store.DefaultConfig()
	sc.Path = filepath.Join(t.TempDir(), "hotline.db")
	st, err := store.Open(t.Context(), sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
