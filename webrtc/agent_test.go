package webrtc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
)

const agentToken = "token-of-alice"

// phoneChange is one report of WithAgentPhones.
type phoneChange struct {
	agent  string
	online bool
}

// startPhones serves agents' phones: the bearer token agentToken is alice.
func startPhones(t *testing.T, cfg Config) (*Server, string, <-chan phoneChange) {
	t.Helper()
	changes := make(chan phoneChange, 8)
	onCall := func(ctx context.Context, c *Call) {
		if !c.Identity.Anonymous() {
			t.Error("an agent's call reached onCall")
		}
		<-ctx.Done()
	}
	s, url := startServer(t, cfg, onCall,
		WithAuthenticator(func(r *http.Request) (Identity, error) {
			switch BearerToken(r) {
			case "":
				return Identity{}, nil
			case agentToken:
				return Identity{Subject: "alice"}, nil
			}
			return Identity{}, errors.New("bad token")
		}),
		WithAgentPhones(func(agent string, online bool) { changes <- phoneChange{agent, online} }))
	return s, strings.TrimSuffix(url, "/ws/call") + "/ws/agent", changes
}

// dialPhone connects alice's phone as her page does, the token offered as
// a subprotocol.
func dialPhone(t *testing.T, url string) *testClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{AgentSubprotocol, "bearer." + agentToken}}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial phone: %v", err)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != AgentSubprotocol {
		t.Fatalf("subprotocol %q", p)
	}
	c := newTestClient(t, ws)
	if m := c.next(5 * time.Second); m.Type != TypeRegistered {
		t.Fatalf("first message %+v, want registered", m)
	}
	return c
}

type ringResult struct {
	call *Call
	err  error
}

func ring(ctx context.Context, s *Server, in Incoming, ringFor time.Duration) <-chan ringResult {
	out := make(chan ringResult, 1)
	go func() {
		c, err := s.RingAgent(ctx, "alice", in, ringFor)
		out <- ringResult{c, err}
	}()
	return out
}

func waitRing(t *testing.T, res <-chan ringResult) ringResult {
	t.Helper()
	return recv(t, res, "RingAgent did not return")
}

// The phone rings with the screen pop, the agent accepts and offers, and
// the call is bridged with a caller: each hears the other. The agent's
// hang-up ends the bridge; the phone stays connected for the next call.
func TestAgentAcceptsAndTalksWithTheCaller(t *testing.T) {
	s, url, changes := startPhones(t, testConfig())
	if _, err := s.RingAgent(t.Context(), "alice", Incoming{Call: "c0"}, time.Second); !errors.Is(err, ErrNoPhone) {
		t.Fatalf("ring without a phone: %v", err)
	}
	phone := dialPhone(t, url)
	if ch := <-changes; ch != (phoneChange{"alice", true}) || !s.PhoneOnline("alice") {
		t.Fatalf("change %+v", ch)
	}

	in := Incoming{Call: "sip-call-1", From: "+14155550100", Queue: "cards", Summary: "Card stolen yesterday."}
	res := ring(t.Context(), s, in, 5*time.Second)
	m := phone.next(5 * time.Second)
	if m.Type != TypeIncoming || m.Call != in.Call || m.From != in.From || m.Queue != in.Queue || m.Summary != in.Summary {
		t.Fatalf("ring message %+v", m)
	}
	if _, err := s.RingAgent(t.Context(), "alice", Incoming{Call: "c2"}, time.Second); !errors.Is(err, ErrPhoneBusy) {
		t.Errorf("second ring: %v", err)
	}
	phone.send(Message{Type: TypeOffer, SDP: "v=0\r\n"})
	if m := phone.next(5 * time.Second); m.Type != TypeError || m.Code != CodeBadState {
		t.Errorf("offer before accept: %+v", m)
	}
	began := time.Now()
	phone.send(Message{Type: TypeAccept, Call: in.Call})
	phone.offer()
	r := waitRing(t, res)
	if r.err != nil {
		t.Fatalf("ring: %v", r.err)
	}
	t.Logf("accept to media up: %v", time.Since(began).Round(time.Millisecond))
	if r.call.Identity.Subject != "alice" {
		t.Errorf("call identity %+v", r.call.Identity)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	caller, callerSide := media.NewPipe(ctx, 8000)
	bridged := make(chan media.BridgeResult, 1)
	go func() {
		br, _ := media.Bridge(ctx, callerSide, r.call.Leg, media.BridgeOptions{})
		bridged <- br
	}()
	phone.sendTone(1000)
	tone := audiotest.Tone(8000, 440, 0.3, 8000)
	var heard []int16
	for i := range 100 { // 2 s
		off := (i * 160) % len(tone)
		must(t, caller.WriteFrame(ctx, tone[off:off+160]))
		f, err := caller.ReadFrame(ctx)
		must(t, err)
		heard = append(heard, f...)
	}
	if share := audiotest.ToneShare(heard[len(heard)-4000:], 8000, 1000); share < 0.8 {
		t.Errorf("1 kHz share of what the caller heard from the agent = %.2f", share)
	}
	got := phone.heardSince(4000)
	if len(got) < 4000 {
		t.Fatalf("agent heard %d samples", len(got))
	}
	if share := audiotest.ToneShare(got[len(got)-4000:], 8000, 440); share < 0.8 {
		t.Errorf("440 Hz share of what the agent heard from the caller = %.2f", share)
	}

	phone.send(Message{Type: TypeHangup, Reason: "agent hung up"})
	select {
	case br := <-bridged:
		if br.HungUp != media.SideB {
			t.Errorf("bridge ended by %v, want the agent's side", br.HungUp)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent's hang-up did not end the bridge")
	}
	must(t, caller.Hangup(ctx))
	phone.send(Message{Type: TypePing})
	if m := phone.next(5 * time.Second); m.Type != TypePong {
		t.Errorf("after the call the phone got %+v, want pong on an open socket", m)
	}

	phone.close()
	if ch := <-changes; ch != (phoneChange{"alice", false}) {
		t.Errorf("change %+v", ch)
	}
}

// A reject is ErrDeclined, a ring out ErrNoAnswer with a cancel to the
// phone, a withdrawn offer a cancel too; a caller's socket may not accept.
func TestAgentRejectsAndTimesOut(t *testing.T) {
	s, url, _ := startPhones(t, testConfig())
	phone := dialPhone(t, url)

	res := ring(t.Context(), s, Incoming{Call: "c1"}, 5*time.Second)
	if m := phone.next(5 * time.Second); m.Type != TypeIncoming {
		t.Fatalf("got %+v", m)
	}
	phone.send(Message{Type: TypeAccept, Call: "another"})
	if m := phone.next(5 * time.Second); m.Type != TypeError || m.Code != CodeBadState {
		t.Errorf("accept of another call: %+v", m)
	}
	phone.send(Message{Type: TypeReject, Call: "c1", Reason: "busy"})
	if r := waitRing(t, res); !errors.Is(r.err, ErrDeclined) {
		t.Errorf("rejected ring: %v", r.err)
	}

	res = ring(t.Context(), s, Incoming{Call: "c2"}, 300*time.Millisecond)
	if m := phone.next(5 * time.Second); m.Type != TypeIncoming || m.Call != "c2" {
		t.Fatalf("got %+v", m)
	}
	if r := waitRing(t, res); !errors.Is(r.err, ErrNoAnswer) {
		t.Errorf("unanswered ring: %v", r.err)
	}
	if m := phone.next(5 * time.Second); m.Type != TypeCancel || m.Call != "c2" || m.Reason != "timeout" {
		t.Errorf("after the ring out: %+v", m)
	}

	ctx, withdraw := context.WithCancel(t.Context())
	res = ring(ctx, s, Incoming{Call: "c3"}, 5*time.Second)
	phone.next(5 * time.Second)
	withdraw()
	if r := waitRing(t, res); !errors.Is(r.err, context.Canceled) {
		t.Errorf("withdrawn ring: %v", r.err)
	}
	if m := phone.next(5 * time.Second); m.Type != TypeCancel || m.Reason != "withdrawn" {
		t.Errorf("after the withdrawal: %+v", m)
	}

	// Accepted, then the phone goes before offering: no answer.
	res = ring(t.Context(), s, Incoming{Call: "c4"}, 5*time.Second)
	phone.next(5 * time.Second)
	phone.send(Message{Type: TypeAccept, Call: "c4"})
	time.Sleep(100 * time.Millisecond)
	phone.closeSocket()
	if r := waitRing(t, res); !errors.Is(r.err, ErrSignalingLost) {
		t.Errorf("phone gone after accepting: %v", r.err)
	}

	caller := dialCall(t, strings.TrimSuffix(url, "/ws/agent")+"/ws/call")
	caller.waitAnswer()
	caller.send(Message{Type: TypeAccept, Call: "c1"})
	if m := caller.next(5 * time.Second); m.Type != TypeError || m.Code != CodeBadState {
		t.Errorf("accept on a caller's socket: %+v", m)
	}
}

// Only a signed-in agent may connect a phone.
func TestPhoneNeedsAnAgent(t *testing.T) {
	_, url, _ := startPhones(t, testConfig())
	if code := dialHTTP(t, url, nil); code != http.StatusUnauthorized {
		t.Errorf("anonymous phone: %d", code)
	}
	bad := http.Header{"Sec-WebSocket-Protocol": {AgentSubprotocol + ", bearer.wrong"}}
	if code := dialHTTP(t, url, bad); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
}
