package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/netip"
	"strings"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// errUnsupportedBody is an INVITE body that is not SDP.
var errUnsupportedBody = errors.New("body is not application/sdp")

// onInvite serves an INVITE outside any dialog: a new call. It runs on the
// transaction's goroutine until the call is confirmed by the ACK, then
// hands the call to runCall.
func (s *Server) onInvite(req *siplib.Request, tx siplib.ServerTransaction, tr *trunk, src netip.AddrPort) {
	callID := req.CallID().Value()
	log := s.log.With("call_id", callID, "trunk", tr.name)

	if s.isDraining() {
		log.Info("call refused: shutting down", "source", src)
		s.refuse(tx, req)
		return
	}
	if tr.auth != nil && !s.authorize(req, tx, tr.auth, src, "trunk", tr.name) {
		return
	}
	offer, err := sdpBody(req)
	if err != nil {
		log.Info("call refused: body is not sdp", "content_type", headerValue(req, "Content-Type"))
		res := siplib.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil)
		res.AppendHeader(siplib.NewHeader("Accept", "application/sdp"))
		s.send(tx, res)
		return
	}
	var far farMedia
	if offer != nil {
		if far, err = parseOffer(offer); err != nil {
			s.rejectSDP(tx, req, err, log)
			return
		}
	}

	d, err := s.newDialog(req, tx, tr, src, log)
	if err != nil {
		if errors.Is(err, ErrShutdown) || errors.Is(err, errAtCapacity) {
			log.Info("call refused", "reason", err.Error())
			s.refuse(tx, req)
			return
		}
		log.Error("call refused: no rtp port", "err", err)
		s.respond(tx, req, 503, "Service Unavailable")
		return
	}
	started := false
	defer func() {
		if !started {
			d.release()
		}
	}()
	if !tx.OnCancel(func(*siplib.Request) { d.terminate(ErrCanceled) }) {
		d.terminate(ErrCanceled)
	}
	log.Info("incoming call", "from", req.From().Address.String(), "to", req.To().Address.String(),
		"source", src, "late_offer", offer == nil)

	s.respond(tx, req, 100, "Trying")
	ringing := siplib.NewResponseFromRequest(d.invite, 180, "Ringing", nil)
	ringing.AppendHeader(siplib.HeaderClone(d.contact))
	s.send(tx, ringing)
	serve, refused := s.screenCall(d, tx, req, src)
	if refused {
		return
	}
	wait := s.ringTime
	if serve != nil {
		wait = 0 // the screen rang already
	}
	if !s.ring(d, tx, wait) {
		s.endEarly(d, tx)
		return
	}

	var body []byte
	if offer != nil {
		body, err = d.local.answer(far)
	} else {
		body, err = d.local.offer()
	}
	if err != nil {
		log.Error("call refused: cannot render sdp", "err", err)
		d.terminate(err)
		s.respond(tx, d.invite, 500, "Server Internal Error")
		return
	}
	res := s.okWithSDP(d, body)
	d.mu.Lock()
	if d.state != stateEarly {
		d.mu.Unlock()
		s.endEarly(d, tx)
		return
	}
	d.state = stateAnswered
	d.mu.Unlock()
	p := d.expectAck(req)
	if err := tx.Respond(res); err != nil {
		log.Info("call ended before answer", "err", err)
		d.terminate(ErrCanceled)
		return
	}
	s.m.SIPResponse(res.StatusCode)

	ack, err := d.waitAck(tx, res, p)
	if err != nil {
		if errors.Is(err, ErrNoACK) {
			log.Warn("no ack for 200 ok, hanging up", "waited", 64*s.t1)
		}
		s.hangupNow(d, err)
		return
	}
	if offer == nil {
		far, err = s.answerFromAck(d, ack, offeredFormats())
		if err != nil {
			s.hangupNow(d, err)
			return
		}
	}
	started = s.startCall(d, far, serve)
}

// ring waits wait (ring_time); false if the call ended meanwhile.
func (s *Server) ring(d *dialog, tx siplib.ServerTransaction, wait time.Duration) bool {
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-d.ctx.Done():
		case <-tx.Done():
		}
	}
	select {
	case <-tx.Done():
		d.terminate(ErrCanceled)
	default:
	}
	return d.getState() == stateEarly
}

// endEarly sends the final response for a call that ended before answer.
// CANCEL needs none: the transaction layer already sent 487.
func (s *Server) endEarly(d *dialog, tx siplib.ServerTransaction) {
	d.terminate(ErrCanceled)
	cause := context.Cause(d.ctx)
	switch {
	case errors.Is(cause, ErrShutdown):
		s.refuse(tx, d.invite)
	case errors.Is(cause, ErrRemoteHangup):
		s.respond(tx, d.invite, 487, "Request Terminated")
	}
	d.log.Info("call ended before answer", "cause", cause.Error())
}

// refuse answers 503 with Retry-After: we are shutting down or full.
func (s *Server) refuse(tx siplib.ServerTransaction, req *siplib.Request) {
	res := siplib.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
	res.AppendHeader(siplib.NewHeader("Retry-After", s.retryAfter()))
	s.send(tx, res)
}

// hangupNow ends an answered dialog that never got going, with BYE.
func (s *Server) hangupNow(d *dialog, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.byeTimeout)
	defer cancel()
	_ = d.hangup(ctx, cause)
}

// rejectSDP answers an offer we cannot use: 488 with a Warning saying why.
func (s *Server) rejectSDP(tx siplib.ServerTransaction, req *siplib.Request, err error, log *slog.Logger) {
	var se *sdpError
	if !errors.As(err, &se) {
		se = &sdpError{reason: err.Error(), err: err}
	}
	log.Info("sdp not acceptable", "reason", se.reason)
	res := siplib.NewResponseFromRequest(req, se.status(), "Not Acceptable Here", nil)
	res.AppendHeader(siplib.NewHeader("Warning", se.warning(s.cfg.UserAgent)))
	s.send(tx, res)
}

// answerFromAck reads the SDP answer an ACK carries after we offered.
func (s *Server) answerFromAck(d *dialog, ack *siplib.Request, offered []format) (farMedia, error) {
	body, err := sdpBody(ack)
	if err == nil && body == nil {
		err = errNoSDP
	}
	if err != nil {
		d.log.Warn("ack carries no sdp answer to our offer", "err", err)
		return farMedia{}, err
	}
	far, err := parseAnswer(body, offered)
	if err != nil {
		d.log.Warn("sdp answer in ack not acceptable", "err", err)
		return farMedia{}, err
	}
	return far, nil
}

// okWithSDP builds the 200 OK to the dialog's INVITE carrying body.
func (s *Server) okWithSDP(d *dialog, body []byte) *siplib.Response {
	return s.okFor(d, d.invite, body)
}

func (s *Server) okFor(d *dialog, req *siplib.Request, body []byte) *siplib.Response {
	if to := req.To(); to != nil && !to.Params.Has("tag") {
		req = req.Clone()
		req.To().Params.Add("tag", d.localTag)
	}
	res := siplib.NewResponseFromRequest(req, 200, "OK", body)
	res.AppendHeader(siplib.HeaderClone(d.contact))
	res.AppendHeader(siplib.NewHeader("Allow", allowMethods))
	res.AppendHeader(siplib.NewHeader("Server", s.cfg.UserAgent))
	if body != nil {
		res.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
	}
	return res
}

// newDialog creates and registers the dialog for a new INVITE, with an
// RTP port pair.
func (s *Server) newDialog(req *siplib.Request, tx siplib.ServerTransaction, tr *trunk, src netip.AddrPort, log *slog.Logger) (*dialog, error) {
	localTag := siplib.GenerateTagN(16)
	inv := req.Clone()
	inv.To().Params.Add("tag", localTag)
	fromTag, _ := inv.From().Params.Get("tag")
	sentBy, mediaIP := s.localAddrs(tx, req.Transport(), src.Addr())

	contact := &siplib.ContactHeader{Address: siplib.Uri{
		Scheme: "sip",
		Host:   sentBy.Addr().String(),
		Port:   int(sentBy.Port()),
	}}
	if siplib.IsReliable(req.Transport()) {
		contact.Address.UriParams = siplib.NewParams()
		contact.Address.UriParams.Add("transport", strings.ToLower(req.Transport()))
	}
	ctx, cancel := context.WithCancelCause(s.ctx)
	d := &dialog{
		s:         s,
		callID:    inv.CallID().Value(),
		localTag:  localTag,
		remoteTag: fromTag,
		invite:    inv,
		contact:   contact,
		sentBy:    sentBy,
		trunk:     tr,
		src:       src,
		log:       log,
		ctx:       ctx,
		cancel:    cancel,
		begin:     time.Now(),
		changed:   make(chan struct{}),
		remoteSeq: inv.CSeq().SeqNo,
		localSeq:  newLocalSeq(),
	}
	d.key = dialogKey(d.callID, d.localTag, d.remoteTag)
	if err := s.addDialog(d); err != nil {
		cancel(err)
		return nil, err
	}
	rtpConn, rtcpConn, err := s.ports.Listen()
	if err != nil {
		cancel(err)
		s.removeDialog(d)
		return nil, fmt.Errorf("rtp ports: %w", err)
	}
	d.rtpConn, d.rtcpConn = rtpConn, rtcpConn
	port := rtpConn.LocalAddr().(*net.UDPAddr).Port
	d.local = newLocalSDP(s.cfg.UserAgent, uint64(rand.Uint32()), mediaIP, port)
	return d, nil
}

// sdpBody returns the SDP in a message body: the whole body when it is
// application/sdp (or untyped and looks like SDP), or the SDP part of a
// multipart body. No body is (nil, nil).
func sdpBody(req interface {
	Body() []byte
	GetHeader(string) siplib.Header
}) ([]byte, error) {
	body := req.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	ct := headerValue(req, "Content-Type")
	if ct == "" {
		if bytes.HasPrefix(body, []byte("v=0")) {
			return body, nil
		}
		return nil, errUnsupportedBody
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, errUnsupportedBody
	}
	switch {
	case mt == "application/sdp":
		return body, nil
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				return nil, errUnsupportedBody
			}
			pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
			if pt == "application/sdp" {
				b, err := io.ReadAll(io.LimitReader(part, 64<<10))
				if err != nil {
					return nil, errUnsupportedBody
				}
				return b, nil
			}
		}
	}
	return nil, errUnsupportedBody
}

// localAddrs picks the addresses we advertise for a request that came in
// on tx from remote: sent-by for Contact and Via, and the SDP c= address.
func (s *Server) localAddrs(tx siplib.ServerTransaction, transport string, remote netip.Addr) (sig netip.AddrPort, mediaIP netip.Addr) {
	var local netip.AddrPort
	if c, ok := tx.(interface{ Connection() siplib.Connection }); ok && c.Connection() != nil {
		if ap, err := netip.ParseAddrPort(c.Connection().LocalAddr().String()); err == nil {
			local = unmapAP(ap)
		}
	}
	if !local.IsValid() {
		local = s.Addr(strings.ToLower(transport))
	}
	ip := local.Addr()
	switch {
	case s.extIP.IsValid():
		ip = s.extIP
	case !ip.IsValid() || ip.IsUnspecified():
		ip = routeIP(remote)
	}
	sig = netip.AddrPortFrom(ip, local.Port())
	mediaIP = ip
	if !s.extIP.IsValid() && s.rtpIP.IsValid() && !s.rtpIP.IsUnspecified() {
		mediaIP = s.rtpIP
	}
	return sig, mediaIP
}

// routeIP is the local address the kernel would use to reach remote.
func routeIP(remote netip.Addr) netip.Addr {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(remote, 9)))
	if err != nil {
		if remote.Is4() {
			return netip.IPv4Unspecified()
		}
		return netip.IPv6Unspecified()
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
}
