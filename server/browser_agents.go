package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/logctx"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/webrtc"
)

// browserPhones are the phones in the agents' desktops (webrtc.Server).
type browserPhones interface {
	PhoneOnline(agent string) bool
	RingAgent(ctx context.Context, agent string, in webrtc.Incoming, ringFor time.Duration) (*webrtc.Call, error)
}

// newBrowser serves the caller page's signaling and the agents' browser
// phones, which present their login token (see webrtc.BearerToken). It is
// nil without webrtc.listen.
func (s *Server) newBrowser(cfg config.Config, log *slog.Logger) (*webrtc.Server, error) {
	if cfg.WebRTC.Listen == "" {
		return nil, nil
	}
	tokens, err := api.NewAgentTokens(cfg.API)
	if err != nil {
		return nil, err
	}
	auth := func(r *http.Request) (webrtc.Identity, error) {
		tok := webrtc.BearerToken(r)
		if tok == "" {
			return webrtc.Identity{}, nil // a caller
		}
		agent, ok := tokens.Verify(tok)
		if !ok {
			return webrtc.Identity{}, errors.New("invalid or expired agent token")
		}
		return webrtc.Identity{Subject: agent}, nil
	}
	b := webrtc.NewServer(cfg.WebRTC, s.handleBrowserCall, log.With("component", "webrtc"),
		webrtc.WithAuthenticator(auth), webrtc.WithAgentPhones(s.desk.browserPhone))
	s.desk.browser = b
	if s.desk.shared != nil {
		s.sip.SetScreen(s.screenAgentLeg)
	}
	return b, nil
}

// withAgentPhones serves the agents' phone sockets beside the API, the
// agent desktop's own origin.
func (s *Server) withAgentPhones(h http.Handler) http.Handler {
	if s.browser == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws/agent", s.browser.Handler())
	mux.Handle("/", h)
	return mux
}

// browserPhone follows an agent's browser phone. Connecting it does not
// make the agent available: they press Ready for that. When it goes and
// no SIP phone is registered either, the agent is offline.
func (d *agentDesk) browserPhone(agent string, online bool) {
	d.publishPhone(agent)
	if online || len(d.phones.Contacts(agent)) > 0 {
		d.log.Info("agent browser phone", "agent", agent, "online", online)
		return
	}
	err := d.SetState(agent, routing.Offline, "")
	switch {
	case err == nil:
		d.log.Info("agent browser phone", "agent", agent, "online", online, "state", routing.Offline.String())
	case errors.Is(err, routing.ErrUnknownAgent):
		d.log.Warn("a browser phone for a user who is not a routing agent", "user", agent)
	default:
		d.log.Info("agent browser phone gone; state kept", "agent", agent, "reason", err)
	}
}

// ringBrowser rings the agent's browser phone with the call's screen pop.
func (d *agentDesk) ringBrowser(ctx context.Context, callID string, offer routing.Outcome, q routing.QueueConfig, t ivr.TransferTurn) (media.Leg, error) {
	from := d.caller(callID)
	call, err := d.browser.RingAgent(ctx, offer.Agent, webrtc.Incoming{Call: callID, From: from, Queue: q.Name,
		Summary: headerSummary(t.Summary)}, q.RingTimeout)
	if err != nil {
		return nil, fmt.Errorf("ring agent %s's browser phone: %w", offer.Agent, err)
	}
	return call.Leg, nil
}

// screenAgentLeg takes the INVITE another node of the cluster sends to the
// browser phone of an agent connected here, once it has claimed the agent
// for one of its callers (docs/cluster.md): it rings the browser phone
// with the screen pop the INVITE carries, answers when the agent accepts,
// and bridges the two legs until either hangs up. The call stays the
// other node's (its record, its claim, the agent's wrap-up): this node
// only carries the agent's media. Other calls go on as usual.
func (s *Server) screenAgentLeg(ctx context.Context, in sip.Inbound) (sip.Handler, error) {
	callID := in.Header("X-Hotline-Call")
	agent := in.User
	if callID == "" || !s.desk.isAgent(agent) {
		return nil, nil
	}
	log := s.log.With("component", "routing", "call_id", callID, "agent", agent, "source", in.Source)
	if !s.fromNode(ctx, in.Source) {
		log.Warn("agent leg refused: not from a node of the cluster")
		return nil, &sip.Refusal{Code: 403, Reason: "Forbidden"}
	}
	if !s.desk.signedLeg(callID, agent, in.Header(nodeAuthHeader)) {
		log.Warn("agent leg refused: not signed with the cluster's secret")
		return nil, &sip.Refusal{Code: 403, Reason: "Forbidden"}
	}
	if !s.desk.browser.PhoneOnline(agent) {
		log.Info("agent leg refused: no browser phone here")
		return nil, &sip.Refusal{Code: 480, Reason: "Temporarily Unavailable"}
	}
	q, _ := s.desk.Queue(in.Header("X-Hotline-Queue"))
	// The agent's state here follows the call, as for a call of this node.
	if err := s.desk.RemoteRing(agent, callID, q.Name, reasonElsewhere); err != nil {
		log.Info("agent leg refused: the agent is busy here", "err", err)
		return nil, &sip.Refusal{Code: 486, Reason: "Busy Here"}
	}
	ended := func() {
		if err := s.desk.RemoteEnd(agent, callID); err != nil {
			log.Debug("agent's state not told the call ended", "err", err)
		}
	}
	log.Info("ringing the browser phone for another node's caller")
	call, err := s.desk.browser.RingAgent(ctx, agent, webrtc.Incoming{Call: callID, From: in.Header("X-Hotline-Caller"),
		Queue: q.Name, Summary: headerSummary(in.Header("X-Hotline-Summary"))}, q.RingTimeout)
	if err != nil {
		ended()
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, err // the other node withdrew the ring
	case errors.Is(err, webrtc.ErrDeclined):
		log.Info("agent declined another node's caller")
		return nil, &sip.Refusal{Code: 603, Reason: "Decline"}
	case errors.Is(err, webrtc.ErrPhoneBusy):
		return nil, &sip.Refusal{Code: 486, Reason: "Busy Here"}
	default:
		log.Info("agent's browser phone did not answer another node's caller", "err", err)
		return nil, &sip.Refusal{Code: 480, Reason: "Temporarily Unavailable"}
	}
	agentLeg := call.Leg
	if err := s.desk.RemoteAnswer(agent, callID); err != nil {
		log.Debug("agent's state not told of the answer", "err", err)
	}
	// The agent's leg and their call here end with the SIP dialog, however
	// it ends: answered and hung up, or cancelled before the answer
	// reached the other node.
	context.AfterFunc(ctx, func() {
		if err := agentLeg.Hangup(context.Background()); err != nil {
			log.Debug("agent's browser leg already ended", "err", err)
		}
		ended()
	})
	return func(ctx context.Context, c *sip.Call) {
		log.Info("agent connected for another node's caller", "leg", agentLeg.ID())
		res, err := media.Bridge(logctx.With(ctx, log), c.Leg, agentLeg, media.BridgeOptions{})
		if err != nil && ctx.Err() == nil {
			log.Warn("bridge to another node's caller failed", "err", err)
		}
		log.Info("agent call for another node ended", "hung_up", res.HungUp.String(), "duration", res.Duration.Round(time.Millisecond))
	}, nil
}

// fromNode: src is the SIP address of another live node of the cluster.
func (s *Server) fromNode(ctx context.Context, src netip.AddrPort) bool {
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		s.log.Warn("cluster nodes not read", "err", err)
		return false
	}
	for _, n := range nodes {
		if n.Name != s.node && n.SIP == src.String() {
			return true
		}
	}
	return false
}
