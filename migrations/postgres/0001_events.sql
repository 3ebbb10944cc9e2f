-- The append-only log of chat events. The key columns make a redelivered event a no-op.
CREATE TABLE events (
    seq      BIGSERIAL PRIMARY KEY,
    platform TEXT      NOT NULL,
    channel  TEXT      NOT NULL,
    message  TEXT      NOT NULL,
    kind     TEXT      NOT NULL,
    at_us    BIGINT    NOT NULL,
    payload  TEXT      NOT NULL,
    UNIQUE (platform, channel, message, kind)
);

CREATE INDEX events_by_channel ON events (platform, channel, seq);
