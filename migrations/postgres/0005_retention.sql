-- Retention: a deleted event keeps its key (and nothing else) for a while, marked with when it
-- was forgotten, so that a platform delivering it again still finds it and stores nothing.
ALTER TABLE events ADD COLUMN forgotten_us BIGINT;

CREATE INDEX events_forgotten ON events (forgotten_us) WHERE forgotten_us IS NOT NULL;
