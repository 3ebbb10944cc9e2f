-- Full-text search: one document per incident, kept current from the log by the indexer
-- (which also fills it for the incidents stored before this table existed).
CREATE TABLE search_docs (
    rowid            INTEGER PRIMARY KEY,
    incident         TEXT    NOT NULL UNIQUE,
    platform         TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    severity         TEXT,
    started_at_us    INTEGER NOT NULL,
    duration_minutes INTEGER,
    closed           INTEGER NOT NULL,
    digest           TEXT    NOT NULL
);

CREATE INDEX search_docs_by_channel ON search_docs (platform, channel);

-- The text, ranked by BM25; the rowid is the document's. Porter stemming, accents folded.
CREATE VIRTUAL TABLE search_text USING fts5(
    title, body, messages,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
