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
	draining     INTEGER NOT NULL DEFAULT 0   -- 1 once it stops taking calls
) STRICT;
