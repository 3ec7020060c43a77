package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/routing"
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
	v, _ := d.callers.Load(callID)
	from, _ := v.(string)
	call, err := d.browser.RingAgent(ctx, offer.Agent, webrtc.Incoming{Call: callID, From: from, Queue: q.Name,
		Summary: headerSummary(t.Summary)}, q.RingTimeout)
	if err != nil {
		return nil, fmt.Errorf("ring agent %s's browser phone: %w", offer.Agent, err)
	}
	return call.Leg, nil
}
