package sip

import (
	"errors"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// beginOffer marks an offer/answer exchange in progress on a confirmed
// dialog; false answers the request itself (481 once ended, else 491). A
// request arriving while the ACK closing the previous exchange is still in
// flight waits up to T1 for it rather than failing at once.
func (s *Server) beginOffer(d *dialog, req *siplib.Request, tx siplib.ServerTransaction) (farMedia, bool) {
	wait := time.NewTimer(s.t1)
	defer wait.Stop()
	for {
		d.mu.Lock()
		switch {
		case d.state == stateEnded:
			d.mu.Unlock()
			s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
			return farMedia{}, false
		case d.state == stateConfirmed && !d.busy:
			d.busy = true
			far := d.far
			d.mu.Unlock()
			return far, true
		}
		changed := d.changed
		d.mu.Unlock()
		select {
		case <-changed:
			continue
		case <-wait.C:
		case <-d.ctx.Done():
			continue
		}
		// RFC 3261 §14.2 and RFC 6337: one offer/answer at a time.
		res := siplib.NewResponseFromRequest(req, 491, "Request Pending", nil)
		res.AppendHeader(siplib.NewHeader("Retry-After", "1"))
		s.send(tx, res)
		return farMedia{}, false
	}
}

func (d *dialog) endOffer() {
	d.mu.Lock()
	d.busy = false
	d.notifyLocked()
	d.mu.Unlock()
}

// onReInvite serves a re-INVITE: hold, resume, a new address or codec, or
// a session refresh. With an offer we answer in the 200 and switch media at
// once; without one we offer our current description in the 200 and take
// the answer from the ACK. A failed negotiation leaves the session as it
// was (RFC 3264 §8); a missing ACK or answer ends the call with BYE.
func (s *Server) onReInvite(d *dialog, req *siplib.Request, tx siplib.ServerTransaction) {
	cur, ok := s.beginOffer(d, req, tx)
	if !ok {
		return
	}
	defer d.endOffer()

	offer, err := sdpBody(req)
	if err != nil {
		res := siplib.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil)
		res.AppendHeader(siplib.NewHeader("Accept", "application/sdp"))
		s.send(tx, res)
		return
	}
	var far farMedia
	var body []byte
	if offer != nil {
		if far, err = parseOffer(offer); err != nil {
			s.rejectSDP(tx, req, err, d.log)
			return
		}
		body, err = d.local.answer(far)
	} else {
		body, err = d.local.reoffer(cur)
	}
	if err != nil {
		d.log.Error("cannot render sdp", "err", err)
		s.respond(tx, req, 500, "Server Internal Error")
		return
	}

	res := s.okFor(d, req, body)
	p := d.expectAck(req)
	if err := tx.Respond(res); err != nil {
		d.log.Warn("re-invite answer not sent", "err", err)
		return
	}
	s.m.SIPResponse(res.StatusCode)
	if offer != nil {
		d.applyMedia(far)
	}
	ack, err := d.waitAck(tx, res, p)
	if err != nil {
		if errors.Is(err, ErrNoACK) {
			d.log.Warn("no ack for re-invite 200 ok, hanging up")
			s.hangupNow(d, err)
		}
		return
	}
	if offer == nil {
		offered := []format{cur.Codec}
		if cur.DTMF.Name != "" {
			offered = append(offered, cur.DTMF)
		}
		far, err := s.answerFromAck(d, ack, offered)
		if err != nil {
			s.hangupNow(d, err)
			return
		}
		d.applyMedia(far)
	}
}

// onUpdate serves UPDATE (RFC 3311) in a confirmed dialog: with an offer,
// as a re-INVITE without the ACK; without one, a session refresh.
func (s *Server) onUpdate(d *dialog, req *siplib.Request, tx siplib.ServerTransaction) {
	if _, ok := s.beginOffer(d, req, tx); !ok {
		return
	}
	defer d.endOffer()
	offer, err := sdpBody(req)
	if err != nil {
		res := siplib.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil)
		res.AppendHeader(siplib.NewHeader("Accept", "application/sdp"))
		s.send(tx, res)
		return
	}
	if offer == nil {
		s.send(tx, s.okFor(d, req, nil))
		return
	}
	far, err := parseOffer(offer)
	if err != nil {
		s.rejectSDP(tx, req, err, d.log)
		return
	}
	body, err := d.local.answer(far)
	if err != nil {
		d.log.Error("cannot render sdp", "err", err)
		s.respond(tx, req, 500, "Server Internal Error")
		return
	}
	s.send(tx, s.okFor(d, req, body))
	d.applyMedia(far)
}
