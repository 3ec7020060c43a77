-- The nodes sharing this database, one row a running node (see docs/cluster.md).
-- A node refreshes heartbeat_at every store.heartbeat and deletes its row when
-- it stops; a row older than store.node_timeout is a dead node, whose open calls
-- another node closes as interrupted.
CREATE TABLE cluster_nodes (
	name         TEXT        PRIMARY KEY,
	sip          TEXT        NOT NULL DEFAULT '', -- the node's SIP address, host:port
	api          TEXT        NOT NULL DEFAULT '', -- the node's API address, host:port
	started_at   TIMESTAMPTZ NOT NULL,
	heartbeat_at TIMESTAMPTZ NOT NULL,
	draining     BOOLEAN     NOT NULL DEFAULT FALSE, -- true once it stops taking calls
	queues       TEXT        NOT NULL DEFAULT '[]'   -- JSON: its callers waiting, by queue
);

-- Agents' SIP phones, registered with one node and reachable from every node:
-- a caller queued on any node may be offered to the agent. ready is the agent's
-- own choice as their phone's node knows it (not ready, signed off: false).
CREATE TABLE agent_phones (
	agent      TEXT PRIMARY KEY,
	node       TEXT NOT NULL,              -- the node the phone registered with
	contact    TEXT NOT NULL,              -- the phone's Contact URI
	source     TEXT NOT NULL,              -- host:port the REGISTER came from
	transport  TEXT NOT NULL DEFAULT 'udp',
	expires_at TIMESTAMPTZ NOT NULL,
	ready      BOOLEAN NOT NULL DEFAULT TRUE
);

-- The agents offered a call, one row an agent: a node inserts the row before it
-- rings the agent and deletes it when the agent is free again. The primary key
-- makes the claim exclusive: exactly one node offers a call to an agent at a time.
CREATE TABLE agent_claims (
	agent      TEXT PRIMARY KEY,
	call       TEXT NOT NULL,              -- the Call-ID of the caller offered
	node       TEXT NOT NULL,              -- the node ringing the agent
	claimed_at TIMESTAMPTZ NOT NULL
);

-- A change of an agent's phone or claim wakes the other nodes (LISTEN
-- hotline_agents) at once, rather than at their next heartbeat. Row triggers:
-- an UPDATE or DELETE that changes nothing says nothing.
CREATE FUNCTION hotline_agents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('hotline_agents', '');
	RETURN NULL;
END
$$;
CREATE TRIGGER agent_phones_changed AFTER INSERT OR UPDATE OR DELETE ON agent_phones
	FOR EACH ROW EXECUTE FUNCTION hotline_agents_changed();
CREATE TRIGGER agent_claims_changed AFTER INSERT OR UPDATE OR DELETE ON agent_claims
	FOR EACH ROW EXECUTE FUNCTION hotline_agents_changed();
