package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Node is one running node of the cluster sharing the database, as its
// last heartbeat described it.
type Node struct {
	Name        string    `json:"name"`
	SIP         string    `json:"sip,omitempty"` // host:port
	API         string    `json:"api,omitempty"` // host:port
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	Draining    bool      `json:"draining"`
	// Queues are the node's callers waiting, by queue, for the
	// supervisors' view of the whole cluster.
	Queues []NodeQueue `json:"queues"`
}

// NodeQueue is one queue's callers waiting on one node.
type NodeQueue struct {
	Name    string `json:"name"`
	Waiting int    `json:"waiting"`
	// LongestWaitMS is how long the longest-waiting caller had waited at
	// the heartbeat.
	LongestWaitMS int64 `json:"longest_wait_ms"`
}

// Heartbeat records that n is alive at n.HeartbeatAt, adding its row the
// first time (or again, after another node took it for dead).
func (s *Store) Heartbeat(ctx context.Context, n Node) error {
	if n.Queues == nil {
		n.Queues = []NodeQueue{}
	}
	queues, err := json.Marshal(n.Queues)
	if err != nil {
		return fmt.Errorf("store: heartbeat of node %q: %w", n.Name, err)
	}
	_, err = s.exec(ctx, `INSERT INTO cluster_nodes (name, sip, api, started_at, heartbeat_at, draining, queues) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET sip = excluded.sip, api = excluded.api, started_at = excluded.started_at,
	heartbeat_at = excluded.heartbeat_at, draining = excluded.draining, queues = excluded.queues`,
		n.Name, n.SIP, n.API, s.d.timeArg(n.StartedAt), s.d.timeArg(n.HeartbeatAt), n.Draining, string(queues))
	if err != nil {
		return fmt.Errorf("store: heartbeat of node %q: %w", n.Name, err)
	}
	return nil
}

// LeaveCluster removes node's row, the agents' phones registered with it
// and its claims on agents: it stops, having ended its calls.
func (s *Store) LeaveCluster(ctx context.Context, node string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM cluster_nodes WHERE name = ?`), node); err != nil {
			return err
		}
		return forgetNode(ctx, tx, s.d, node)
	})
	if err != nil {
		return fmt.Errorf("store: node %q leaves: %w", node, err)
	}
	return nil
}

// forgetNode removes what node shared about agents: the phones registered
// with it (unreachable now) and its claims.
func forgetNode(ctx context.Context, tx *sql.Tx, d dialect, node string) error {
	if _, err := tx.ExecContext(ctx, d.rebind(`DELETE FROM agent_phones WHERE node = ?`), node); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, d.rebind(`DELETE FROM agent_claims WHERE node = ?`), node)
	return err
}

// Nodes lists the nodes whose rows are in the database, by name.
func (s *Store) Nodes(ctx context.Context) ([]Node, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, sip, api, started_at, heartbeat_at, draining, queues FROM cluster_nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: nodes: %w", err)
	}
	defer rows.Close()
	var out []Node
	for rows.Next() {
		var n Node
		var started, beat nullTime
		var queues string
		if err := rows.Scan(&n.Name, &n.SIP, &n.API, &started, &beat, &n.Draining, &queues); err != nil {
			return nil, fmt.Errorf("store: nodes: %w", err)
		}
		if err := json.Unmarshal([]byte(queues), &n.Queues); err != nil {
			return nil, fmt.Errorf("store: node %q queues: %w", n.Name, err)
		}
		n.StartedAt, n.HeartbeatAt = started.T, beat.T
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: nodes: %w", err)
	}
	return out, nil
}

// ReapNodes takes every node whose last heartbeat is before staleBefore
// for dead: it removes the node's row, its agents' phones and claims, and
// closes the calls it left open (CloseInterrupted), in one transaction. Only the reaper whose DELETE
// removes the row closes the calls, so nodes reaping at once do the work
// once. It returns the closed calls by node.
func (s *Store) ReapNodes(ctx context.Context, staleBefore time.Time) (map[string][]int64, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT name FROM cluster_nodes WHERE heartbeat_at < ?`), s.d.timeArg(staleBefore))
	if err != nil {
		return nil, fmt.Errorf("store: stale nodes: %w", err)
	}
	var stale []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: stale nodes: %w", err)
		}
		stale = append(stale, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: stale nodes: %w", err)
	}
	reaped := map[string][]int64{}
	for _, name := range stale {
		var closed []int64
		gone := false
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM cluster_nodes WHERE name = ? AND heartbeat_at < ?`), name, s.d.timeArg(staleBefore))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err // another node reaped it, or it came back
			}
			gone = true
			if err := forgetNode(ctx, tx, s.d, name); err != nil {
				return err
			}
			closed, err = s.closeInterrupted(ctx, tx, name)
			return err
		})
		if err != nil {
			return reaped, fmt.Errorf("store: reap node %q: %w", name, err)
		}
		if gone {
			reaped[name] = closed
		}
	}
	return reaped, nil
}
