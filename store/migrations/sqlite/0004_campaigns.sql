-- Outbound campaigns: the campaign, its contacts, every call attempt, and
-- the do-not-call list. Times are microseconds since the Unix epoch (UTC).

-- spec is the campaign's definition as JSON (script, calling hours, pacing,
-- retry policy); state is draft, running, paused, stopped or completed.
CREATE TABLE campaigns (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT    NOT NULL,
	spec       TEXT    NOT NULL CHECK (json_valid(spec)),
	state      TEXT    NOT NULL DEFAULT 'draft',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;

-- One row a number to call. status is pending until the contact needs no
-- more attempts (done) or was found on the do-not-call list (dnc); next_at
-- is the earliest time of its next attempt.
CREATE TABLE campaign_contacts (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	campaign     INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
	line         INTEGER NOT NULL DEFAULT 0, -- line of the uploaded CSV, 0 from JSON
	number       TEXT    NOT NULL,
	name         TEXT    NOT NULL DEFAULT '',
	language     TEXT    NOT NULL DEFAULT '',
	time_zone    TEXT    NOT NULL DEFAULT '',
	fields       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(fields)),
	status       TEXT    NOT NULL DEFAULT 'pending',
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_at      INTEGER,
	last_outcome TEXT    NOT NULL DEFAULT '',
	UNIQUE (campaign, number)
) STRICT;
CREATE INDEX campaign_contacts_campaign ON campaign_contacts (campaign, id);

-- One row a call placed to a contact, written when it ends.
CREATE TABLE campaign_attempts (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	campaign   INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
	contact    INTEGER NOT NULL REFERENCES campaign_contacts (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,           -- the contact's attempt number, from 1
	started_at INTEGER NOT NULL,
	ended_at   INTEGER NOT NULL,
	outcome    TEXT    NOT NULL,
	sip_code   INTEGER NOT NULL DEFAULT 0, -- the final failure response, 0 when answered
	call_id    TEXT    NOT NULL DEFAULT '',
	detail     TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX campaign_attempts_campaign ON campaign_attempts (campaign, id);

-- Numbers never to call, whatever the campaign.
CREATE TABLE do_not_call (
	number   TEXT    PRIMARY KEY,
	reason   TEXT    NOT NULL DEFAULT '',
	added_at INTEGER NOT NULL
) STRICT;
