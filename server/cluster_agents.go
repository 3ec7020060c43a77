package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// reasonElsewhere is the not_ready reason of an agent another node of the
// cluster has offered a call to.
const reasonElsewhere = "on a call through another node"

// errAgentElsewhere refuses an offer of an agent another node holds.
var errAgentElsewhere = errors.New("the agent is offered a call by another node")

// sharedAgents lets the nodes of a cluster (sharing a PostgreSQL store)
// serve each other's agents (docs/cluster.md). Every node has the same
// agents and queues; an agent's SIP phone registered with one node is
// published in agent_phones, and every other node's distributor counts
// the agent as available while that phone is there and the agent ready.
// Before a node rings an agent it claims them in agent_claims, whose key
// lets one node win: the loser passes the offer on and holds the agent
// not ready until the claim is released, which the winner does when the
// agent is free again (after the call and its wrap-up). The caller's node
// dials the agent's phone itself, at the address it registered from: the
// agent's leg moves to the caller's node, and no media crosses nodes.
type sharedAgents struct {
	st   *store.Store
	node string
	log  *slog.Logger

	mu sync.Mutex
	// remote are the agents' phones registered with other nodes, as the
	// last sync read them.
	remote map[string]store.AgentPhone
	// held are the agents this node has claimed.
	held map[string]bool
	// waiting are the callers waiting on the other nodes, by queue, as
	// their last heartbeats said.
	waiting map[string]store.NodeQueue

	// wake asks for a sync before the next heartbeat: an agent's phone or
	// claim changed somewhere in the cluster.
	wake chan struct{}

	// sip is this node's SIP address, where the other nodes ring the
	// browser phones connected here; set once the SIP server listens.
	sip netip.AddrPort
}

// nodeAuthHeader carries a node's signature of the agent leg it asks
// another node for: legMAC of the call and the agent.
const nodeAuthHeader = "X-Hotline-Node-Auth"

// minNodeSecret is the shortest secret the nodes may share.
const minNodeSecret = 16

// legMAC signs the agent leg of callID for agent with the cluster's
// secret key: hex HMAC-SHA256, so a forged INVITE cannot ring an agent
// even from a spoofed node address.
func legMAC(key []byte, callID, agent string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(callID + "\n" + agent))
	return hex.EncodeToString(m.Sum(nil))
}

// signedLeg reports whether mac signs the agent leg; without a key every
// leg passes (the source address check remains).
func (d *agentDesk) signedLeg(callID, agent, mac string) bool {
	if len(d.nodeKey) == 0 {
		return true
	}
	return hmac.Equal([]byte(mac), []byte(legMAC(d.nodeKey, callID, agent)))
}

// browserPhoneTTL is how long a browser phone's row in agent_phones lasts
// unless the sync renews it, which it does at half-life: a node that
// vanishes without being reaped leaves no phone rung for long.
const browserPhoneTTL = time.Hour

func newSharedAgents(st *store.Store, node string, log *slog.Logger) *sharedAgents {
	return &sharedAgents{st: st, node: node, log: log, remote: map[string]store.AgentPhone{}, held: map[string]bool{},
		waiting: map[string]store.NodeQueue{}, wake: make(chan struct{}, 1)}
}

// listen wakes the sync whenever an agent's phone or claim changes on any
// node (PostgreSQL's notifications), until ctx ends; a lost connection is
// listened on again after retry. Between wake-ups the heartbeat syncs.
func (sa *sharedAgents) listen(ctx context.Context, retry time.Duration) {
	poke := func() {
		select {
		case sa.wake <- struct{}{}:
		default: // a sync is due already
		}
	}
	for {
		if err := sa.st.ListenAgents(ctx, poke); err != nil {
			sa.log.Warn("not listening for agent changes; the heartbeat syncs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

// remotePhone is the agent's phone registered with another node, if the
// agent is ready there.
func (sa *sharedAgents) remotePhone(agent string) (store.AgentPhone, bool) {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	p, ok := sa.remote[agent]
	return p, ok && p.Ready
}

// published shares a local registration change with the cluster.
func (sa *sharedAgents) published(ev sip.RegistrationEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	if n := len(ev.Bindings); n > 0 {
		b := ev.Bindings[n-1]
		err = sa.st.SetAgentPhone(ctx, store.AgentPhone{Agent: ev.User, Node: sa.node, Contact: b.Contact,
			Source: b.Source.String(), Transport: b.Transport, Expires: b.Expires, Ready: true})
	} else {
		err = sa.st.RemoveAgentPhone(ctx, ev.User, sa.node)
	}
	if err != nil {
		sa.log.Warn("agent phone not shared with the cluster", "agent", ev.User, "err", err)
	}
}

// publishBrowser shares the agent's browser phone connected here: a
// contact at this node's SIP address, whose user part names the agent.
// Another node dials it as it dials a SIP phone; this node rings the
// browser phone and bridges the two (screenAgentLeg).
func (sa *sharedAgents) publishBrowser(agent string, ready bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	contact := fmt.Sprintf("sip:%s@%s", agent, sa.sip)
	err := sa.st.SetAgentPhone(ctx, store.AgentPhone{Agent: agent, Node: sa.node, Contact: contact,
		Source: sa.sip.String(), Transport: "udp", Expires: time.Now().Add(browserPhoneTTL), Ready: ready})
	if err != nil {
		sa.log.Warn("agent browser phone not shared with the cluster", "agent", agent, "err", err)
	}
}

// publishPhone shares with the cluster the phone the agent's calls ring
// here: the browser phone while it is connected (Ring prefers it), else
// the latest SIP registration; with neither, the agent's row here goes.
func (d *agentDesk) publishPhone(agent string) {
	if d.shared == nil {
		return
	}
	if d.browser != nil && d.browser.PhoneOnline(agent) {
		d.shared.publishBrowser(agent, false) // the next sync says whether they are ready
		return
	}
	d.shared.published(sip.RegistrationEvent{User: agent, Bindings: d.phones.Contacts(agent)})
}

// claim takes the agent for callID; false when another node holds them.
func (sa *sharedAgents) claim(ctx context.Context, agent, callID string) (bool, error) {
	ok, err := sa.st.ClaimAgent(ctx, store.AgentClaim{Agent: agent, Call: callID, Node: sa.node, At: time.Now()})
	if ok {
		sa.mu.Lock()
		sa.held[agent] = true
		sa.mu.Unlock()
	}
	return ok, err
}

// releaseFree releases the claims on agents the distributor no longer
// has ringing, on a call or wrapping up.
func (sa *sharedAgents) releaseFree(ctx context.Context, snap routing.Snapshot) {
	sa.mu.Lock()
	var free []string
	for _, a := range snap.Agents {
		if sa.held[a.ID] && a.State != routing.Ringing && a.State != routing.OnCall && a.State != routing.WrapUp {
			free = append(free, a.ID)
			delete(sa.held, a.ID)
		}
	}
	sa.mu.Unlock()
	for _, agent := range free {
		if err := sa.st.ReleaseAgent(ctx, agent, sa.node); err != nil {
			// The claim stays until this node leaves or is reaped.
			sa.log.Warn("agent claim not released", "agent", agent, "err", err)
		}
	}
}

// elsewhere adds the callers waiting on the other nodes to this node's
// view of its queues.
func (sa *sharedAgents) elsewhere(qs []api.QueueView) {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	for i := range qs {
		w := sa.waiting[qs[i].Name]
		qs[i].Waiting += w.Waiting
		qs[i].LongestWait = max(qs[i].LongestWait, time.Duration(w.LongestWaitMS)*time.Millisecond)
	}
}

// syncCluster brings the distributor in line with the cluster: it
// publishes whether this node's agents are ready, counts agents whose
// phone is on another node, holds not ready the agents another node has
// claimed, and learns the callers waiting on the other nodes.
func (d *agentDesk) syncCluster(ctx context.Context, now time.Time) error {
	sa := d.shared
	nodes, err := sa.st.Nodes(ctx)
	if err != nil {
		return err
	}
	d.m.ClusterNodes(len(nodes))
	waiting := map[string]store.NodeQueue{}
	for _, n := range nodes {
		if n.Name == sa.node {
			continue
		}
		for _, q := range n.Queues {
			w := waiting[q.Name]
			w.Waiting += q.Waiting
			w.LongestWaitMS = max(w.LongestWaitMS, q.LongestWaitMS)
			waiting[q.Name] = w
		}
	}
	phones, err := sa.st.AgentPhones(ctx, now)
	if err != nil {
		return err
	}
	claims, err := sa.st.AgentClaims(ctx)
	if err != nil {
		return err
	}
	remote := map[string]store.AgentPhone{}
	ours := map[string]store.AgentPhone{}
	for _, p := range phones {
		if p.Node == sa.node {
			ours[p.Agent] = p
		} else {
			remote[p.Agent] = p
		}
	}
	elsewhere := map[string]bool{}
	sa.mu.Lock()
	for _, c := range claims {
		switch {
		case c.Node != sa.node:
			elsewhere[c.Agent] = true
		case !sa.held[c.Agent]:
			// A claim this node made but never learned it had (its
			// answer lost with a cancelled ring): releaseFree frees it
			// once the agent is free here.
			sa.held[c.Agent] = true
		}
	}
	sa.remote, sa.waiting = remote, waiting
	sa.mu.Unlock()

	snap := d.Snapshot()
	for _, a := range snap.Agents {
		byElsewhere := a.State == routing.NotReady && a.Reason == reasonElsewhere
		if p, ok := ours[a.ID]; ok {
			ready := a.State != routing.Offline && (a.State != routing.NotReady || byElsewhere)
			if err := sa.st.SetAgentReady(ctx, a.ID, sa.node, ready); err != nil {
				return err
			}
			if p.Source == sa.sip.String() && p.Expires.Before(now.Add(browserPhoneTTL/2)) && d.browser != nil && d.browser.PhoneOnline(a.ID) {
				sa.publishBrowser(a.ID, ready)
			}
		}
		local := d.hasLocalPhone(a.ID)
		r, ok := remote[a.ID]
		usable := ok && r.Ready
		var to routing.State
		switch {
		case elsewhere[a.ID]:
			if a.State != routing.Available {
				continue
			}
			to = routing.NotReady
		case byElsewhere && (local || usable):
			to = routing.Available
		case byElsewhere, a.State == routing.Available && !local && !usable:
			to = routing.Offline
		case a.State == routing.Offline && usable && !local:
			to = routing.Available
		default:
			continue
		}
		reason := ""
		if to == routing.NotReady {
			reason = reasonElsewhere
		}
		if err := d.SetState(a.ID, to, reason); err != nil {
			d.log.Debug("agent state not synced with the cluster", "agent", a.ID, "to", to.String(), "err", err)
			continue
		}
		d.log.Info("agent state from the cluster", "agent", a.ID, "state", to.String(), "reason", reason)
	}
	sa.releaseFree(ctx, d.Snapshot())
	return nil
}

// queueLoad is this node's callers waiting, by queue, for its heartbeat.
func (d *agentDesk) queueLoad() []store.NodeQueue {
	snap := d.Snapshot()
	out := make([]store.NodeQueue, 0, len(snap.Queues))
	for _, q := range snap.Queues {
		if n := q.Waiting + q.Ringing; n > 0 {
			out = append(out, store.NodeQueue{Name: q.Name, Waiting: n, LongestWaitMS: q.LongestWait.Milliseconds()})
		}
	}
	return out
}

// dialRemote rings the agent's phone registered with another node.
func (d *agentDesk) dialRemote(ctx context.Context, p store.AgentPhone, req sip.DialRequest) (*sip.OutboundCall, error) {
	src, err := netip.ParseAddrPort(p.Source)
	if err != nil {
		return nil, err
	}
	req.To, req.Destination = p.Contact, src
	return d.phones.Dial(ctx, req)
}
