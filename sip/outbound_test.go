package sip

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	sipgo "github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/media"
)

// calleeMode is how a test far end answers INVITEs.
type calleeMode int

const (
	calleeAnswer  calleeMode = iota // 180, then 200 with SDP
	calleeBusy                      // 486
	calleeDecline                   // 603
	calleeRing                      // 180 until canceled
)

// calleeCall is one INVITE a callee received.
type calleeCall struct {
	req      *siplib.Request
	sess     *sipgo.DialogServerSession
	phone    *phone // answered calls: the callee's media
	canceled bool   // ringing calls: ended by CANCEL
	err      error  // what answering returned
}

// callee is a test far end: a phone or a carrier that answers our INVITEs
// as mode says, optionally challenging them with auth first.
type callee struct {
	*caller
	mode  calleeMode
	auth  *digestAuth // non-nil: challenge until the INVITE carries its credentials
	proxy bool        // challenge with 407 rather than 401
	calls chan *calleeCall

	ready chan struct{} // closed once cache is set
	cache *sipgo.DialogServerCache
}

// newCallee starts a callee; auth, if given, makes it challenge.
func newCallee(t testing.TB, mode calleeMode, auth ...func(*callee)) *callee {
	t.Helper()
	ce := &callee{mode: mode, calls: make(chan *calleeCall, 16), ready: make(chan struct{})}
	ce.caller = newUA(t, "udp", "127.0.0.1", ce.install)
	ce.cache = sipgo.NewDialogServerCache(ce.cli, ce.contact)
	for _, f := range auth {
		f(ce)
	}
	close(ce.ready)
	return ce
}

// challenging makes a callee challenge with password, 407 if proxy.
func challenging(password string, proxy bool) func(*callee) {
	return func(ce *callee) {
		ce.auth = newDigestAuth("hotline", password, "carrier.test", newNonceKey())
		ce.proxy = proxy
	}
}

// agentCallee is a registered agent's phone that answers like a callee.
func newAgentCallee(t *testing.T, s *testServer, user string) (*agent, *callee) {
	t.Helper()
	ce := &callee{mode: calleeAnswer, calls: make(chan *calleeCall, 16), ready: make(chan struct{})}
	a := newAgent(t, s, user, agentPassword, ce.install)
	ce.caller = a.caller
	ce.cache = sipgo.NewDialogServerCache(ce.cli, ce.contact)
	close(ce.ready)
	return a, ce
}

func (ce *callee) install(c *caller, srv *sipgo.Server) {
	srv.OnInvite(func(req *siplib.Request, tx siplib.ServerTransaction) {
		<-ce.ready
		if ce.auth != nil {
			proxy := ce.proxy || req.Recipient.User == "proxied"
			checked := req
			if proxy {
				checked = req.Clone()
				if h := req.GetHeader("Proxy-Authorization"); h != nil {
					checked.AppendHeader(siplib.NewHeader("Authorization", h.Value()))
				}
			}
			if res, _ := ce.auth.verify(checked, time.Now()); res != authOK {
				code, hdr, reason := 401, "WWW-Authenticate", "Unauthorized"
				if proxy {
					code, hdr, reason = 407, "Proxy-Authenticate", "Proxy Authentication Required"
				}
				r := siplib.NewResponseFromRequest(req, code, reason, nil)
				r.AppendHeader(siplib.NewHeader(hdr, ce.auth.challenge(time.Now(), false)))
				_ = tx.Respond(r)
				// End the transaction once acknowledged: sipgo's UA, closed
				// with one still waiting, opens a socket it never closes.
				select {
				case <-tx.Acks():
				case <-tx.Done():
				case <-time.After(time.Second):
				}
				tx.Terminate()
				return
			}
		}
		sess, err := ce.cache.ReadInvite(req, tx)
		if err != nil {
			ce.calls <- &calleeCall{req: req, err: err}
			return
		}
		cc := &calleeCall{req: req, sess: sess}
		switch ce.mode {
		case calleeBusy:
			cc.err = sess.Respond(486, "Busy Here", nil)
		case calleeDecline:
			cc.err = sess.Respond(603, "Decline", nil)
		case calleeRing:
			_ = sess.Respond(180, "Ringing", nil)
			<-tx.Done()
			cc.canceled = true
		default:
			_ = sess.Respond(180, "Ringing", nil)
			cc.phone = newPhone(c.t)
			cc.phone.start(c.t, req.Body())
			cc.err = sess.RespondSDP(cc.phone.offer())
		}
		ce.calls <- cc
	})
	srv.OnAck(func(req *siplib.Request, tx siplib.ServerTransaction) {
		<-ce.ready
		_ = ce.cache.ReadAck(req, tx)
	})
}

// next waits for the next INVITE the callee handled.
func (ce *callee) next(t testing.TB) *calleeCall {
	t.Helper()
	select {
	case cc := <-ce.calls:
		return cc
	case <-time.After(10 * time.Second):
		t.Fatal("callee got no INVITE")
		return nil
	}
}

// uri addresses the callee.
func (ce *callee) uri() string {
	u := ce.contact.Address
	u.User = "agent"
	return u.String()
}

// TestDialAudioBothWays places a call to a far end that answers: the
// extra headers reach it, audio crosses both ways over RTP, and Hotline's
// hang-up sends BYE and frees the call.
func TestDialAudioBothWays(t *testing.T) {
	verifyNoLeaks(t)
	s := newTestServer(t, testConfig(), func(context.Context, *Call) {})
	ce := newCallee(t, calleeAnswer)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	oc, err := s.Dial(ctx, DialRequest{
		To:      ce.uri(),
		From:    Party{User: "queue-sales", DisplayName: `Hotline "Sales"`},
		Headers: map[string]string{"X-Hotline-Call": "call-42", "X-Hotline-Summary": "Card lost.\r\nWants a new one."},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	cc := ce.next(t)
	if cc.err != nil {
		t.Fatalf("callee answering: %v", cc.err)
	}
	if got := headerValue(cc.req, "X-Hotline-Call"); got != "call-42" {
		t.Errorf("X-Hotline-Call = %q", got)
	}
	if got := headerValue(cc.req, "X-Hotline-Summary"); got != "Card lost.  Wants a new one." {
		t.Errorf("X-Hotline-Summary = %q", got)
	}
	if f := cc.req.From(); f.Address.User != "queue-sales" || f.DisplayName != "Hotline Sales" {
		t.Errorf("From = %s", f.Value())
	}
	if oc.ID() != cc.req.CallID().Value() || oc.Leg.ID() != oc.ID() || oc.From.User != "queue-sales" || oc.To.User != "agent" {
		t.Errorf("call %s leg %s from %+v to %+v", oc.ID(), oc.Leg.ID(), oc.From, oc.To)
	}

	toneCtx, stopTones := context.WithCancel(ctx)
	defer stopTones()
	go sendTone(toneCtx, oc.Leg, 1000)
	go sendTone(toneCtx, cc.phone.stream, 440)
	if !hearTone(ctx, cc.phone.stream, 1000) {
		t.Fatal("far end did not hear Hotline's 1 kHz tone")
	}
	if !hearTone(ctx, oc.Leg, 440) {
		t.Fatal("Hotline did not hear the far end's 440 Hz tone")
	}
	stopTones()

	if err := oc.Leg.Hangup(ctx); err != nil {
		t.Fatalf("hangup: %v", err)
	}
	ce.waitBye(5 * time.Second)
	<-oc.Leg.Done()
	within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "the call to be released")
	if !strings.Contains(s.logs.String(), "call_id="+oc.ID()) {
		t.Error("no call_id on the outbound call's log lines")
	}
}

// TestDialFarEndHangsUp: BYE from the far end ends the leg, and its
// re-INVITE on the way is served like a caller's.
func TestDialFarEndHangsUp(t *testing.T) {
	verifyNoLeaks(t)
	// Only the trunk on 127.0.0.2 is allowed: the far end's in-dialog
	// requests are taken on the strength of the dialog.
	cfg := testConfig()
	cfg.Trunks = []TrunkConfig{{Name: "elsewhere", Allow: []string{"127.0.0.2"}}}
	s := newTestServer(t, cfg, func(context.Context, *Call) {})
	ce := newCallee(t, calleeAnswer)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	oc, err := s.Dial(ctx, DialRequest{To: ce.uri()})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	cc := ce.next(t)

	// Hold from the far end.
	req := siplib.NewRequest(siplib.INVITE, cc.req.Contact().Address)
	req.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(cc.phone.offer("a=sendonly"))
	res, err := cc.sess.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("re-invite: %v %v", res, err)
	}
	if dirAttr(sdpOf(t, res.Body()).MediaDescriptions[0].Attributes).String() != "recvonly" {
		t.Errorf("hold answered:\n%s", res.Body())
	}
	ack := siplib.NewRequest(siplib.ACK, cc.req.Contact().Address)
	if err := cc.sess.WriteRequest(ack); err != nil {
		t.Fatalf("ack: %v", err)
	}
	d := onlyDialog(t, s)
	within(t, 2*time.Second, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.rtp.Config().Direction == media.RecvOnly
	}, "hold")

	if err := cc.sess.Bye(ctx); err != nil {
		t.Fatalf("bye: %v", err)
	}
	select {
	case <-oc.Leg.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("leg not ended by the far end's BYE")
	}
	if cause := context.Cause(d.ctx); !errors.Is(cause, ErrRemoteHangup) {
		t.Errorf("cause %v", cause)
	}
	within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "the call to be released")
	cc.phone.stop()
}

// TestDialFailures: busy, decline, no answer within the ring timeout and a
// canceled ctx come back as typed errors; a ringing call is canceled with
// CANCEL; the one RTP port pair of the range is free again after each.
func TestDialFailures(t *testing.T) {
	verifyNoLeaks(t)
	cfg := testConfig()
	p := freePortPair(t)
	cfg.RTPPortMin, cfg.RTPPortMax = p, p+1
	s := newTestServer(t, cfg, func(context.Context, *Call) {})
	for name, tc := range map[string]struct {
		mode   calleeMode
		ring   time.Duration
		cancel bool
		want   error
		code   int
	}{
		"busy":      {mode: calleeBusy, want: ErrBusy, code: 486},
		"decline":   {mode: calleeDecline, want: ErrDeclined, code: 603},
		"no answer": {mode: calleeRing, ring: 300 * time.Millisecond, want: ErrNoAnswer},
		"canceled":  {mode: calleeRing, cancel: true, want: ErrCanceled},
	} {
		t.Run(name, func(t *testing.T) {
			ce := newCallee(t, tc.mode)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			dctx, stop := context.WithCancel(ctx)
			defer stop()
			done := make(chan error, 1)
			go func() {
				_, err := s.Dial(dctx, DialRequest{To: ce.uri(), RingTimeout: tc.ring})
				done <- err
			}()
			if tc.cancel {
				within(t, 5*time.Second, func() bool { return strings.Contains(s.logs.String(), "ringing") }, "ringing")
				stop()
			}
			err := <-done
			if !errors.Is(err, tc.want) {
				t.Fatalf("dial = %v, want %v", err, tc.want)
			}
			var de *DialError
			if tc.code != 0 && (!errors.As(err, &de) || de.Code != tc.code) {
				t.Errorf("dial error %v, want code %d", err, tc.code)
			}
			if tc.cancel && !errors.Is(err, context.Canceled) {
				t.Errorf("dial error %v does not carry the ctx's cause", err)
			}
			cc := ce.next(t)
			if tc.mode == calleeRing && !cc.canceled {
				t.Error("the ringing far end saw no CANCEL")
			}
			// The port pair is free again.
			rtp, rtcp, err := s.ports.Listen()
			if err != nil {
				t.Fatalf("rtp ports not returned: %v", err)
			}
			rtp.Close()
			rtcp.Close()
		})
	}
	if s.Calls() != 0 {
		t.Errorf("%d calls left", s.Calls())
	}
}

// TestDialThroughTrunkWithAuth: a trunk that challenges (401, or 407 as
// a proxy) gets the trunk's outbound credentials; with the wrong password,
// or none, the call fails as unauthorized.
func TestDialThroughTrunkWithAuth(t *testing.T) {
	verifyNoLeaks(t)
	t.Setenv("HOTLINE_TEST_DIAL_PASSWORD", "carrier-secret")
	t.Setenv("HOTLINE_TEST_DIAL_WRONG", "another-secret")
	cfg := testConfig()
	cfg.Trunks = append(cfg.Trunks,
		TrunkConfig{Name: "carrier", Allow: []string{"192.0.2.1"},
			OutboundUsername: "hotline", OutboundPasswordEnv: "HOTLINE_TEST_DIAL_PASSWORD"},
		TrunkConfig{Name: "misconfigured", Allow: []string{"192.0.2.2"},
			OutboundUsername: "hotline", OutboundPasswordEnv: "HOTLINE_TEST_DIAL_WRONG"})
	s := newTestServer(t, cfg, func(context.Context, *Call) {})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// One far end for every case: each UA closed with transactions still
	// pending may leave a socket of sipgo's behind.
	ce := newCallee(t, calleeAnswer, challenging("carrier-secret", false))
	for _, user := range []string{"agent", "proxied"} {
		u := ce.contact.Address
		u.User = user
		oc, err := s.Dial(ctx, DialRequest{To: u.String(), Trunk: "carrier"})
		if err != nil {
			t.Fatalf("%s: dial: %v", user, err)
		}
		cc := ce.next(t)
		if oc.Trunk != "carrier" {
			t.Errorf("trunk %q", oc.Trunk)
		}
		_ = oc.Leg.Hangup(ctx)
		cc.phone.stop()
	}
	if _, err := s.Dial(ctx, DialRequest{To: ce.uri(), Trunk: "misconfigured"}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong password: %v, want ErrUnauthorized", err)
	}
	if _, err := s.Dial(ctx, DialRequest{To: ce.uri()}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("no trunk: %v, want ErrUnauthorized", err)
	}
	if strings.Contains(s.logs.String(), "carrier-secret") {
		t.Error("password in the log")
	}
	within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "calls to end")
}

// TestDialRegisteredAgent is the distributor's path: an agent's phone
// registers, Hotline dials its binding, the phone answers and hears
// Hotline.
func TestDialRegisteredAgent(t *testing.T) {
	verifyNoLeaks(t)
	s := newTestServer(t, agentConfig(t), func(context.Context, *Call) {})
	events := collectEvents(s)
	a, ce := newAgentCallee(t, s, "1001")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if res := a.register(ctx, nil, "300"); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	ev := nextEvent(t, events, "1001", 1)
	b := ev.Bindings[0]
	oc, err := s.Dial(ctx, DialRequest{To: b.Contact, Destination: b.Source, RingTimeout: 5 * time.Second,
		Headers: map[string]string{"X-Hotline-Call": "c-1"}})
	if err != nil {
		t.Fatalf("dial the agent: %v", err)
	}
	cc := ce.next(t)
	if cc.req.Recipient.User != "1001" {
		t.Errorf("INVITE for %s", cc.req.Recipient.String())
	}
	toneCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendTone(toneCtx, oc.Leg, 1000)
	if !hearTone(ctx, cc.phone.stream, 1000) {
		t.Fatal("agent did not hear Hotline")
	}
	stop()
	if err := oc.Leg.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	ce.waitBye(5 * time.Second)
	cc.phone.stop()
}

// TestBridgeCallerToAgent: a caller's inbound call is bridged to an
// outbound call to an agent with media.Bridge; each hears the other, and
// the caller's BYE ends the bridge, after which Hotline hangs up on the
// agent.
func TestBridgeCallerToAgent(t *testing.T) {
	verifyNoLeaks(t)
	ce := newCallee(t, calleeAnswer)
	bridged := make(chan error, 1)
	var mu sync.Mutex
	var result media.BridgeResult
	var srv *Server // set before Start, so before any call
	s := newTestServer(t, testConfig(), func(ctx context.Context, call *Call) {
		oc, err := srv.Dial(ctx, DialRequest{To: ce.uri(), Headers: map[string]string{"X-Hotline-Call": call.ID()}})
		if err != nil {
			bridged <- err
			return
		}
		defer oc.Leg.Hangup(context.Background())
		r, err := media.Bridge(ctx, call.Leg, oc.Leg, media.BridgeOptions{})
		mu.Lock()
		result = r
		mu.Unlock()
		bridged <- err
	}, func(s *Server) { srv = s })
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess := c.dial(ctx, s, p.offer())
	p.start(t, sess.InviteResponse.Body())
	cc := ce.next(t)
	if cc.err != nil {
		t.Fatal(cc.err)
	}
	if got := headerValue(cc.req, "X-Hotline-Call"); got != sess.InviteRequest.CallID().Value() {
		t.Errorf("agent's INVITE names call %q", got)
	}
	toneCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendTone(toneCtx, p.stream, 440)
	go sendTone(toneCtx, cc.phone.stream, 1000)
	if !hearTone(ctx, cc.phone.stream, 440) {
		t.Fatal("agent did not hear the caller")
	}
	if !hearTone(ctx, p.stream, 1000) {
		t.Fatal("caller did not hear the agent")
	}
	stop()
	if err := sess.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-bridged; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("bridge: %v", err)
	}
	ce.waitBye(5 * time.Second)
	mu.Lock()
	if result.AToB == 0 || result.BToA == 0 {
		t.Errorf("bridge result %+v", result)
	}
	mu.Unlock()
	within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "both calls to end")
	cc.phone.stop()
}

// BenchmarkDial is the set-up cost of a call placed on loopback: INVITE,
// 180, 200, ACK, RTP ports and leg, then BYE.
func BenchmarkDial(b *testing.B) {
	s := newTestServer(b, testConfig(), func(context.Context, *Call) {})
	ce := newCallee(b, calleeAnswer)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		oc, err := s.Dial(ctx, DialRequest{To: ce.uri()})
		if err != nil {
			b.Fatal(err)
		}
		cc := ce.next(b)
		if err := oc.Leg.Hangup(ctx); err != nil {
			b.Fatal(err)
		}
		<-ce.byes
		cc.phone.stop()
	}
}
