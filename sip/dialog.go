package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	sipgo "github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/media"
)

// dialogState is where a dialog stands, RFC 3261 §12 plus the window
// between our 2xx and its ACK.
type dialogState int

const (
	stateEarly     dialogState = iota // 1xx sent
	stateAnswered                     // 2xx sent, waiting for the ACK
	stateConfirmed                    // ACK received, media running
	stateEnded
)

// dialog is one call's SIP dialog. The goroutine serving the INVITE (or,
// for a call we place, Dial) owns it until the call starts, then runCall
// does; whichever owns it calls release.
//
// A dialog is described as its UAS sees it: invite is the INVITE as we
// received it, with our To tag. For a call we placed (outbound), invite is
// that view of our own INVITE built from the far end's 2xx (outbound.go),
// so that in-dialog requests, re-INVITEs and BYE work the same both ways.
type dialog struct {
	s         *Server
	key       string
	callID    string
	localTag  string
	remoteTag string
	invite    *siplib.Request // the initial INVITE, cloned, with our To tag
	contact   *siplib.ContactHeader
	sentBy    netip.AddrPort // Via sent-by for requests we send
	trunk     *trunk         // nil for a call we placed without a trunk
	outbound  bool           // we placed the call
	src       netip.AddrPort // the far end's signaling address
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelCauseFunc
	begin     time.Time

	rtpConn, rtcpConn *net.UDPConn
	local             *localSDP // guarded by the busy flag: one offer/answer at a time

	mu        sync.Mutex
	state     dialogState
	busy      bool          // an offer/answer exchange is in progress
	changed   chan struct{} // closed and replaced when state or busy change
	far       farMedia
	rtp       *media.RTPSession
	leg       *leg
	call      *Call
	remoteSeq uint32
	localSeq  uint32
	ack       *pendingAck
	referring *referWait // our REFER in progress, if any

	byeOnce     sync.Once
	byeErr      error
	releaseOnce sync.Once
}

// notifyLocked wakes whoever waits for the dialog to change; d.mu held.
func (d *dialog) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// pendingAck waits for the ACK of the 2xx to the INVITE with CSeq cseq.
type pendingAck struct {
	cseq uint32
	ch   chan *siplib.Request
}

// dialogKey identifies a dialog by Call-ID and both tags.
func dialogKey(callID, localTag, remoteTag string) string {
	return callID + "\x00" + localTag + "\x00" + remoteTag
}

// dialogKeyUAS is the key of the dialog a request received as UAS belongs to.
func dialogKeyUAS(req *siplib.Request) string {
	toTag, _ := req.To().Params.Get("tag")
	fromTag, _ := req.From().Params.Get("tag")
	return dialogKey(req.CallID().Value(), toTag, fromTag)
}

// checkCSeq enforces RFC 3261 §12.2.2: requests out of order get 500.
func (d *dialog) checkCSeq(req *siplib.Request) bool {
	seq := req.CSeq().SeqNo
	d.mu.Lock()
	defer d.mu.Unlock()
	if seq < d.remoteSeq {
		return false
	}
	d.remoteSeq = seq
	return true
}

func (d *dialog) getState() dialogState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// terminate ends the dialog with cause; ok is false if it had ended already.
func (d *dialog) terminate(cause error) (prev dialogState, ok bool) {
	d.mu.Lock()
	prev = d.state
	if prev == stateEnded {
		d.mu.Unlock()
		return prev, false
	}
	d.state = stateEnded
	d.notifyLocked()
	l := d.leg
	d.mu.Unlock()
	d.cancel(cause)
	if l != nil {
		l.End()
	}
	return prev, true
}

// hangup ends the call from our side with cause, sending BYE once the
// dialog has been answered. Before that, the goroutine serving the INVITE
// sees the dialog end and sends the final response.
func (d *dialog) hangup(ctx context.Context, cause error) error {
	prev, ok := d.terminate(cause)
	if !ok || prev == stateEarly {
		return nil
	}
	d.log.Info("hanging up", "cause", cause.Error())
	return d.sendBye(ctx)
}

// sendBye sends BYE once and waits for its final response.
func (d *dialog) sendBye(ctx context.Context) error {
	d.byeOnce.Do(func() {
		res, err := d.s.do(ctx, d.newRequest(siplib.BYE))
		switch {
		case err != nil:
			d.byeErr = fmt.Errorf("sip bye: %w", err)
		case res.StatusCode >= 300 && res.StatusCode != 481 && res.StatusCode != 408:
			d.byeErr = fmt.Errorf("sip bye: %d %s", res.StatusCode, res.Reason)
		}
		if d.byeErr != nil {
			d.log.Warn("bye failed", "err", d.byeErr)
		}
	})
	return d.byeErr
}

// do sends a request we built whole and waits for its final response.
func (s *Server) do(ctx context.Context, req *siplib.Request) (*siplib.Response, error) {
	tx, err := s.client.TransactionRequest(ctx, req, asBuilt)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, errors.New("transaction ended without a response")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// asBuilt tells sipgo's client to send a request as we built it.
func asBuilt(*sipgo.Client, *siplib.Request) error { return nil }

// newRequest builds a request inside the dialog (RFC 3261 §12.2.1.1).
func (d *dialog) newRequest(method siplib.RequestMethod) *siplib.Request {
	d.mu.Lock()
	d.localSeq++
	seq := d.localSeq
	d.mu.Unlock()
	return d.requestSeq(method, seq)
}

// requestSeq builds a request inside the dialog with CSeq seq: a new one,
// or the ACK of our INVITE.
func (d *dialog) requestSeq(method siplib.RequestMethod, seq uint32) *siplib.Request {
	inv := d.invite
	req := siplib.NewRequest(method, *inv.Contact().Address.Clone())
	req.SipVersion = inv.SipVersion

	via := &siplib.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       strings.ToUpper(inv.Transport()),
		Host:            d.sentBy.Addr().String(),
		Port:            int(d.sentBy.Port()),
		Params:          siplib.NewParams(),
	}
	via.Params.Add("branch", siplib.GenerateBranchN(16))
	via.Params.Add("rport", "")
	from := inv.To().AsFrom()
	to := inv.From().AsTo()
	maxFwd := siplib.MaxForwardsHeader(70)
	req.AppendHeader(via)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(siplib.HeaderClone(inv.CallID()))
	req.AppendHeader(&siplib.CSeqHeader{SeqNo: seq, MethodName: method})
	req.AppendHeader(&maxFwd)
	for _, rr := range inv.GetHeaders("Record-Route") {
		req.AppendHeader(siplib.NewHeader("Route", rr.Value()))
	}
	req.AppendHeader(siplib.HeaderClone(d.contact))
	req.AppendHeader(siplib.NewHeader("User-Agent", d.s.cfg.UserAgent))
	req.SetBody(nil)
	req.SetTransport(inv.Transport())
	if !siplib.IsReliable(inv.Transport()) {
		// Leave from the listener: sipgo would otherwise open a socket of
		// its own for a far end it has not heard from on the listener.
		req.Laddr = d.s.udpLocal()
	}
	if rt := req.Route(); rt != nil {
		req.SetDestination(rt.Address.HostPort())
	} else {
		req.SetDestination(d.target())
	}
	return req
}

// target is where requests go when there is no route set: the caller's
// Contact, except over TCP (reuse the caller's connection) and when the
// Contact is a private address behind a public source (a NAT that did not
// rewrite it), where the INVITE's source address is used.
func (d *dialog) target() string {
	if siplib.IsReliable(d.invite.Transport()) {
		return d.src.String()
	}
	u := d.invite.Contact().Address
	if ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]")); err == nil {
		src := d.src.Addr()
		if ip != src && (ip.IsPrivate() || ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast()) &&
			!src.IsPrivate() && !src.IsLoopback() {
			return d.src.String()
		}
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), fmt.Sprint(port))
}

// waitAck waits for the ACK of res, passing res to the transport again
// from T1 doubling to T2 on unreliable transports (RFC 3261 §13.3.1.4),
// for at most 64*T1.
func (d *dialog) waitAck(tx siplib.ServerTransaction, res *siplib.Response, p *pendingAck) (*siplib.Request, error) {
	t1, t2 := d.s.t1, d.s.t2
	giveUp := time.NewTimer(64 * t1)
	defer giveUp.Stop()
	interval := t1
	retrans := time.NewTimer(interval)
	defer retrans.Stop()
	unreliable := !siplib.IsReliable(d.invite.Transport())
	for {
		select {
		case ack := <-p.ch:
			return ack, nil
		case <-retrans.C:
			if unreliable {
				if err := tx.Respond(res); err != nil {
					if err := d.s.srv.WriteResponse(res); err != nil {
						d.log.Debug("2xx retransmission failed", "err", err)
					}
				}
			}
			interval = min(2*interval, t2)
			retrans.Reset(interval)
		case <-giveUp.C:
			d.mu.Lock()
			if d.ack == p {
				d.ack = nil
			}
			d.mu.Unlock()
			return nil, ErrNoACK
		case <-d.ctx.Done():
			return nil, context.Cause(d.ctx)
		}
	}
}

// expectAck registers the wait for the ACK to the INVITE req.
func (d *dialog) expectAck(req *siplib.Request) *pendingAck {
	p := &pendingAck{cseq: req.CSeq().SeqNo, ch: make(chan *siplib.Request, 1)}
	d.mu.Lock()
	d.ack = p
	d.mu.Unlock()
	return p
}

// onAck takes an ACK for a 2xx; retransmitted ACKs are ignored.
func (s *Server) onAck(req *siplib.Request) {
	d := s.findDialog(dialogKeyUAS(req))
	if d == nil {
		s.log.Debug("ack outside any dialog", "call_id", req.CallID().Value())
		return
	}
	d.mu.Lock()
	p := d.ack
	if p == nil || p.cseq != req.CSeq().SeqNo {
		d.mu.Unlock()
		return
	}
	d.ack = nil
	d.mu.Unlock()
	p.ch <- req
}

func (d *dialog) onBye(req *siplib.Request, tx siplib.ServerTransaction) {
	_, ok := d.terminate(ErrRemoteHangup)
	d.s.respond(tx, req, 200, "OK")
	if ok {
		d.log.Info("far end hung up")
	}
}

// onInfo takes DTMF sent as SIP INFO (application/dtmf-relay or
// application/dtmf); an empty INFO is a keep-alive.
func (d *dialog) onInfo(req *siplib.Request, tx siplib.ServerTransaction) {
	body := strings.TrimSpace(string(req.Body()))
	if body == "" {
		d.s.respond(tx, req, 200, "OK")
		return
	}
	ct := strings.ToLower(headerValue(req, "Content-Type"))
	var sig string
	switch {
	case strings.HasPrefix(ct, "application/dtmf-relay"):
		for _, line := range strings.Split(body, "\n") {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				sig = strings.TrimSpace(v)
			}
		}
	case strings.HasPrefix(ct, "application/dtmf"):
		sig = body
	default:
		res := siplib.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil)
		res.AppendHeader(siplib.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		d.s.send(tx, res)
		return
	}
	d.s.respond(tx, req, 200, "OK")
	if dg, ok := parseDigit(sig); ok {
		d.pushDigit(dg)
	}
}

// parseDigit reads a DTMF key as sent in INFO: the character or its
// RFC 4733 event code.
func parseDigit(s string) (media.Digit, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) == 1 && media.Digit(s[0]).Valid() {
		return media.Digit(s[0]), true
	}
	switch s {
	case "10":
		return '*', true
	case "11":
		return '#', true
	case "12", "13", "14", "15":
		return media.Digit('A' + s[1] - '2'), true
	}
	return 0, false
}

func (d *dialog) pushDigit(dg media.Digit) {
	d.mu.Lock()
	l := d.leg
	d.mu.Unlock()
	if l != nil {
		l.PushDigit(dg)
		d.log.Debug("dtmf received", "digit", dg.String())
	}
}

// release frees the dialog's ports and forgets it; once, by its owner.
func (d *dialog) release() {
	d.releaseOnce.Do(func() {
		d.terminate(ErrHangup)
		d.mu.Lock()
		rtp := d.rtp
		d.mu.Unlock()
		if rtp != nil {
			if err := rtp.Close(); err != nil {
				d.log.Debug("rtp close", "err", err)
			}
		} else {
			if d.rtpConn != nil {
				_ = d.rtpConn.Close()
			}
			if d.rtcpConn != nil {
				_ = d.rtcpConn.Close()
			}
		}
		d.s.removeDialog(d)
	})
}

func newLocalSeq() uint32 { return rand.Uint32N(1 << 30) }
