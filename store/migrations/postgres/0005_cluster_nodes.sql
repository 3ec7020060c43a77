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
	draining     BOOLEAN     NOT NULL DEFAULT FALSE -- true once it stops taking calls
);
