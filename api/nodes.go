package api

import (
	"context"
	"net/http"
	"time"
)

// nodeJSON is one node of the cluster sharing the records, as its last
// heartbeat described it.
type nodeJSON struct {
	Name        string          `json:"name"`
	SIP         string          `json:"sip,omitempty"`
	API         string          `json:"api,omitempty"`
	StartedAt   time.Time       `json:"started_at"`
	HeartbeatAt time.Time       `json:"heartbeat_at"`
	Draining    bool            `json:"draining"`
	Queues      []nodeQueueJSON `json:"queues"`
}

type nodeQueueJSON struct {
	Name          string `json:"name"`
	Waiting       int    `json:"waiting"`
	LongestWaitMS int64  `json:"longest_wait_ms"`
}

// nodes lists the running nodes: every node answers with the whole
// cluster, from the shared store.
func (s *server) nodes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	nodes, err := s.deps.Store.Nodes(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]nodeJSON, 0, len(nodes))
	for _, n := range nodes {
		v := nodeJSON{Name: n.Name, SIP: n.SIP, API: n.API, StartedAt: n.StartedAt, HeartbeatAt: n.HeartbeatAt,
			Draining: n.Draining, Queues: make([]nodeQueueJSON, 0, len(n.Queues))}
		for _, q := range n.Queues {
			v.Queues = append(v.Queues, nodeQueueJSON(q))
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"nodes": out})
}
