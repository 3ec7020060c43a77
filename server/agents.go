package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/internal/logctx"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/metrics"
	"github.com/hotline-cc/hotline/redact"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
	"github.com/hotline-cc/hotline/webrtc"
)

// agentDesk is the node's contact center: the call distributor, fed by the
// agents' phone registrations, ringing the phone of the agent a call is
// offered to. The conversation reaches it as ivr.Agents, the operator's
// API as api.Agents and api.Queues.
//
// An agent has a phone while their SIP phone is registered or their
// desktop's browser phone is connected. The browser phone, when
// connected, is the one rung: the agent is at their desk.
type agentDesk struct {
	*routing.ACD
	cfg     routing.Config
	phones  phones
	browser browserPhones // nil without browser phones
	shared  *sharedAgents // nil unless the node is one of a cluster
	// nodeKey is the secret the cluster's nodes sign their agent legs
	// with (store.node_secret_env); nil: none.
	nodeKey []byte
	log     *slog.Logger
	m       *metrics.Metrics
	// callers are the numbers of the calls waiting, for the browser
	// phone's screen pop: call id → number.
	callers sync.Map

	stop     context.CancelFunc
	watching sync.WaitGroup
}

// phones places calls to the agents' registered phones (sip.Server).
type phones interface {
	Contacts(user string) []sip.Binding
	Dial(ctx context.Context, r sip.DialRequest) (*sip.OutboundCall, error)
}

func newAgentDesk(cfg routing.Config, dir *routing.Directory, ph phones, m *metrics.Metrics, log *slog.Logger) (*agentDesk, error) {
	log = log.With("component", "routing")
	acd, err := routing.New(cfg, routing.Options{Directory: dir, Logger: log})
	if err != nil {
		return nil, err
	}
	return &agentDesk{ACD: acd, cfg: cfg, phones: ph, log: log, m: m}, nil
}

// registered makes an agent available when their phone registers and
// offline when its last binding goes, unless their browser phone is
// connected. An agent on a call, ringing or in wrap-up keeps their state:
// the distributor decides when that ends.
func (d *agentDesk) registered(ev sip.RegistrationEvent) {
	d.publishPhone(ev.User)
	to := routing.Offline
	if len(ev.Bindings) > 0 {
		to = routing.Available
	} else if d.browser != nil && d.browser.PhoneOnline(ev.User) {
		d.log.Info("agent phone", "agent", ev.User, "bindings", 0, "browser_phone", true)
		return
	} else if _, ok := d.remotePhone(ev.User); ok {
		d.log.Info("agent phone", "agent", ev.User, "bindings", 0, "phone_on_another_node", true)
		return
	}
	err := d.SetState(ev.User, to, "")
	switch {
	case err == nil:
		d.log.Info("agent phone", "agent", ev.User, "bindings", len(ev.Bindings), "state", to.String())
	case errors.Is(err, routing.ErrUnknownAgent):
		d.log.Warn("a phone registered for a user who is not a routing agent", "user", ev.User)
	default:
		d.log.Info("agent phone changed; state kept", "agent", ev.User, "bindings", len(ev.Bindings), "reason", err)
	}
}

// errNoPhone refuses Ready to an agent whose calls could ring nowhere.
var errNoPhone = errors.New("no phone: register your SIP phone or keep the desktop's browser phone connected")

// setState changes an agent's state at the desktops' request.
func (d *agentDesk) setState(agentID, state, reason string) error {
	to, err := routing.ParseState(state)
	if err != nil {
		return fmt.Errorf("%w: %w", routing.ErrInvalidTransition, err)
	}
	if to == routing.Available && !d.hasPhone(agentID) {
		return fmt.Errorf("agent %s: %w: %w", agentID, routing.ErrInvalidTransition, errNoPhone)
	}
	return d.SetState(agentID, to, reason)
}

func (d *agentDesk) hasPhone(agent string) bool {
	_, remote := d.remotePhone(agent)
	return d.hasLocalPhone(agent) || remote
}

// hasLocalPhone: the agent's SIP phone is registered here, or their
// browser phone is connected here.
func (d *agentDesk) hasLocalPhone(agent string) bool {
	return len(d.phones.Contacts(agent)) > 0 || (d.browser != nil && d.browser.PhoneOnline(agent))
}

// remotePhone is the agent's phone registered with another node of the
// cluster, while the agent is ready there.
func (d *agentDesk) remotePhone(agent string) (store.AgentPhone, bool) {
	if d.shared == nil {
		return store.AgentPhone{}, false
	}
	return d.shared.remotePhone(agent)
}

// Enqueue queues a call (ivr.Agents), keeping its number for the screen
// pop until it leaves.
func (d *agentDesk) Enqueue(ctx context.Context, c routing.Call) (*routing.Ticket, error) {
	d.callers.Store(c.ID, c.Number)
	context.AfterFunc(ctx, func() { d.callers.Delete(c.ID) })
	return d.ACD.Enqueue(ctx, c)
}

// caller is the number of the call waiting, for the screen pop.
func (d *agentDesk) caller(callID string) string {
	v, _ := d.callers.Load(callID)
	from, _ := v.(string)
	return from
}

// Queue resolves the queue a transfer names (ivr.Agents).
func (d *agentDesk) Queue(name string) (routing.QueueConfig, bool) {
	if q, ok := d.cfg.Queue(name); ok {
		return q, true
	}
	q, _ := d.cfg.Queue(d.cfg.Queues[0].Name)
	return q, false
}

// maxSummaryHeader bounds the summary the agent's phone is sent.
const maxSummaryHeader = 512

// Ring rings the agent's browser phone if it is connected, else their
// most recently registered SIP phone (ivr.Agents). A phone that is busy,
// does not answer or cannot be reached is a missed call; a declined one
// goes to the next agent without counting as missed.
func (d *agentDesk) Ring(ctx context.Context, callID string, offer routing.Outcome, t ivr.TransferTurn) (media.Leg, error) {
	log := logctx.From(ctx, d.log).With("agent", offer.Agent)
	if d.shared != nil {
		// Exactly one node of the cluster rings an agent at a time.
		ok, err := d.shared.claim(ctx, offer.Agent, callID)
		if err != nil || !ok {
			if err == nil {
				err = errAgentElsewhere
			}
			// Held not ready, not offered the call again, until the
			// cluster sync sees the claim go.
			log.Info("agent not offered: another node has them, or the claim failed", "err", err)
			if uerr := d.Unavailable(callID, offer.Agent, reasonElsewhere); uerr != nil {
				log.Debug("offer already withdrawn", "err", uerr)
			}
			return nil, err
		}
	}
	q, _ := d.Queue(offer.Queue)
	var leg media.Leg
	var err error
	if d.browser != nil && d.browser.PhoneOnline(offer.Agent) {
		leg, err = d.ringBrowser(ctx, callID, offer, q, t)
	} else {
		leg, err = d.ringSIP(ctx, callID, offer, q, t)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// The offer was withdrawn or the caller left: the distributor knows.
		return nil, err
	case errors.Is(err, sip.ErrDeclined), errors.Is(err, webrtc.ErrDeclined):
		log.Info("agent declined the call", "err", err)
		d.report(log, d.Reject, callID, offer.Agent)
		return nil, err
	default:
		log.Info("agent's phone did not answer", "err", err)
		d.report(log, d.NoAnswer, callID, offer.Agent)
		return nil, err
	}
	if err := d.Answer(callID, offer.Agent); err != nil {
		// The ring timed out in the distributor as the phone answered.
		if herr := leg.Hangup(context.WithoutCancel(ctx)); herr != nil {
			log.Debug("agent leg already ended", "err", herr)
		}
		return nil, fmt.Errorf("agent %s answered: %w", offer.Agent, err)
	}
	log.Info("agent answered", "leg", leg.ID())
	return leg, nil
}

// ringSIP dials the agent's most recently registered SIP phone, the
// summary in a header.
func (d *agentDesk) ringSIP(ctx context.Context, callID string, offer routing.Outcome, q routing.QueueConfig, t ivr.TransferTurn) (media.Leg, error) {
	req := sip.DialRequest{
		Headers: map[string]string{
			"X-Hotline-Call":    callID,
			"X-Hotline-Caller":  d.caller(callID),
			"X-Hotline-Queue":   q.Name,
			"X-Hotline-Summary": headerSummary(t.Summary),
		},
		RingTimeout: q.RingTimeout,
	}
	if len(d.nodeKey) > 0 {
		req.Headers[nodeAuthHeader] = legMAC(d.nodeKey, callID, offer.Agent)
	}
	var call *sip.OutboundCall
	var err error
	if bindings := d.phones.Contacts(offer.Agent); len(bindings) > 0 {
		b := bindings[len(bindings)-1]
		req.To, req.Destination = b.Contact, b.Source
		call, err = d.phones.Dial(ctx, req)
	} else if p, ok := d.remotePhone(offer.Agent); ok {
		// Registered with another node: this node rings it and keeps
		// the agent's leg, bridged here with the caller's.
		logctx.From(ctx, d.log).Info("ringing an agent's phone registered with another node", "agent", offer.Agent, "phone_node", p.Node)
		call, err = d.dialRemote(ctx, p, req)
	} else {
		return nil, fmt.Errorf("agent %s: no registered phone", offer.Agent)
	}
	if err != nil {
		return nil, fmt.Errorf("ring agent %s: %w", offer.Agent, err)
	}
	logctx.From(ctx, d.log).Info("agent's SIP phone answered", "agent", offer.Agent, "after", call.Ringing)
	return call.Leg, nil
}

// report tells the distributor how a ring ended; an offer it has already
// withdrawn is no news.
func (d *agentDesk) report(log *slog.Logger, fn func(callID, agentID string) error, callID, agent string) {
	if err := fn(callID, agent); err != nil {
		log.Debug("ring outcome not reported", "err", err)
	}
}

// headerSummary is the transfer's summary for the agent's phone: redacted
// (the brain's summary already is; a summary from elsewhere may not be),
// on one line, and short enough for a SIP header.
func headerSummary(s string) string {
	s = strings.Join(strings.Fields(redact.Redact(s)), " ")
	if len(s) <= maxSummaryHeader {
		return s
	}
	n := maxSummaryHeader
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Agents is the agents' view for the operator's API.
func (d *agentDesk) Agents() []api.AgentView {
	snap := d.Snapshot()
	out := make([]api.AgentView, len(snap.Agents))
	for i, a := range snap.Agents {
		out[i] = api.AgentView{ID: a.ID, Name: a.Name, State: a.State.String(), Since: a.Since, Reason: a.Reason, CallID: a.Call}
	}
	return out
}

// Queues is the queues' view for the operator's API: a caller whose
// agent's phone rings still waits. In a cluster it counts the callers
// waiting on every node.
func (d *agentDesk) Queues() []api.QueueView {
	snap := d.Snapshot()
	out := make([]api.QueueView, len(snap.Queues))
	for i, q := range snap.Queues {
		out[i] = api.QueueView{Name: q.Name, Waiting: q.Waiting + q.Ringing, LongestWait: q.LongestWait, AgentsAvailable: q.Available}
	}
	if d.shared != nil {
		d.shared.elsewhere(out)
	}
	return out
}

// start keeps the queue and agent gauges current from the distributor's
// events until close.
func (d *agentDesk) start(ctx context.Context) {
	ctx, d.stop = context.WithCancel(ctx)
	sub := d.Subscribe(64)
	d.gauges()
	d.watching.Go(func() {
		defer sub.Close()
		for {
			select {
			case _, ok := <-sub.Events():
				if !ok {
					return
				}
				// A whole snapshot rather than the event: a lost event
				// then costs nothing.
				d.gauges()
				if d.shared != nil {
					d.shared.releaseFree(ctx, d.Snapshot())
				}
			case <-ctx.Done():
				return
			}
		}
	})
}

// states are the agent states the gauges report, all of them, so a state
// nobody is in reads 0 rather than its last count.
var states = []routing.State{routing.Offline, routing.Available, routing.Ringing, routing.OnCall, routing.WrapUp, routing.NotReady}

func (d *agentDesk) gauges() {
	snap := d.Snapshot()
	for _, q := range snap.Queues {
		d.m.QueueLength(q.Name, q.Waiting+q.Ringing)
	}
	for _, st := range states {
		d.m.Agents(st.String(), snap.ByState[st])
	}
}

// close stops the gauges and abandons the calls still waiting.
func (d *agentDesk) close() {
	if d.stop != nil {
		d.stop()
		d.watching.Wait()
	}
	d.Close()
}

// isAgent: id names one of the agents configured.
func (d *agentDesk) isAgent(id string) bool {
	return slices.ContainsFunc(d.cfg.Agents, func(a routing.AgentConfig) bool { return a.ID == id })
}
