package webrtc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// How a ring at an agent's browser phone failed.
var (
	// ErrNoPhone: the agent has no browser phone connected.
	ErrNoPhone = errors.New("webrtc: the agent's browser phone is not connected")
	// ErrPhoneBusy: the agent's phone rings for another call already.
	ErrPhoneBusy = errors.New("webrtc: the agent's browser phone rings already")
	// ErrDeclined: the agent rejected the call.
	ErrDeclined = errors.New("webrtc: the agent declined the call")
	// ErrNoAnswer: the phone rang out, or the agent accepted but sent no
	// offer in time.
	ErrNoAnswer = errors.New("webrtc: the agent did not answer")
)

// AgentSubprotocol is the WebSocket subprotocol of an agent's phone. A
// browser cannot set headers on a WebSocket, so the page offers its login
// token as a second subprotocol, "bearer.<token>" (see BearerToken): it
// travels in a header, which access logs do not keep, rather than in the
// URL, which they do.
const AgentSubprotocol = "hotline.agent"

const bearerProtocol = "bearer."

// BearerToken is the token an agent's page offered as the subprotocol
// "bearer.<token>", or "".
func BearerToken(r *http.Request) string {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			if tok, ok := strings.CutPrefix(strings.TrimSpace(p), bearerProtocol); ok {
				return tok
			}
		}
	}
	return ""
}

// WithAgentPhones serves /ws/agent: the browser phones of agents the
// Authenticator names (anonymous sockets are refused there). A connected
// socket is the agent's phone, which RingAgent rings. onChange is told,
// one change at a time, when an agent's first phone connects (online) and
// their last one goes.
func WithAgentPhones(onChange func(agent string, online bool)) Option {
	return func(s *Server) { s.onPhone = onChange }
}

// Incoming is what an agent's phone is told about the call that rings.
type Incoming struct {
	// Call is the caller's call id; From, Queue and Summary the screen pop.
	Call, From, Queue, Summary string
}

// agentRing is a call ringing at one phone socket. The socket's reader
// reports accept and reject; the call its offer makes is handed over by
// the call's handler.
type agentRing struct {
	in       Incoming
	accepted chan struct{} // closed on accept
	end      chan error    // reject or the socket gone; the first counts
	call     chan *Call
	gone     chan struct{} // closed when RingAgent stopped waiting

	// Guarded by Server.mu.
	wasAccepted, offered bool
}

// fail ends the ring with err unless it has ended already.
func (r *agentRing) fail(err error) {
	select {
	case r.end <- err:
	default:
	}
}

// deliver is the handler of the call the agent's offer made: the ring's
// caller takes it and owns it until it ends; a ring given up meanwhile
// ends it.
func (r *agentRing) deliver(ctx context.Context, c *Call) {
	select {
	case r.call <- c:
		<-ctx.Done()
	case <-r.gone:
	}
}

// RingAgent rings the agent's most recently connected browser phone for
// at most ringFor. When the agent accepts, the page offers and the call
// is set up as a caller's is; RingAgent returns once its media is up. The
// returned call's Leg is the caller's to hang up. A reject is ErrDeclined,
// a ring out ErrNoAnswer; when ctx ends the phone is told the ring was
// withdrawn.
func (s *Server) RingAgent(ctx context.Context, agent string, in Incoming, ringFor time.Duration) (*Call, error) {
	r := &agentRing{in: in, accepted: make(chan struct{}), end: make(chan error, 1), call: make(chan *Call), gone: make(chan struct{})}
	s.mu.Lock()
	var k *socket
	if ks := s.phones[agent]; len(ks) > 0 {
		k = ks[len(ks)-1]
	}
	switch {
	case k == nil:
		s.mu.Unlock()
		return nil, ErrNoPhone
	case k.ring != nil:
		s.mu.Unlock()
		return nil, ErrPhoneBusy
	}
	k.ring = r
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if k.ring == r {
			k.ring = nil
		}
		s.mu.Unlock()
		close(r.gone)
	}()
	log := k.log.With("call_id", in.Call, "agent", agent)
	k.send(Message{Type: TypeIncoming, Call: in.Call, From: in.From, Queue: in.Queue, Summary: in.Summary})
	log.Info("agent's browser phone rings")

	timer := time.NewTimer(ringFor)
	defer timer.Stop()
	accepted := r.accepted
	cancel := func(reason string) { k.send(Message{Type: TypeCancel, Call: in.Call, Reason: reason}) }
	for {
		select {
		case <-accepted:
			accepted = nil
			// Answered: what is left is set-up, which gets the time a
			// caller's page gets.
			timer.Reset(s.cfg.OfferTimeout)
			log.Info("agent accepted on the browser phone")
		case err := <-r.end:
			return nil, err
		case c := <-r.call:
			timer.Stop()
			select {
			case <-c.connected:
				return c, nil
			case <-c.ctx.Done():
				return nil, fmt.Errorf("agent's browser phone: %w", context.Cause(c.ctx))
			case <-ctx.Done():
				c.end(ErrHangup)
				return nil, ctx.Err()
			}
		case <-timer.C:
			cancel("timeout")
			return nil, ErrNoAnswer
		case <-ctx.Done():
			cancel("withdrawn")
			return nil, ctx.Err()
		}
	}
}

// PhoneOnline reports whether agent has a browser phone connected.
func (s *Server) PhoneOnline(agent string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.phones[agent]) > 0
}

// addPhone makes k its agent's newest phone.
func (s *Server) addPhone(k *socket) {
	s.phoneMu.Lock()
	defer s.phoneMu.Unlock()
	s.mu.Lock()
	a := k.ident.Subject
	s.phones[a] = append(s.phones[a], k)
	first := len(s.phones[a]) == 1
	s.mu.Unlock()
	k.log.Info("agent's browser phone connected", "agent", a)
	if first && s.onPhone != nil {
		s.onPhone(a, true)
	}
}

// removePhone forgets k; a call ringing there has lost its phone.
func (s *Server) removePhone(k *socket) {
	s.phoneMu.Lock()
	defer s.phoneMu.Unlock()
	s.mu.Lock()
	a := k.ident.Subject
	s.phones[a] = slices.DeleteFunc(s.phones[a], func(x *socket) bool { return x == k })
	last := len(s.phones[a]) == 0
	if last {
		delete(s.phones, a)
	}
	if k.ring != nil {
		k.ring.fail(ErrSignalingLost)
	}
	s.mu.Unlock()
	k.log.Info("agent's browser phone disconnected", "agent", a)
	if last && s.onPhone != nil {
		s.onPhone(a, false)
	}
}

// answerRing acts on an agent's accept or reject of the call that rings.
func (s *Server) answerRing(k *socket, m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := k.ring
	if r == nil || r.in.Call != m.Call || r.wasAccepted {
		return protoErr(CodeBadState, "%s: no such call rings", m.Type)
	}
	if m.Type == TypeReject {
		k.log.Info("agent rejected the call", "call_id", m.Call, "reason", m.Reason)
		r.fail(ErrDeclined)
		return nil
	}
	r.wasAccepted = true
	close(r.accepted)
	return nil
}

// acceptedRing is the accepted ring an agent's offer answers, once.
func (s *Server) acceptedRing(k *socket) (*agentRing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := k.ring
	if r == nil || !r.wasAccepted || r.offered {
		return nil, protoErr(CodeBadState, "offer without an accepted call")
	}
	r.offered = true
	return r, nil
}
