-- Full-text search: one document per incident, kept current from the log by the indexer
-- (which also fills it for the incidents stored before this table existed).
CREATE TABLE search_docs (
    incident         TEXT    NOT NULL PRIMARY KEY,
    platform         TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    severity         TEXT,
    started_at_us    BIGINT  NOT NULL,
    duration_minutes BIGINT,
    closed           BOOLEAN NOT NULL,
    body             TEXT    NOT NULL,
    messages         TEXT    NOT NULL,
    digest           TEXT    NOT NULL,
    -- Title weighs most, then the story and timeline, then the messages.
    document         TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', body), 'B')
        || setweight(to_tsvector('english', messages), 'D')
    ) STORED
);

CREATE INDEX search_docs_by_channel ON search_docs (platform, channel);
CREATE INDEX search_docs_document ON search_docs USING GIN (document);
