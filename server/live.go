package server

import (
	"fmt"
	"sync"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/store"
)

// liveCalls are the calls in progress on this node that a desktop may act
// on, by call id.
type liveCalls struct{ m sync.Map }

// liveCall is one: its record (who serves it) and the way to hand it on.
type liveCall struct {
	rec      *callRecord
	transfer chan string
}

// add registers a call until the returned func is called.
func (l *liveCalls) add(id string, rec *callRecord) (*liveCall, func()) {
	c := &liveCall{rec: rec, transfer: make(chan string, 1)}
	l.m.Store(id, c)
	return c, func() { l.m.CompareAndDelete(id, c) }
}

// TransferCall hands the call an agent is talking with on to queue (the
// API's CallControl); agent, when not empty, must be the one serving it.
func (s *Server) TransferCall(callID, agent, queue string) error {
	if _, ok := s.cfg.Routing.Queue(queue); !ok {
		return fmt.Errorf("queue %s: not a queue: %w", queue, store.ErrInvalid)
	}
	v, ok := s.live.m.Load(callID)
	if !ok {
		return fmt.Errorf("call %s: %w", callID, api.ErrNoSuchCall)
	}
	c := v.(*liveCall)
	serving := c.rec.servedBy.Load()
	switch {
	case serving == nil:
		return api.ErrNotTransferable
	case agent != "" && agent != *serving:
		return api.ErrNotYours
	}
	select {
	case c.transfer <- queue:
		return nil
	default:
		return api.ErrNotTransferable
	}
}
