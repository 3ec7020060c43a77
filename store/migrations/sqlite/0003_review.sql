-- Conversation review: what the rule flow understood each reply to serve,
-- supervisors' marks on Hotline's answers, and the example phrases they
-- add to intents.

-- The intent Hotline's reply served ('' when none: a fallback, a
-- knowledge answer, a caller's turn), for filtering calls by intent.
ALTER TABLE turns ADD COLUMN intent TEXT NOT NULL DEFAULT '';
CREATE INDEX turns_intent ON turns (intent, call) WHERE intent <> '';

-- One mark a Hotline turn, the latest a supervisor gave. correction is
-- redacted.
CREATE TABLE answer_marks (
	call       INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	verdict    TEXT    NOT NULL CHECK (verdict IN ('good', 'wrong')),
	correction TEXT    NOT NULL DEFAULT '',
	marked_by  TEXT    NOT NULL,
	marked_at  INTEGER NOT NULL,
	PRIMARY KEY (call, seq)
) STRICT;
CREATE INDEX answer_marks_verdict ON answer_marks (verdict, call);

-- Example phrases added to the flow's intents; the rule brain matches
-- them beside the flow file's own. phrase is redacted. call and seq name
-- the answer it corrects, when it came from a review.
CREATE TABLE intent_examples (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	intent   TEXT    NOT NULL,
	lang     TEXT    NOT NULL,
	phrase   TEXT    NOT NULL,
	call     INTEGER REFERENCES calls (id) ON DELETE SET NULL,
	seq      INTEGER,
	added_by TEXT    NOT NULL,
	added_at INTEGER NOT NULL,
	UNIQUE (intent, lang, phrase)
) STRICT;
