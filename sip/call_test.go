package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	sipgo "github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/hotline-cc/hotline/media"
)

// TestCallAudioBothWays answers a call from sipgo's client over UDP and
// TCP: the caller sends a 440 Hz tone that the handler hears, the handler
// sends 1 kHz that the caller hears, then the handler returns and Hotline
// sends BYE.
func TestCallAudioBothWays(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			type seen struct {
				call      Call
				heard440  bool
				legID     string
				sampleHz  int
				causeDone error
			}
			got := make(chan seen, 1)
			callerHeard := make(chan struct{})
			s := newTestServer(t, testConfig(), func(ctx context.Context, call *Call) {
				hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				r := seen{call: *call, legID: call.Leg.ID(), sampleHz: call.Leg.SampleRate()}
				r.heard440 = hearTone(hctx, call.Leg, 440)
				got <- r
				sctx, stop := context.WithCancel(ctx)
				go func() {
					select {
					case <-callerHeard:
					case <-time.After(5 * time.Second):
					}
					stop()
				}()
				sendTone(sctx, call.Leg, 1000)
			})
			c := newCaller(t, transport)
			p := newPhone(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			sess := c.dial(ctx, s, p.offer())
			p.start(t, sess.InviteResponse.Body())
			toneCtx, stopTone := context.WithCancel(ctx)
			defer stopTone()
			go sendTone(toneCtx, p.stream, 440)

			r := <-got
			if !r.heard440 {
				t.Fatal("handler did not hear the caller's 440 Hz tone")
			}
			if !hearTone(ctx, p.stream, 1000) {
				t.Fatal("caller did not hear the handler's 1 kHz tone")
			}
			close(callerHeard)
			bye := c.waitBye(5 * time.Second)
			stopTone()

			if r.legID != sess.InviteRequest.CallID().Value() || r.call.ID() != r.legID {
				t.Errorf("leg ID %q, want the Call-ID %q", r.legID, sess.InviteRequest.CallID().Value())
			}
			if r.sampleHz != 8000 {
				t.Errorf("leg sample rate %d", r.sampleHz)
			}
			if r.call.From.User != "test-caller" || r.call.To.User != "100" || r.call.Trunk != "local" {
				t.Errorf("call parties = %+v %+v trunk %q", r.call.From, r.call.To, r.call.Trunk)
			}
			if r.call.RemoteAddr.Addr() != netip.MustParseAddr("127.0.0.1") || r.call.Log == nil {
				t.Errorf("remote addr %v, log %v", r.call.RemoteAddr, r.call.Log)
			}
			if bye.CallID().Value() != r.legID {
				t.Errorf("BYE for call %q", bye.CallID().Value())
			}
			within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "the call to be released")
			logs := s.logs.String()
			if !strings.Contains(logs, "call_id="+r.legID) {
				t.Errorf("no call_id on per-call log lines:\n%s", logs)
			}
			ans := string(sess.InviteResponse.Body())
			if !strings.Contains(ans, "a=rtpmap:101 telephone-event/8000") || !strings.Contains(ans, "m=audio") {
				t.Errorf("answer lacks telephone-event:\n%s", ans)
			}
		})
	}
}

// TestCallerHangsUp: BYE from the caller ends the handler's ctx with
// ErrRemoteHangup, ends the leg, and frees the call.
func TestCallerHangsUp(t *testing.T) {
	cause := make(chan error, 1)
	legDone := make(chan error, 1)
	s := newTestServer(t, testConfig(), func(ctx context.Context, call *Call) {
		<-ctx.Done()
		cause <- context.Cause(ctx)
		select {
		case <-call.Leg.Done():
			_, err := call.Leg.ReadFrame(context.Background())
			legDone <- err
		case <-time.After(time.Second):
			legDone <- errors.New("leg not done")
		}
	})
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess := c.dial(ctx, s, p.offer())
	within(t, 2*time.Second, func() bool { return onlyDialog(t, s).getState() == stateConfirmed }, "the call to start")
	if err := sess.Bye(ctx); err != nil {
		t.Fatalf("bye: %v", err)
	}
	if err := <-cause; !errors.Is(err, ErrRemoteHangup) {
		t.Errorf("handler ctx cause = %v, want ErrRemoteHangup", err)
	}
	if err := <-legDone; !errors.Is(err, media.ErrHangup) {
		t.Errorf("read after hang-up = %v, want media.ErrHangup", err)
	}
	within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "the call to be released")
	select {
	case <-c.byes:
		t.Error("server sent BYE after the caller hung up")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestLateOffer: an INVITE without SDP gets our offer in the 200 OK; the
// caller's answer in the ACK sets up media.
func TestLateOffer(t *testing.T) {
	heard := make(chan bool, 1)
	s := newTestServer(t, testConfig(), func(ctx context.Context, call *Call) {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		heard <- hearTone(hctx, call.Leg, 440)
		<-ctx.Done()
	})
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess := c.invite(ctx, s, "100", nil)
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	offer := sess.InviteResponse.Body()
	if !strings.Contains(string(offer), "RTP/AVP 0 8 101") || !strings.Contains(string(offer), "a=sendrecv") {
		t.Fatalf("200 OK does not carry our offer:\n%s", offer)
	}
	// Answer PCMA, as a phone preferring it would.
	far, err := parseFar(offer, audioCodecs, "offer")
	if err != nil {
		t.Fatal(err)
	}
	answer := sdpLines("v=0", "o=- 5 5 IN IP4 127.0.0.1", "s=phone", "c=IN IP4 127.0.0.1", "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 8 101", p.port()), "a=rtpmap:8 PCMA/8000",
		"a=rtpmap:101 telephone-event/8000", "a=sendrecv")
	ack := siplib.NewRequest(siplib.ACK, *sess.InviteResponse.Contact().Address.Clone())
	ack.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
	ack.SetBody(answer)
	if err := sess.WriteAck(ctx, ack); err != nil {
		t.Fatal(err)
	}
	// The phone sends PCMA to where our offer said.
	farSDP := sdpLines("v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 "+far.Addr.Addr().String(), "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 8", far.Addr.Port()))
	p.start(t, farSDP)
	toneCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendTone(toneCtx, p.stream, 440)
	if !<-heard {
		t.Fatal("handler did not hear the caller after a late offer")
	}
	d := onlyDialog(t, s)
	d.mu.Lock()
	codec := d.far.Codec
	d.mu.Unlock()
	if codec != fmtPCMA {
		t.Errorf("codec from the ACK's answer = %+v, want PCMA", codec)
	}
	if err := sess.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "the call to be released")
}

// reinvite sends a re-INVITE with body in the caller's dialog, ACKs the 200
// and returns it.
func reinvite(t *testing.T, ctx context.Context, sess *sipgo.DialogClientSession, body []byte) *siplib.Response {
	t.Helper()
	target := *sess.InviteResponse.Contact().Address.Clone()
	req := siplib.NewRequest(siplib.INVITE, target)
	if body != nil {
		req.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
	}
	req.SetBody(body)
	res, err := sess.Do(ctx, req)
	if err != nil {
		t.Fatalf("re-invite: %v", err)
	}
	if res.StatusCode == 200 {
		ack := siplib.NewRequest(siplib.ACK, target)
		if err := sess.WriteRequest(ack); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	return res
}

func sdpOf(t *testing.T, b []byte) *sdp.SessionDescription {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		t.Fatalf("sdp: %v\n%s", err, b)
	}
	return &sd
}

// TestReInviteHoldResume: a sendonly re-INVITE puts the call on hold (our
// RTP goes recvonly and the inactivity timer stops, so a silent caller is
// not hung up); a sendrecv re-INVITE from a new port resumes it with audio;
// a refresh with the same SDP changes nothing, not even the version; and
// once the caller goes silent unheld, the RTP timeout hangs up.
func TestReInviteHoldResume(t *testing.T) {
	cfg := testConfig()
	cfg.RTPTimeout = 400 * time.Millisecond
	cause := make(chan error, 1)
	speak := make(chan struct{})
	s := newTestServer(t, cfg, func(ctx context.Context, call *Call) {
		select {
		case <-speak:
			sendTone(ctx, call.Leg, 1000)
		case <-ctx.Done():
		}
		cause <- context.Cause(ctx)
	})
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess := c.dial(ctx, s, p.offer())
	p.start(t, sess.InviteResponse.Body())
	within(t, 2*time.Second, func() bool { return onlyDialog(t, s).getState() == stateConfirmed }, "the call to start")
	d := onlyDialog(t, s)
	v0 := sdpOf(t, sess.InviteResponse.Body()).Origin.SessionVersion
	d.mu.Lock()
	far0 := d.far
	d.mu.Unlock()
	if got := d.rtpConfig(far0); got.InactivityTimeout != cfg.RTPTimeout || got.Direction != media.SendRecv {
		t.Fatalf("before hold: rtp %+v", got)
	}

	// Hold.
	res := reinvite(t, ctx, sess, p.offer("a=sendonly"))
	if res.StatusCode != 200 {
		t.Fatalf("hold re-invite: %d", res.StatusCode)
	}
	held := sdpOf(t, res.Body())
	if held.Origin.SessionVersion != v0+1 || dirAttr(held.MediaDescriptions[0].Attributes) != sdp.DirectionRecvOnly {
		t.Fatalf("hold answer version %d (was %d), want recvonly:\n%s", held.Origin.SessionVersion, v0, res.Body())
	}
	// The ACK that completes the re-INVITE applies the new media.
	d.mu.Lock()
	sess0 := d.rtp
	d.mu.Unlock()
	within(t, 2*time.Second, func() bool {
		cfg := sess0.Config()
		return cfg.Direction == media.RecvOnly && cfg.InactivityTimeout == 0
	}, "the session to go on hold")
	// Silence on hold must not end the call.
	p.stop()
	time.Sleep(3 * cfg.RTPTimeout)
	if s.Calls() != 1 || d.getState() != stateConfirmed {
		t.Fatal("call ended while on hold")
	}

	// Resume from a new port.
	p2 := newPhone(t)
	res = reinvite(t, ctx, sess, p2.offer())
	if res.StatusCode != 200 {
		t.Fatalf("resume re-invite: %d", res.StatusCode)
	}
	resumed := sdpOf(t, res.Body())
	if resumed.Origin.SessionVersion != v0+2 || dirAttr(resumed.MediaDescriptions[0].Attributes) != sdp.DirectionSendRecv {
		t.Fatalf("resume answer:\n%s", res.Body())
	}
	within(t, 2*time.Second, func() bool {
		got := sess0.Config()
		return got.Direction == media.SendRecv && got.InactivityTimeout == cfg.RTPTimeout
	}, "the session to resume")
	p2.start(t, res.Body())
	close(speak)
	if !hearTone(ctx, p2.stream, 1000) {
		t.Fatal("no audio at the new port after resume")
	}

	// Session refresh: same SDP, same answer, same version.
	resumedBody := res.Body()
	res = reinvite(t, ctx, sess, p2.offer())
	if res.StatusCode != 200 || string(res.Body()) != string(resumedBody) {
		t.Fatalf("refresh changed our sdp:\n%s\nwas:\n%s", res.Body(), resumedBody)
	}
	// Offerless refresh: we offer what we have, unchanged.
	res = reinvite(t, ctx, sess, nil)
	if res.StatusCode != 200 || string(res.Body()) != string(resumedBody) {
		t.Fatalf("offerless re-invite answered %d:\n%s", res.StatusCode, res.Body())
	}
	// (The ACK above carried no answer: the call ends, as RFC 3264 wants.)
	c.waitBye(5 * time.Second)
	if err := <-cause; !errors.Is(err, errNoSDP) {
		t.Errorf("ended by %v, want the missing answer", err)
	}
}

// TestRTPTimeout: a caller that goes silent (no hold) is hung up after
// rtp_timeout with BYE, and the handler sees ErrRTPTimeout.
func TestRTPTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.RTPTimeout = 300 * time.Millisecond
	cause := make(chan error, 1)
	s := newTestServer(t, cfg, func(ctx context.Context, call *Call) {
		<-ctx.Done()
		cause <- context.Cause(ctx)
	})
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess := c.dial(ctx, s, p.offer())
	p.start(t, sess.InviteResponse.Body())
	time.Sleep(2 * cfg.RTPTimeout)
	if s.Calls() != 1 {
		t.Fatal("call ended while the caller was sending")
	}
	p.stop()
	c.waitBye(3 * time.Second)
	if err := <-cause; !errors.Is(err, ErrRTPTimeout) {
		t.Errorf("cause = %v, want ErrRTPTimeout", err)
	}
}

// TestInfoDTMF: DTMF sent as SIP INFO reaches the leg's digits.
func TestInfoDTMF(t *testing.T) {
	digits := make(chan media.Digit, 4)
	s := newTestServer(t, testConfig(), func(ctx context.Context, call *Call) {
		for {
			select {
			case d := <-call.Leg.Digits():
				digits <- d
			case <-ctx.Done():
				return
			}
		}
	})
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess := c.dial(ctx, s, p.offer())
	within(t, 2*time.Second, func() bool { return onlyDialog(t, s).getState() == stateConfirmed }, "the call to start")
	for _, body := range []string{"Signal=7\r\nDuration=160\r\n", "11"} {
		ct := "application/dtmf-relay"
		if body == "11" {
			ct = "application/dtmf"
		}
		req := siplib.NewRequest(siplib.INFO, *sess.InviteResponse.Contact().Address.Clone())
		req.AppendHeader(siplib.NewHeader("Content-Type", ct))
		req.SetBody([]byte(body))
		res, err := sess.Do(ctx, req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("INFO: %v %v", res, err)
		}
	}
	for _, want := range []media.Digit{'7', '#'} {
		select {
		case got := <-digits:
			if got != want {
				t.Errorf("digit %q, want %q", got, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("digit %q not delivered", want)
		}
	}
	_ = sess.Bye(ctx)
}
