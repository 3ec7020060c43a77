-- The knowledge article, and its version, a turn of Hotline's answered
-- from: which text the caller heard. Empty and 0 for other turns.
ALTER TABLE turns ADD COLUMN article TEXT NOT NULL DEFAULT '';
ALTER TABLE turns ADD COLUMN article_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX turns_article ON turns (article, article_version) WHERE article <> '';
