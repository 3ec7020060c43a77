package server

import (
	"context"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// keepHeartbeat keeps this node's row in the shared store current (with
// whether it drains, for the supervisors' view of the cluster) and takes
// the nodes whose heartbeat went stale for dead: their calls still open
// (killed with them, or callers they held in a queue) are closed as
// interrupted by whichever live node sees it first, and their agents'
// phones and claims are dropped. In a cluster it then brings the agents'
// states in line with the other nodes (sharedAgents). It returns when ctx
// ends; Shutdown then removes the row.
func (s *Server) keepHeartbeat(ctx context.Context, started time.Time) {
	tick := time.NewTicker(s.cfg.Store.Heartbeat)
	defer tick.Stop()
	var wake <-chan struct{}
	if s.desk.shared != nil {
		wake = s.desk.shared.wake
	}
	for {
		now := time.Now()
		err := s.store.Heartbeat(ctx, store.Node{Name: s.node, SIP: s.sip.Addr("udp").String(), API: s.cfg.API.Listen,
			StartedAt: started, HeartbeatAt: now, Draining: s.draining.Load(), Queues: s.desk.queueLoad()})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("heartbeat not written", "node", s.node, "err", err)
		}
		reaped, err := s.store.ReapNodes(ctx, now.Add(-s.cfg.Store.NodeTimeout))
		if err != nil && ctx.Err() == nil {
			s.log.Warn("dead nodes not reaped", "err", err)
		}
		for node, calls := range reaped {
			s.log.Warn("node dead: its open calls closed as interrupted", "dead_node", node, "calls", calls)
			s.metrics.NodeReaped()
		}
		if s.desk.shared != nil {
			if err := s.desk.syncCluster(ctx, now); err != nil && ctx.Err() == nil {
				s.log.Warn("agents not synced with the cluster", "err", err)
			}
		}
		if !s.syncWhenWoken(ctx, tick.C, wake) {
			return
		}
	}
}

// syncWhenWoken syncs the agents each time wake fires, until the next
// heartbeat is due (true) or ctx ends (false).
func (s *Server) syncWhenWoken(ctx context.Context, beat <-chan time.Time, wake <-chan struct{}) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-beat:
			return true
		case <-wake:
			if err := s.desk.syncCluster(ctx, time.Now()); err != nil && ctx.Err() == nil {
				s.log.Warn("agents not synced with the cluster", "err", err)
			}
		}
	}
}

// leaveCluster removes this node's row once its calls are over.
func (s *Server) leaveCluster() {
	if s.cfg.Store.Heartbeat == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.store.LeaveCluster(ctx, s.node); err != nil {
		s.log.Warn("node row not removed: the other nodes will reap it", "err", err)
	}
}
