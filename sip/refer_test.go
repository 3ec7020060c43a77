package sip

import (
	"context"
	"errors"
	"testing"
	"time"

	sipgo "github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
)

// referrer is a trunk that calls Hotline and answers its REFERs: with
// code, and when it accepts, with NOTIFYs reporting frags in turn.
func newReferrer(t *testing.T, code int, frags ...string) (*caller, chan string) {
	t.Helper()
	referTo := make(chan string, 1)
	c := newUA(t, "udp", "127.0.0.1", func(c *caller, srv *sipgo.Server) {
		srv.OnRefer(func(req *siplib.Request, tx siplib.ServerTransaction) {
			referTo <- headerValue(req, "Refer-To")
			_ = tx.Respond(siplib.NewResponseFromRequest(req, code, "", nil))
			if code >= 300 {
				return
			}
			c.mu.Lock()
			sess := c.sess
			c.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for i, frag := range frags {
				n := siplib.NewRequest(siplib.NOTIFY, sess.InviteResponse.Contact().Address)
				n.AppendHeader(siplib.NewHeader("Event", "refer"))
				state := "active;expires=60"
				if i == len(frags)-1 {
					state = "terminated;reason=noresource"
				}
				n.AppendHeader(siplib.NewHeader("Subscription-State", state))
				n.AppendHeader(siplib.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
				n.SetBody([]byte(frag + "\r\n"))
				// The final report's answer may race Hotline's BYE, which
				// ends sipgo's dialog and the wait with it.
				res, err := sess.Do(ctx, n)
				if (err == nil && res.StatusCode != 200) || (err != nil && i < len(frags)-1) {
					t.Errorf("notify %q: %v %v", frag, res, err)
				}
			}
		})
	})
	return c, referTo
}

// TestReferAccepted: the far end accepts the REFER and reports 100 then
// 200; Refer returns nil, Hotline hangs up with BYE and the handler's ctx
// ends with ErrTransferred.
func TestReferAccepted(t *testing.T) {
	verifyNoLeaks(t)
	type outcome struct{ err, cause error }
	done := make(chan outcome, 1)
	s := newTestServer(t, testConfig(), func(ctx context.Context, call *Call) {
		err := call.Refer(ctx, "sip:+15550100@carrier.example")
		<-ctx.Done()
		done <- outcome{err, context.Cause(ctx)}
	})
	c, referTo := newReferrer(t, 202, "SIP/2.0 100 Trying", "SIP/2.0 200 OK")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.dial(ctx, s, p.offer())
	if got := <-referTo; got != "<sip:+15550100@carrier.example>" {
		t.Errorf("Refer-To %q", got)
	}
	c.waitBye(5 * time.Second)
	o := <-done
	if o.err != nil || !errors.Is(o.cause, ErrTransferred) {
		t.Fatalf("refer = %v, call ended by %v; want nil and ErrTransferred", o.err, o.cause)
	}
	within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "the call to be released")
}

// TestReferRefused: a far end that does not transfer (405) or whose new
// call fails (NOTIFY 486) leaves the call up, with an error saying which.
func TestReferRefused(t *testing.T) {
	verifyNoLeaks(t)
	for name, tc := range map[string]struct {
		code  int
		frags []string
		want  error
		got   int
	}{
		"405":         {code: 405, want: ErrReferRefused, got: 405},
		"busy target": {code: 202, frags: []string{"SIP/2.0 100 Trying", "SIP/2.0 486 Busy Here"}, want: ErrTransferFailed, got: 486},
	} {
		t.Run(name, func(t *testing.T) {
			type outcome struct {
				err error
				up  bool
			}
			done := make(chan outcome, 1)
			s := newTestServer(t, testConfig(), func(ctx context.Context, call *Call) {
				err := call.Refer(ctx, "sip:agent@192.0.2.9")
				select {
				case <-call.Leg.Done():
					done <- outcome{err, false}
				default:
					done <- outcome{err, true}
				}
			})
			c, _ := newReferrer(t, tc.code, tc.frags...)
			p := newPhone(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c.dial(ctx, s, p.offer())
			o := <-done
			var re *ReferError
			if !errors.Is(o.err, tc.want) || !errors.As(o.err, &re) || re.Code != tc.got {
				t.Fatalf("refer = %v, want %v with %d", o.err, tc.want, tc.got)
			}
			if !o.up {
				t.Error("call ended after a failed transfer")
			}
			c.waitBye(5 * time.Second) // the handler returned
		})
	}
}

// TestIncomingReferForbidden: Hotline does not let the far end move its
// calls; a REFER gets 403 and the call goes on.
func TestIncomingReferForbidden(t *testing.T) {
	s := newTestServer(t, testConfig(), func(ctx context.Context, call *Call) { <-ctx.Done() })
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess := c.dial(ctx, s, p.offer())
	req := siplib.NewRequest(siplib.REFER, sess.InviteResponse.Contact().Address)
	req.AppendHeader(siplib.NewHeader("Refer-To", "<sip:someone@192.0.2.1>"))
	res, err := sess.Do(ctx, req)
	if err != nil || res.StatusCode != 403 {
		t.Fatalf("REFER = %v %v, want 403", res, err)
	}
	// A NOTIFY for no subscription of ours is taken and ignored; another
	// event package is not ours.
	n := siplib.NewRequest(siplib.NOTIFY, sess.InviteResponse.Contact().Address)
	n.AppendHeader(siplib.NewHeader("Event", "dialog"))
	if res, err := sess.Do(ctx, n); err != nil || res.StatusCode != 489 {
		t.Fatalf("NOTIFY dialog = %v %v, want 489", res, err)
	}
	if s.Calls() != 1 {
		t.Fatal("call ended")
	}
	if err := sess.Bye(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestParseSipfrag(t *testing.T) {
	for in, want := range map[string]int{"SIP/2.0 200 OK\r\n": 200, "SIP/2.0 100 Trying": 100, "": 0,
		"garbage": 0, "SIP/2.0 99 x": 0, "SIP/2.0 486 Busy Here\r\nVia: x": 486} {
		if got, _ := parseSipfrag([]byte(in)); got != want {
			t.Errorf("parseSipfrag(%q) = %d, want %d", in, got, want)
		}
	}
}
