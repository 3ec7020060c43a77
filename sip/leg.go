package sip

import (
	"context"
	"errors"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/hotline-cc/hotline/media"
)

// leg is a SIP call as a media.Leg: the paced Stream over the call's RTP
// session, with the Call-ID as ID and BYE as Hangup.
type leg struct {
	*media.Stream
	d *dialog
}

var _ media.Leg = (*leg)(nil)

// ID is the SIP Call-ID.
func (l *leg) ID() string { return l.d.callID }

// Hangup ends the call with BYE and waits, within ctx, for its answer.
func (l *leg) Hangup(ctx context.Context) error { return l.d.hangup(ctx, ErrHangup) }

// mediaCodec is the media codec for a negotiated format.
func mediaCodec(f format) media.Codec {
	if strings.EqualFold(f.Name, fmtPCMA.Name) {
		return media.PCMA
	}
	return media.PCMU
}

// mediaDir is the RTP session direction for an SDP direction.
func mediaDir(d sdp.Direction) media.Direction {
	switch d {
	case sdp.DirectionSendOnly:
		return media.SendOnly
	case sdp.DirectionRecvOnly:
		return media.RecvOnly
	case sdp.DirectionInactive:
		return media.Inactive
	default:
		return media.SendRecv
	}
}

// rtpConfig is the RTP session configuration for what the far end's SDP
// says: inactivity is watched only while the far end is meant to send.
func (d *dialog) rtpConfig(f farMedia) media.RTPConfig {
	cfg := media.RTPConfig{
		Codec:     mediaCodec(f.Codec),
		Direction: mediaDir(f.localDir()),
		OnDigit:   d.pushDigit,
		OnTimeout: d.onRTPTimeout,
		Logger:    d.log,
	}
	if a := f.Addr.Addr(); a.IsValid() && !a.IsUnspecified() {
		cfg.Remote = f.Addr
	}
	if f.DTMF.Name != "" {
		cfg.DTMFPayloadType = f.DTMF.PT
	}
	if f.expectRTP() {
		cfg.InactivityTimeout = d.s.cfg.RTPTimeout
	}
	return cfg
}

func (d *dialog) onRTPTimeout() {
	d.log.Warn("no rtp from caller, hanging up", "timeout", d.s.cfg.RTPTimeout)
	d.s.goTracked(func() { d.s.hangupNow(d, ErrRTPTimeout) })
}

// startCall starts media for a confirmed inbound dialog and runs the
// handler; false if the call ended first (the caller then releases the
// dialog).
func (s *Server) startCall(d *dialog, far farMedia, h Handler) bool {
	inv := d.invite
	call := &Call{
		From:       partyOf(inv.From().DisplayName, inv.From().Address),
		To:         partyOf(inv.To().DisplayName, inv.To().Address),
		Trunk:      d.trunk.name,
		RemoteAddr: d.src,
		Log:        d.log,
		d:          d,
	}
	if h == nil {
		h = s.handler
	}
	return s.startLeg(d, far, call, func(ctx context.Context, c *Call) { s.serveHandler(ctx, c, h) })
}

// startLeg gives a confirmed dialog its leg, as call.Leg, and hands the
// call to runCall, which serves it with serve; false if the call ended
// first (the caller then releases the dialog).
func (s *Server) startLeg(d *dialog, far farMedia, call *Call, serve func(context.Context, *Call)) bool {
	sess := media.NewRTPSession(d.rtpConn, d.rtcpConn, d.rtpConfig(far))
	l := &leg{Stream: media.NewStream(far.Codec.Rate, sess), d: d}
	call.Leg = l
	d.mu.Lock()
	d.rtp = sess // release closes it from now on, whatever happens
	if d.state == stateEnded {
		d.mu.Unlock()
		return false
	}
	d.state = stateConfirmed
	d.notifyLocked()
	d.far = far
	d.leg = l
	d.call = call
	d.mu.Unlock()
	if !s.enter() {
		s.hangupNow(d, ErrShutdown)
		return false
	}
	go s.runCall(d, serve)
	return true
}

// runCall owns a confirmed call: it runs the RTP session and the Stream
// clock, serves the call, hangs up if serve left the call up, and releases
// the ports.
func (s *Server) runCall(d *dialog, serve func(context.Context, *Call)) {
	defer s.wg.Done()
	defer d.release()
	ctx := d.ctx
	d.mu.Lock()
	sess, l, call, far := d.rtp, d.leg, d.call, d.far
	d.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := sess.Run(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("rtp session failed", "err", err)
			s.goTracked(func() { s.hangupNow(d, err) })
		}
	}()
	go func() {
		defer wg.Done()
		l.Run(ctx)
	}()
	d.log.Info("call answered", "outbound", d.outbound, "codec", far.Codec.Name, "pt", far.Codec.PT, "remote_rtp", far.Addr,
		"local_rtp", sess.LocalAddr(), "dtmf", far.DTMF.Name != "")

	serve(ctx, call)
	s.hangupNow(d, ErrHangup)
	wg.Wait()
	clock := l.Stats()
	s.countMedia(sess.Stats(), clock.Late)
	d.log.Info("call ended", "cause", context.Cause(ctx).Error(),
		"duration", time.Since(d.begin).Round(time.Millisecond), "rtp", sess.Stats(),
		"frames", clock.Ticks, "late_frames", clock.Late, "skipped_frames", clock.Skipped)
}

// serveHandler runs h, containing a panic to its own call.
func (s *Server) serveHandler(ctx context.Context, call *Call, h Handler) {
	defer func() {
		if p := recover(); p != nil {
			call.Log.Error("panic in call handler", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	h(ctx, call)
}

// applyMedia switches the running session to what a new offer/answer agreed.
func (d *dialog) applyMedia(far farMedia) {
	d.mu.Lock()
	old := d.far
	d.far = far
	sess := d.rtp
	d.mu.Unlock()
	if sameMedia(old, far) {
		return
	}
	if sess != nil {
		sess.Update(d.rtpConfig(far))
	}
	d.log.Info("media updated", "hold", far.Hold(), "direction", far.localDir().String(),
		"remote_rtp", far.Addr, "codec", far.Codec.Name)
}

func sameMedia(a, b farMedia) bool {
	return a.Addr == b.Addr && a.Dir == b.Dir && a.Codec == b.Codec && a.DTMF == b.DTMF
}

func (d *dialog) sendDigit(dg media.Digit) error {
	d.mu.Lock()
	sess, far, st := d.rtp, d.far, d.state
	d.mu.Unlock()
	switch {
	case st != stateConfirmed || sess == nil:
		return media.ErrHangup
	case far.DTMF.Name == "":
		return errNoTelephoneEvent
	}
	return sess.SendDigit(dg)
}

var errNoTelephoneEvent = errors.New("sip: caller did not offer telephone-event")

// partyOf reads a From or To header into a Party.
func partyOf(display string, u siplib.Uri) Party {
	user := u.User
	if user == "" && u.Host == "" {
		user = u.Raw() // tel: and other non-SIP URIs
	}
	return Party{User: user, DisplayName: display}
}

// countMedia adds an ended call's RTP quality to the metrics.
func (s *Server) countMedia(st media.RTPStats, late uint64) {
	if s.m == nil {
		return
	}
	s.m.RTPPacketsLost(int(max(st.Lost, 0)))
	s.m.RTPJitter(st.Jitter)
	for range late {
		s.m.LateFrame()
	}
}
