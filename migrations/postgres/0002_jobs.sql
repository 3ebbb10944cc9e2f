-- Slow work (Web API calls, uploads, publishing), stored before it runs so a crash loses none.
-- `key` makes enqueueing idempotent; a lease keeps two workers off the same job.
CREATE TABLE jobs (
    id              BIGSERIAL PRIMARY KEY,
    key             TEXT      NOT NULL UNIQUE,
    kind            TEXT      NOT NULL,
    payload         TEXT      NOT NULL,
    state           TEXT      NOT NULL DEFAULT 'pending',
    attempts        INTEGER   NOT NULL DEFAULT 0,
    run_at_us       BIGINT    NOT NULL,
    leased_until_us BIGINT,
    last_error      TEXT
);

CREATE INDEX jobs_due ON jobs (state, run_at_us);
