package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// AgentPhone is an agent's SIP phone as the node it registered with
// shares it with the cluster.
type AgentPhone struct {
	Agent     string
	Node      string
	Contact   string
	Source    string // host:port
	Transport string
	Expires   time.Time
	// Ready is the agent's own choice, as the phone's node knows it.
	Ready bool
}

// AgentClaim is a node's hold on an agent it offers a call to.
type AgentClaim struct {
	Agent string
	Call  string
	Node  string
	At    time.Time
}

// SetAgentPhone records p, replacing the agent's phone registered
// anywhere before: the latest registration is the one rung.
func (s *Store) SetAgentPhone(ctx context.Context, p AgentPhone) error {
	_, err := s.exec(ctx, `INSERT INTO agent_phones (agent, node, contact, source, transport, expires_at, ready) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (agent) DO UPDATE SET node = excluded.node, contact = excluded.contact, source = excluded.source,
	transport = excluded.transport, expires_at = excluded.expires_at, ready = excluded.ready`,
		p.Agent, p.Node, p.Contact, p.Source, p.Transport, s.d.timeArg(p.Expires), p.Ready)
	if err != nil {
		return fmt.Errorf("store: agent %s's phone: %w", p.Agent, err)
	}
	return nil
}

// SetAgentReady records the agent's own choice for their phone on node.
func (s *Store) SetAgentReady(ctx context.Context, agent, node string, ready bool) error {
	if _, err := s.exec(ctx, `UPDATE agent_phones SET ready = ? WHERE agent = ? AND node = ? AND ready <> ?`, ready, agent, node, ready); err != nil {
		return fmt.Errorf("store: agent %s ready: %w", agent, err)
	}
	return nil
}

// RemoveAgentPhone forgets the agent's phone if node has it: the phone
// unregistered there (a registration on another node since is kept).
func (s *Store) RemoveAgentPhone(ctx context.Context, agent, node string) error {
	if _, err := s.exec(ctx, `DELETE FROM agent_phones WHERE agent = ? AND node = ?`, agent, node); err != nil {
		return fmt.Errorf("store: agent %s's phone gone: %w", agent, err)
	}
	return nil
}

// AgentPhones lists the phones not expired at now.
func (s *Store) AgentPhones(ctx context.Context, now time.Time) ([]AgentPhone, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT agent, node, contact, source, transport, expires_at, ready FROM agent_phones WHERE expires_at > ? ORDER BY agent`),
		s.d.timeArg(now))
	if err != nil {
		return nil, fmt.Errorf("store: agent phones: %w", err)
	}
	var out []AgentPhone
	err = eachRow(rows, func() error {
		var p AgentPhone
		var exp nullTime
		if err := rows.Scan(&p.Agent, &p.Node, &p.Contact, &p.Source, &p.Transport, &exp, &p.Ready); err != nil {
			return err
		}
		p.Expires = exp.T
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: agent phones: %w", err)
	}
	return out, nil
}

// ClaimAgent gives node the agent for call unless another call holds
// them: false then. The insert either creates the agent's one row or
// does nothing, so two nodes claiming at once cannot both win.
func (s *Store) ClaimAgent(ctx context.Context, c AgentClaim) (bool, error) {
	res, err := s.exec(ctx, `INSERT INTO agent_claims (agent, call, node, claimed_at) VALUES (?, ?, ?, ?) ON CONFLICT (agent) DO NOTHING`,
		c.Agent, c.Call, c.Node, s.d.timeArg(c.At))
	if err != nil {
		return false, fmt.Errorf("store: claim agent %s: %w", c.Agent, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: claim agent %s: %w", c.Agent, err)
	}
	return n == 1, nil
}

// ReleaseAgent ends node's claim on the agent, whatever call it was for.
func (s *Store) ReleaseAgent(ctx context.Context, agent, node string) error {
	if _, err := s.exec(ctx, `DELETE FROM agent_claims WHERE agent = ? AND node = ?`, agent, node); err != nil {
		return fmt.Errorf("store: release agent %s: %w", agent, err)
	}
	return nil
}

// AgentClaims lists the claims held, by agent.
func (s *Store) AgentClaims(ctx context.Context) ([]AgentClaim, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT agent, call, node, claimed_at FROM agent_claims ORDER BY agent`)
	if err != nil {
		return nil, fmt.Errorf("store: agent claims: %w", err)
	}
	var out []AgentClaim
	err = eachRow(rows, func() error {
		var c AgentClaim
		var at nullTime
		if err := rows.Scan(&c.Agent, &c.Call, &c.Node, &at); err != nil {
			return err
		}
		c.At = at.T
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: agent claims: %w", err)
	}
	return out, nil
}

// ListenAgents calls changed whenever a node changes an agent's phone or
// claim (PostgreSQL's LISTEN on the notifications the tables' triggers
// send), until ctx ends or the connection fails; it holds one connection
// meanwhile. With SQLite, which serves one node, it returns at once.
func (s *Store) ListenAgents(ctx context.Context, changed func()) error {
	if s.d.name != Postgres {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: listen for agent changes: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		if _, err := pc.Exec(ctx, "LISTEN hotline_agents"); err != nil {
			return err
		}
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				// The connection still listens: it must not go back to
				// the pool.
				return errors.Join(err, driver.ErrBadConn)
			}
			changed()
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("store: listen for agent changes: %w", err)
}
