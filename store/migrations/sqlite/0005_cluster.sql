-- The nodes sharing this database, one row a running node (see docs/cluster.md).
-- A node refreshes heartbeat_at every store.heartbeat and deletes its row when
-- it stops; a row older than store.node_timeout is a dead node, whose open calls
-- another node closes as interrupted. With SQLite there is one node, and the
-- table holds just it.
CREATE TABLE cluster_nodes (
	name         TEXT    PRIMARY KEY,
	sip          TEXT    NOT NULL DEFAULT '', -- the node's SIP address, host:port
	api          TEXT    NOT NULL DEFAULT '', -- the node's API address, host:port
	started_at   INTEGER NOT NULL,
	heartbeat_at INTEGER NOT NULL,
	draining     INTEGER NOT NULL DEFAULT 0,  -- 1 once it stops taking calls
	queues       TEXT    NOT NULL DEFAULT '[]' -- JSON: its callers waiting, by queue
) STRICT;

-- Agents' SIP phones, registered with one node and reachable from every node
-- (a cluster shares PostgreSQL: with SQLite's one node these stay empty):
-- a caller queued on any node may be offered to the agent. ready is the agent's
-- own choice as their phone's node knows it (not ready, signed off: false).
CREATE TABLE agent_phones (
	agent      TEXT PRIMARY KEY,
	node       TEXT NOT NULL,              -- the node the phone registered with
	contact    TEXT NOT NULL,              -- the phone's Contact URI
	source     TEXT NOT NULL,              -- host:port the REGISTER came from
	transport  TEXT NOT NULL DEFAULT 'udp',
	expires_at INTEGER NOT NULL,
	ready      INTEGER NOT NULL DEFAULT 1
) STRICT;

-- The agents offered a call, one row an agent: a node inserts the row before it
-- rings the agent and deletes it when the agent is free again. The primary key
-- makes the claim exclusive: exactly one node offers a call to an agent at a time.
CREATE TABLE agent_claims (
	agent      TEXT PRIMARY KEY,
	call       TEXT NOT NULL,              -- the Call-ID of the caller offered
	node       TEXT NOT NULL,              -- the node ringing the agent
	claimed_at INTEGER NOT NULL
) STRICT;
