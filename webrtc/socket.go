package webrtc

import (
	"encoding/json"
	"errors"
	"github.com/hotline-cc/hotline/internal/ratelimit"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// outQueue is how many messages may wait for the socket; a page that
// reads slower than this is gone.
const outQueue = 64

// socket is one signaling WebSocket: its reader runs in the HTTP handler's
// goroutine, its writer (which also pings) in a goroutine of its own. A
// call outlives its socket when resume is on.
type socket struct {
	s      *Server
	conn   *websocket.Conn
	remote netip.AddrPort
	ident  Identity
	log    *slog.Logger
	// phone: an agent's phone, which stays open between calls.
	phone bool
	ring  *agentRing // the call ringing here; guarded by Server.mu

	out     chan Message
	closing chan closeReq // the writer's last job: drain out, send close
	done    chan struct{} // closed when the writer has closed the conn
	once    sync.Once

	// Reader side: touched by the reader goroutine only.
	call    *Call
	errors  int
	msgRate ratelimit.Bucket
}

type closeReq struct {
	code int
	text string
}

func newSocket(s *Server, conn *websocket.Conn, remote netip.AddrPort, ident Identity) *socket {
	return &socket{
		s:       s,
		conn:    conn,
		remote:  remote,
		ident:   ident,
		log:     s.log.With("remote", remote.String()),
		out:     make(chan Message, outQueue),
		closing: make(chan closeReq, 1),
		done:    make(chan struct{}),
	}
}

// send queues m; a socket whose queue is full is closed, since a page
// that stopped reading would otherwise hold the call's messages forever.
func (k *socket) send(m Message) {
	m.V = Version
	select {
	case k.out <- m:
	default:
		k.log.Warn("signaling socket not reading, closing it")
		k.close(websocket.ClosePolicyViolation, "not reading")
	}
}

// close asks the writer to send what is queued, then a close frame with
// code, then close the connection. Only the first request counts.
func (k *socket) close(code int, text string) {
	k.once.Do(func() { k.closing <- closeReq{code, text} })
}

// writeLoop owns every write to the connection: queued messages, pings
// and the final close frame.
func (k *socket) writeLoop() {
	defer close(k.done)
	defer k.conn.Close()
	cfg := k.s.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case m := <-k.out:
			if err := k.write(m); err != nil {
				k.log.Debug("signaling write failed", "err", err)
				return
			}
		case <-ping.C:
			if err := k.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteTimeout)); err != nil {
				k.log.Debug("signaling ping failed", "err", err)
				return
			}
		case req := <-k.closing:
			for drained := false; !drained; {
				select {
				case m := <-k.out:
					if k.write(m) != nil {
						return
					}
				default:
					drained = true
				}
			}
			msg := websocket.FormatCloseMessage(req.code, req.text)
			_ = k.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(cfg.WriteTimeout))
			return
		}
	}
}

func (k *socket) write(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_ = k.conn.SetWriteDeadline(time.Now().Add(k.s.cfg.WriteTimeout))
	return k.conn.WriteMessage(websocket.TextMessage, b)
}

// readLoop reads and dispatches messages until the socket fails, closes
// or has been abusive; it runs in the HTTP handler's goroutine. A socket
// that sends no offer or resume within OfferTimeout is closed.
func (k *socket) readLoop() {
	cfg := k.s.cfg
	limit := cfg.MaxMessageBytes
	k.conn.SetReadLimit(int64(4 * limit))
	offerBy := time.Now().Add(cfg.OfferTimeout)
	extend := func() {
		d := time.Now().Add(cfg.PingInterval + cfg.PongTimeout)
		if k.call == nil && !k.phone && offerBy.Before(d) {
			d = offerBy
		}
		_ = k.conn.SetReadDeadline(d)
	}
	extend()
	// The pong handler runs inside NextReader, on this goroutine.
	k.conn.SetPongHandler(func(string) error { extend(); return nil })
	for {
		typ, r, err := k.conn.NextReader()
		if err != nil {
			k.readEnded(err, offerBy)
			return
		}
		extend()
		b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
		if err == nil && len(b) > limit {
			// Drain it within the hard limit, so the next frame is found.
			_, err = io.Copy(io.Discard, r)
		}
		if err != nil {
			k.readEnded(err, offerBy)
			return
		}
		switch {
		case typ != websocket.TextMessage:
			k.refuse(protoErr(CodeBadMessage, "binary frame"))
		case len(b) > limit:
			k.refuse(protoErr(CodeTooBig, "message over %d bytes", limit))
		default:
			if ok, _ := k.msgRate.Take(time.Now(), cfg.MessageRate, float64(cfg.MessageBurst)); !ok {
				k.refuse(protoErr(CodeRateLimited, "more than %g messages a second", cfg.MessageRate))
				continue
			}
			m, err := DecodeMessage(b)
			if err != nil {
				k.refuse(err)
				continue
			}
			if err := k.dispatch(m); err != nil {
				k.refuse(err)
			}
			extend() // an offer or resume lifts the offer deadline
		}
	}
}

// readEnded closes the socket after the read side failed, with a code
// that says why when it was not the page that closed it.
func (k *socket) readEnded(err error, offerBy time.Time) {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		k.log.Debug("signaling closed by page", "code", ce.Code)
		k.close(websocket.CloseNormalClosure, "")
	case errors.Is(err, websocket.ErrReadLimit):
		k.close(websocket.CloseMessageTooBig, "message too big")
	case k.call == nil && !k.phone && !time.Now().Before(offerBy):
		k.close(websocket.ClosePolicyViolation, "no offer in time")
	default:
		k.log.Debug("signaling read failed", "err", err)
		k.close(websocket.CloseGoingAway, "")
	}
}

// refuse answers a bad message with an error message and closes the socket
// once it has sent MaxErrors of them.
func (k *socket) refuse(err error) {
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		pe = &ProtocolError{Code: CodeFailed, Detail: err.Error()}
	}
	k.errors++
	k.log.Info("signaling message refused", "code", pe.Code, "detail", pe.Detail, "errors", k.errors)
	k.send(Message{Type: TypeError, Code: pe.Code, Message: pe.Detail})
	if k.errors >= k.s.cfg.MaxErrors {
		k.log.Warn("signaling socket closed for repeated bad messages", "errors", k.errors)
		k.close(websocket.ClosePolicyViolation, "too many bad messages")
	}
}

// dispatch acts on one valid message.
func (k *socket) dispatch(m Message) error {
	if m.Type == TypePing {
		k.send(Message{Type: TypePong})
		return nil
	}
	if k.phone && k.call != nil && k.call.ctx.Err() != nil {
		k.call = nil // the phone's last call is over: it takes the next
	}
	switch c := k.call; {
	case (m.Type == TypeAccept || m.Type == TypeReject) && !k.phone:
		return protoErr(CodeBadState, "%s on a caller's socket", m.Type)
	case m.Type == TypeAccept || m.Type == TypeReject:
		return k.s.answerRing(k, m)
	case m.Type == TypeOffer && c == nil && k.phone:
		r, err := k.s.acceptedRing(k)
		if err != nil {
			return err
		}
		return k.s.startCall(k, m.SDP, r.deliver)
	case m.Type == TypeOffer && c == nil:
		return k.s.startCall(k, m.SDP, nil)
	case m.Type == TypeResume && c == nil:
		return k.s.resume(k, m.Session, m.Token)
	case m.Type == TypeOffer || m.Type == TypeResume:
		return protoErr(CodeBadState, "%s on a socket that has a call", m.Type)
	case c == nil:
		return protoErr(CodeBadState, "%s before offer", m.Type)
	case m.Type == TypeCandidate:
		return c.addCandidate(m.Candidate)
	case m.Type == TypeDTMF:
		c.pushDigits(m.Digits, "signaling")
	case m.Type == TypeHangup:
		if k.phone {
			c.log.Info("agent hung up", "reason", m.Reason)
		} else {
			c.log.Info("caller hung up", "reason", m.Reason)
		}
		c.end(ErrRemoteHangup)
	}
	return nil
}
