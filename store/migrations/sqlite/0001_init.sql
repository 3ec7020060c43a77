-- The records of calls. Times are microseconds since the Unix epoch (UTC),
-- durations milliseconds. STRICT: SQLite checks the column types.

-- One row a call: the call detail record. disposition is '' while the call
-- is open (ended_at IS NULL).
CREATE TABLE calls (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	call_id      TEXT    NOT NULL,            -- SIP Call-ID or browser session id
	node         TEXT    NOT NULL DEFAULT '', -- the server node that took the call
	from_number  TEXT    NOT NULL DEFAULT '',
	to_number    TEXT    NOT NULL DEFAULT '',
	channel      TEXT    NOT NULL DEFAULT 'trunk', -- trunk or browser
	trunk        TEXT    NOT NULL DEFAULT '',
	started_at   INTEGER NOT NULL,
	answered_at  INTEGER,
	ended_at     INTEGER,
	disposition  TEXT    NOT NULL DEFAULT '',
	hangup_cause TEXT    NOT NULL DEFAULT '',
	hangup_side  TEXT    NOT NULL DEFAULT '',
	queue        TEXT    NOT NULL DEFAULT '',
	agent        TEXT    NOT NULL DEFAULT '',
	wait_ms      INTEGER NOT NULL DEFAULT 0,
	talk_ms      INTEGER NOT NULL DEFAULT 0,
	turns        INTEGER NOT NULL DEFAULT 0   -- turns written so far; the next seq is turns + 1
) STRICT;
CREATE INDEX calls_started_at  ON calls (started_at, id);
CREATE INDEX calls_from_number ON calls (from_number, started_at, id);
CREATE INDEX calls_to_number   ON calls (to_number, started_at, id);
CREATE INDEX calls_disposition ON calls (disposition, started_at, id);
CREATE INDEX calls_call_id     ON calls (call_id);
CREATE INDEX calls_open        ON calls (node) WHERE ended_at IS NULL;

-- What was said, one row a turn, written as each turn ends. text is redacted.
CREATE TABLE turns (
	call        INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	speaker     TEXT    NOT NULL,             -- caller, hotline or agent
	text        TEXT    NOT NULL DEFAULT '',
	prompt      TEXT    NOT NULL DEFAULT '',
	dtmf        TEXT    NOT NULL DEFAULT '',
	duration_ms INTEGER NOT NULL DEFAULT 0,
	latency_ms  INTEGER NOT NULL DEFAULT 0,
	provider    TEXT    NOT NULL DEFAULT '',
	confidence  REAL,                         -- NULL when the engine gives none
	interrupted INTEGER NOT NULL DEFAULT 0,
	emotion     TEXT CHECK (emotion IS NULL OR json_valid(emotion)), -- the emotion cue
	emotion_label TEXT NOT NULL DEFAULT '',   -- the cue's "label", for filtering calls
	PRIMARY KEY (call, seq)
) STRICT;
CREATE INDEX turns_at      ON turns (at);
CREATE INDEX turns_emotion ON turns (emotion_label, call) WHERE emotion_label <> '';

CREATE TABLE transfers (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	call    INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	at      INTEGER NOT NULL,
	queue   TEXT    NOT NULL DEFAULT '',
	agent   TEXT    NOT NULL DEFAULT '',
	target  TEXT    NOT NULL DEFAULT '',      -- a number or URI outside Hotline
	reason  TEXT    NOT NULL DEFAULT '',
	summary TEXT    NOT NULL DEFAULT ''       -- redacted; a transcript for retention
) STRICT;
CREATE INDEX transfers_call ON transfers (call);
CREATE INDEX transfers_at   ON transfers (at);

CREATE TABLE recordings (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	call        INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	path        TEXT    NOT NULL UNIQUE,
	kind        TEXT    NOT NULL,             -- call or message
	started_at  INTEGER NOT NULL,
	duration_ms INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX recordings_call       ON recordings (call);
CREATE INDEX recordings_started_at ON recordings (started_at);

CREATE TABLE callbacks (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	call         INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	number       TEXT    NOT NULL,
	requested_at INTEGER NOT NULL,
	due_at       INTEGER,
	note         TEXT    NOT NULL DEFAULT '', -- redacted; a transcript for retention
	status       TEXT    NOT NULL DEFAULT 'pending', -- pending, done or cancelled
	done_at      INTEGER
) STRICT;
CREATE INDEX callbacks_call   ON callbacks (call);
CREATE INDEX callbacks_status ON callbacks (status, due_at);
CREATE INDEX callbacks_requested_at ON callbacks (requested_at, id);

CREATE TABLE crisis_alerts (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	call            INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	at              INTEGER NOT NULL,
	category        TEXT    NOT NULL,         -- self_harm, violence, medical, ...
	excerpt         TEXT    NOT NULL DEFAULT '', -- redacted; a transcript for retention
	action          TEXT    NOT NULL DEFAULT '', -- what Hotline did
	acknowledged_at INTEGER,
	acknowledged_by TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX crisis_alerts_call ON crisis_alerts (call);
CREATE INDEX crisis_alerts_at   ON crisis_alerts (at, id);
