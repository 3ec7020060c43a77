package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	siplib "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Why a call we placed did not connect, testable with errors.Is. A final
// response is a *DialError, which unwraps to one of these.
var (
	// ErrBusy: the far end is busy (486, 600).
	ErrBusy = errors.New("sip: busy")
	// ErrNoAnswer: nobody answered within the ring timeout, or the far
	// end said nobody would (408, 480).
	ErrNoAnswer = errors.New("sip: no answer")
	// ErrDeclined: the far end declined the call (603).
	ErrDeclined = errors.New("sip: call declined")
	// ErrNotFound: no such user or number (404, 484, 604).
	ErrNotFound = errors.New("sip: not found")
	// ErrUnauthorized: the far end wants credentials we do not have, or
	// refused ours (401, 407).
	ErrUnauthorized = errors.New("sip: not authorized")
	// ErrRejected: any other failure response.
	ErrRejected = errors.New("sip: call rejected")
	// ErrUnreachable: no response at all, or the request could not be sent.
	ErrUnreachable = errors.New("sip: far end unreachable")
)

// DialError is the final failure response to a call we placed.
type DialError struct {
	Code   int
	Reason string
	err    error // the class: ErrBusy, ErrNoAnswer...
}

func (e *DialError) Error() string { return fmt.Sprintf("sip dial: %d %s", e.Code, e.Reason) }

// Unwrap gives the class of the failure: ErrBusy, ErrNoAnswer...
func (e *DialError) Unwrap() error { return e.err }

func dialFailure(res *siplib.Response) *DialError {
	class := ErrRejected
	switch res.StatusCode {
	case 486, 600:
		class = ErrBusy
	case 408, 480:
		class = ErrNoAnswer
	case 603:
		class = ErrDeclined
	case 404, 484, 604:
		class = ErrNotFound
	case 401, 407:
		class = ErrUnauthorized
	case 487:
		class = ErrCanceled
	}
	return &DialError{Code: res.StatusCode, Reason: res.Reason, err: class}
}

// defaultRingTimeout is how long a call we place rings when the request
// does not say.
const defaultRingTimeout = 30 * time.Second

// DialRequest describes a call to place.
type DialRequest struct {
	// To is the SIP URI to call: "sip:1001@192.0.2.7:5062", a Binding's
	// Contact, or a number at a trunk ("sip:+15551234@carrier.example").
	// A transport=tcp parameter sends it over TCP.
	To string
	// Destination, when set, is where the INVITE goes instead of To's host
	// and port: a registered phone behind NAT is reached at Binding.Source.
	Destination netip.AddrPort
	// From is who the call is from on the far end's display. Default user
	// "hotline", no display name.
	From Party
	// Headers are added to the INVITE, for the agent's phone:
	// X-Hotline-Call, X-Hotline-Summary, Call-Info for auto-answer. Line
	// breaks in values become spaces; the headers Hotline writes itself
	// (Via, From, To, Contact, Content-Type...) cannot be set.
	Headers map[string]string
	// RingTimeout is how long the call may ring before Hotline cancels it
	// (ErrNoAnswer). Default 30s.
	RingTimeout time.Duration
	// Trunk names the configured trunk the call goes through: its
	// outbound credentials answer a 401 or 407. Default "": none.
	Trunk string
}

// OutboundCall is an answered call we placed. Its Call works as an
// inbound call's: Leg carries the audio (bridge it with media.Bridge),
// Leg.Hangup sends BYE, Leg.Done is closed when either side ends it. From
// is us, To the far end. Whoever called Dial owns it and must hang it up.
type OutboundCall struct {
	*Call
	// Ringing is how long the far end took to answer.
	Ringing time.Duration
}

// reservedHeaders are the headers of an INVITE Hotline writes itself.
var reservedHeaders = []string{"via", "from", "to", "call-id", "cseq", "contact", "max-forwards",
	"content-type", "content-length", "route", "record-route", "authorization", "proxy-authorization",
	"user-agent", "allow", "require", "supported", "expires"}

// outbound is a call we are placing, until it is answered or fails.
type outbound struct {
	s       *Server
	req     DialRequest
	log     *slog.Logger
	trunk   *trunk
	dest    netip.AddrPort
	sentBy  netip.AddrPort
	contact *siplib.ContactHeader
	invite  *siplib.Request
	local   *localSDP
	begin   time.Time

	rtpConn, rtcpConn *net.UDPConn
}

// Dial places a call and returns it once answered: an INVITE offering PCMU
// and PCMA with telephone-event, ringing until the far end answers, fails,
// RingTimeout passes (CANCEL, ErrNoAnswer) or ctx ends (CANCEL,
// ErrCanceled). Early media is not played. A 401 or 407 is answered with
// the trunk's outbound credentials. Failures unwrap to ErrBusy,
// ErrNoAnswer, ErrDeclined, ErrNotFound, ErrUnauthorized, ErrRejected,
// ErrUnreachable, ErrCanceled or ErrShutdown.
//
// NOTE: ctx bounds the ringing only; the answered call lives until it is
// hung up or the server closes.
func (s *Server) Dial(ctx context.Context, r DialRequest) (*OutboundCall, error) {
	if !s.enter() {
		return nil, ErrServerClosed
	}
	defer s.wg.Done()
	if s.isDraining() {
		return nil, ErrShutdown
	}
	o, err := s.newOutbound(ctx, r)
	if err != nil {
		return nil, err
	}
	res, tx, err := o.ring(ctx)
	if err != nil {
		o.closePorts()
		o.log.Info("call not answered", "err", err.Error(), "after", time.Since(o.begin).Round(time.Millisecond))
		return nil, err
	}
	return o.answered(res, tx)
}

// newOutbound checks r and prepares its INVITE, with the RTP ports of the
// offer.
func (s *Server) newOutbound(ctx context.Context, r DialRequest) (*outbound, error) {
	var to siplib.Uri
	if err := siplib.ParseUri(r.To, &to); err != nil || !strings.EqualFold(to.Scheme, "sip") || to.Host == "" {
		return nil, fmt.Errorf("sip dial: to %q: want a sip URI with a host", r.To)
	}
	transport := "udp"
	if t, ok := to.UriParams.Get("transport"); ok {
		transport = strings.ToLower(t)
	}
	if !s.Addr(transport).IsValid() {
		return nil, fmt.Errorf("sip dial: to %q: no %s listener", r.To, transport)
	}
	o := &outbound{s: s, req: r, dest: r.Destination, begin: time.Now()}
	if r.Trunk != "" {
		i := slices.IndexFunc(s.trunks, func(t *trunk) bool { return t.name == r.Trunk })
		if i < 0 {
			return nil, fmt.Errorf("sip dial: no trunk named %q", r.Trunk)
		}
		o.trunk = s.trunks[i]
	}
	if !o.dest.IsValid() {
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", strings.Trim(to.Host, "[]"))
		if err != nil || len(addrs) == 0 {
			return nil, fmt.Errorf("%w: resolve %q: %w", ErrUnreachable, to.Host, err)
		}
		port := to.Port
		if port == 0 {
			port = 5060
		}
		o.dest = netip.AddrPortFrom(addrs[0].Unmap(), uint16(port))
	}
	headers, err := dialHeaders(r.Headers)
	if err != nil {
		return nil, err
	}

	var mediaIP netip.Addr
	o.sentBy, mediaIP = s.localAddrs(nil, transport, o.dest.Addr())
	o.contact = &siplib.ContactHeader{Address: siplib.Uri{Scheme: "sip", Host: o.sentBy.Addr().String(), Port: int(o.sentBy.Port())}}
	if transport == "tcp" {
		o.contact.Address.UriParams = siplib.NewParams()
		o.contact.Address.UriParams.Add("transport", "tcp")
	}
	if o.rtpConn, o.rtcpConn, err = s.ports.Listen(); err != nil {
		return nil, fmt.Errorf("sip dial: rtp ports: %w", err)
	}
	o.local = newLocalSDP(s.cfg.UserAgent, uint64(rand.Uint32()), mediaIP, o.rtpConn.LocalAddr().(*net.UDPAddr).Port)
	offer, err := o.local.offer()
	if err != nil {
		o.closePorts()
		return nil, err
	}

	inv := siplib.NewRequest(siplib.INVITE, to)
	inv.AppendHeader(o.via(transport))
	user := r.From.User
	if user == "" {
		user = "hotline"
	}
	from := &siplib.FromHeader{DisplayName: sanitizeDisplay(r.From.DisplayName),
		Address: siplib.Uri{Scheme: "sip", User: user, Host: o.sentBy.Addr().String()}, Params: siplib.NewParams()}
	from.Params.Add("tag", siplib.GenerateTagN(16))
	inv.AppendHeader(from)
	inv.AppendHeader(&siplib.ToHeader{Address: siplib.Uri{Scheme: "sip", User: to.User, Host: to.Host, Port: to.Port}})
	callID := siplib.CallIDHeader(siplib.GenerateTagN(32))
	inv.AppendHeader(&callID)
	inv.AppendHeader(&siplib.CSeqHeader{SeqNo: newLocalSeq(), MethodName: siplib.INVITE})
	maxFwd := siplib.MaxForwardsHeader(70)
	inv.AppendHeader(&maxFwd)
	inv.AppendHeader(o.contact)
	inv.AppendHeader(siplib.NewHeader("User-Agent", s.cfg.UserAgent))
	inv.AppendHeader(siplib.NewHeader("Allow", allowMethods))
	inv.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
	for _, h := range headers {
		inv.AppendHeader(h)
	}
	inv.SetBody(offer)
	inv.SetTransport(strings.ToUpper(transport))
	inv.SetDestination(o.dest.String())
	if transport == "udp" {
		// Leave from the listener, where the far end's requests come
		// back, not from a socket of sipgo's own.
		inv.Laddr = s.udpLocal()
	}
	o.invite = inv
	o.log = s.log.With("call_id", string(callID), "outbound", true)
	if o.trunk != nil {
		o.log = o.log.With("trunk", o.trunk.name)
	}
	return o, nil
}

// dialHeaders turns a request's extra headers into SIP headers, in name
// order.
func dialHeaders(in map[string]string) ([]siplib.Header, error) {
	out := make([]siplib.Header, 0, len(in))
	for _, name := range slices.Sorted(maps.Keys(in)) {
		if name == "" || strings.ContainsFunc(name, notTokenChar) || slices.Contains(reservedHeaders, strings.ToLower(name)) {
			return nil, fmt.Errorf("sip dial: header %q cannot be set", name)
		}
		v := strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, in[name])
		out = append(out, siplib.NewHeader(name, v))
	}
	return out, nil
}

// notTokenChar reports a rune that may not appear in a header name (RFC
// 3261 §25.1 token).
func notTokenChar(r rune) bool {
	return r > 0x7e || r <= 0x20 || !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-.!%*_+`'~", r))
}

// sanitizeDisplay keeps a display name inside its quotes.
func sanitizeDisplay(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func (o *outbound) via(transport string) *siplib.ViaHeader {
	via := &siplib.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       strings.ToUpper(transport),
		Host:            o.sentBy.Addr().String(),
		Port:            int(o.sentBy.Port()),
		Params:          siplib.NewParams(),
	}
	via.Params.Add("branch", siplib.GenerateBranchN(16))
	via.Params.Add("rport", "")
	return via
}

// udpLocal is the address of the UDP listener, for requests to leave from.
func (s *Server) udpLocal() siplib.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		if pc, ok := l.c.(net.PacketConn); ok {
			ua := pc.LocalAddr().(*net.UDPAddr)
			return siplib.Addr{IP: ua.IP, Port: ua.Port}
		}
	}
	return siplib.Addr{}
}

func (o *outbound) closePorts() {
	_ = o.rtpConn.Close()
	_ = o.rtcpConn.Close()
}

// ring sends the INVITE and waits for the final response, answering one
// challenge (two if the nonce was stale). When ctx ends, RingTimeout passes
// or the server closes, it cancels: CANCEL goes as soon as the far end has
// sent a provisional response (RFC 3261 §9.1), and the 487 is awaited for
// at most 64*T1. It returns the 2xx and the transaction that carried it.
func (o *outbound) ring(ctx context.Context) (*siplib.Response, siplib.ClientTransaction, error) {
	s := o.s
	o.log.Info("dialing", "to", o.req.To, "destination", o.dest, "transport", o.invite.Transport())
	tx, err := s.client.TransactionRequest(s.ctx, o.invite, asBuilt)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	fail := func(err error) (*siplib.Response, siplib.ClientTransaction, error) {
		tx.Terminate()
		return nil, nil, err
	}
	timeout := o.req.RingTimeout
	if timeout <= 0 {
		timeout = defaultRingTimeout
	}
	ringTimer := time.NewTimer(timeout)
	defer ringTimer.Stop()
	giveUpTimer := time.NewTimer(time.Hour)
	giveUpTimer.Stop()
	defer giveUpTimer.Stop()
	var (
		ringC, giveUp         <-chan time.Time = ringTimer.C, nil
		ctxDone                                = ctx.Done()
		cause                 error            // why we cancel, once we do
		provisional, canceled bool
		attempts              int
	)
	startCancel := func(why error) {
		cause, ctxDone, ringC = why, nil, nil
		if provisional {
			o.cancel()
			canceled = true
		}
		giveUpTimer.Reset(64 * s.t1)
		giveUp = giveUpTimer.C
	}
	for {
		select {
		case res := <-tx.Responses():
			switch {
			case res.IsProvisional():
				if res.StatusCode > 100 && !provisional {
					o.log.Info("ringing", "status", res.StatusCode)
				}
				provisional = true
				if cause != nil && !canceled {
					o.cancel()
					canceled = true
				}
			case res.IsSuccess():
				if cause != nil {
					// Answered as we canceled: take the call and end it.
					o.abandon(res, tx, cause)
					return nil, nil, cause
				}
				return res, tx, nil
			case (res.StatusCode == 401 || res.StatusCode == 407) && cause == nil && attempts < 2 &&
				o.trunk != nil && o.trunk.dialUser != "":
				attempts++
				if err := o.authorize(res); err != nil {
					return fail(err)
				}
				tx.Terminate()
				next, err := s.client.TransactionRequest(s.ctx, o.invite, asBuilt)
				if err != nil {
					return nil, nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
				}
				tx, provisional = next, false
			case cause != nil:
				return fail(cause)
			default:
				return fail(dialFailure(res))
			}
		case <-tx.Done():
			if cause != nil {
				return fail(cause)
			}
			return fail(fmt.Errorf("%w: %w", ErrUnreachable, tx.Err()))
		case <-ringC:
			startCancel(fmt.Errorf("%w in %s", ErrNoAnswer, timeout))
		case <-ctxDone:
			startCancel(fmt.Errorf("%w: %w", ErrCanceled, context.Cause(ctx)))
		case <-s.ctx.Done():
			if provisional && !canceled {
				o.cancel()
			}
			return fail(ErrShutdown)
		case <-giveUp:
			return fail(cause)
		}
	}
}

// cancel sends CANCEL for the INVITE, in the background: its answer does
// not matter, the INVITE's does.
func (o *outbound) cancel() {
	inv := o.invite
	c := siplib.NewRequest(siplib.CANCEL, inv.Recipient)
	c.AppendHeader(siplib.HeaderClone(inv.Via()))
	c.AppendHeader(siplib.HeaderClone(inv.From()))
	c.AppendHeader(siplib.HeaderClone(inv.To()))
	c.AppendHeader(siplib.HeaderClone(inv.CallID()))
	c.AppendHeader(&siplib.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: siplib.CANCEL})
	maxFwd := siplib.MaxForwardsHeader(70)
	c.AppendHeader(&maxFwd)
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	c.Laddr = inv.Laddr
	o.log.Info("canceling")
	o.s.goTracked(func() {
		ctx, stop := context.WithTimeout(o.s.ctx, 64*o.s.t1)
		defer stop()
		if _, err := o.s.do(ctx, c); err != nil {
			o.log.Debug("cancel not answered", "err", err)
		}
	})
}

// authorize answers the challenge in res with the trunk's outbound
// credentials: the INVITE gets Authorization (401) or Proxy-Authorization
// (407), a new CSeq and a new branch.
func (o *outbound) authorize(res *siplib.Response) error {
	inv := o.invite
	challenge, answer := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		challenge, answer = "Proxy-Authenticate", "Proxy-Authorization"
	}
	chal, err := digest.ParseChallenge(headerValue(res, challenge))
	if err != nil {
		return &DialError{Code: res.StatusCode, Reason: res.Reason, err: fmt.Errorf("%w: %w", ErrUnauthorized, err)}
	}
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	cred, err := digest.Digest(chal, digest.Options{Method: string(siplib.INVITE), URI: inv.Recipient.String(),
		Username: o.trunk.dialUser, Password: o.trunk.dialPassword, Count: 1})
	if err != nil {
		return &DialError{Code: res.StatusCode, Reason: res.Reason, err: fmt.Errorf("%w: %w", ErrUnauthorized, err)}
	}
	o.log.Info("answering challenge", "status", res.StatusCode, "username", o.trunk.dialUser)
	inv.RemoveHeader(answer)
	inv.AppendHeader(siplib.NewHeader(answer, cred.String()))
	inv.CSeq().SeqNo++
	inv.RemoveHeader("Via")
	inv.PrependHeader(o.via(inv.Transport()))
	return nil
}

// dialog builds the confirmed dialog a 2xx to our INVITE establishes
// (RFC 3261 §12.1.2), seen from the UAS side as dialog wants it: the far
// end's To becomes the From of invite, its Contact the remote target and
// its Record-Route, reversed, the route set.
func (o *outbound) dialog(res *siplib.Response) *dialog {
	inv := o.invite
	view := siplib.NewRequest(siplib.INVITE, inv.Recipient)
	far := res.To().AsFrom()
	us := inv.From().AsTo()
	view.AppendHeader(&far)
	view.AppendHeader(&us)
	view.AppendHeader(siplib.HeaderClone(inv.CallID()))
	view.AppendHeader(siplib.HeaderClone(inv.CSeq()))
	if c := res.Contact(); c != nil && c.Address.Host != "" {
		view.AppendHeader(siplib.HeaderClone(c))
	} else {
		view.AppendHeader(&siplib.ContactHeader{Address: *inv.Recipient.Clone()})
	}
	rr := res.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		view.AppendHeader(siplib.NewHeader("Record-Route", rr[i].Value()))
	}
	view.SetTransport(inv.Transport())

	localTag, _ := inv.From().Params.Get("tag")
	remoteTag, _ := res.To().Params.Get("tag")
	ctx, cancel := context.WithCancelCause(o.s.ctx)
	d := &dialog{
		s:         o.s,
		callID:    inv.CallID().Value(),
		localTag:  localTag,
		remoteTag: remoteTag,
		invite:    view,
		contact:   o.contact,
		sentBy:    o.sentBy,
		trunk:     o.trunk,
		outbound:  true,
		src:       o.dest,
		log:       o.log,
		ctx:       ctx,
		cancel:    cancel,
		begin:     o.begin,
		changed:   make(chan struct{}),
		localSeq:  inv.CSeq().SeqNo,
		rtpConn:   o.rtpConn,
		rtcpConn:  o.rtcpConn,
		local:     o.local,
		state:     stateAnswered,
	}
	d.key = dialogKey(d.callID, d.localTag, d.remoteTag)
	return d
}

// ack acknowledges the 2xx on tx, and every retransmission of it while the
// transaction lasts (64*T1), since the ACK travels outside it.
func (o *outbound) ack(d *dialog, tx siplib.ClientTransaction) {
	ack := d.requestSeq(siplib.ACK, o.invite.CSeq().SeqNo)
	again := ack.Clone()
	tx.OnRetransmission(func(r *siplib.Response) {
		if r.IsSuccess() {
			if err := o.s.client.WriteRequest(again.Clone(), asBuilt); err != nil {
				d.log.Debug("ack retransmission failed", "err", err)
			}
		}
	})
	if err := o.s.client.WriteRequest(ack, asBuilt); err != nil {
		d.log.Warn("ack not sent", "err", err)
	}
}

// abandon acknowledges a 2xx we no longer want and hangs up at once.
func (o *outbound) abandon(res *siplib.Response, tx siplib.ClientTransaction, cause error) {
	d := o.dialog(res)
	o.ack(d, tx)
	ctx, cancel := context.WithTimeout(o.s.ctx, o.s.byeTimeout)
	defer cancel()
	_ = d.hangup(ctx, cause)
	tx.Terminate()
	d.release()
}

// answered turns the 2xx into a running call: ACK, the SDP answer, the
// dialog registered for in-dialog requests, the leg started.
func (o *outbound) answered(res *siplib.Response, tx siplib.ClientTransaction) (*OutboundCall, error) {
	s := o.s
	d := o.dialog(res)
	o.ack(d, tx)
	rang := time.Since(o.begin)

	fail := func(err error) (*OutboundCall, error) {
		d.log.Warn("answered call dropped", "err", err.Error())
		ctx, cancel := context.WithTimeout(s.ctx, s.byeTimeout)
		defer cancel()
		_ = d.hangup(ctx, err)
		tx.Terminate()
		d.release()
		return nil, err
	}
	if d.remoteTag == "" {
		return fail(fmt.Errorf("%w: 2xx without a To tag", ErrRejected))
	}
	body, err := sdpBody(res)
	if err == nil && body == nil {
		err = errNoSDP
	}
	var far farMedia
	if err == nil {
		far, err = parseAnswer(body, offeredFormats())
	}
	if err != nil {
		return fail(fmt.Errorf("%w: sdp answer: %w", ErrRejected, err))
	}
	if err := s.addDialog(d); err != nil {
		return fail(err)
	}
	to := o.invite.To()
	call := &Call{
		From:       o.req.From,
		To:         partyOf(res.To().DisplayName, to.Address),
		RemoteAddr: o.dest,
		Log:        d.log,
		d:          d,
	}
	if call.From.User == "" {
		call.From.User = o.invite.From().Address.User
	}
	if o.trunk != nil {
		call.Trunk = o.trunk.name
	}
	if !s.startLeg(d, far, call, func(ctx context.Context, _ *Call) {
		<-ctx.Done()
		tx.Terminate()
	}) {
		tx.Terminate()
		d.release()
		return nil, fmt.Errorf("sip dial: %w", context.Cause(d.ctx))
	}
	return &OutboundCall{Call: call, Ringing: rang}, nil
}
