-- The web workspace's sign-in. A one-time link and a session cookie are stored only as the hex
-- SHA-256 of their value: a copy of the database signs nobody in.
CREATE TABLE web_links (
    token_hash    TEXT    NOT NULL PRIMARY KEY,
    platform      TEXT    NOT NULL,
    workspace     TEXT    NOT NULL,
    person_id     TEXT    NOT NULL,
    person_name   TEXT    NOT NULL,
    expires_at_us BIGINT  NOT NULL,
    used_at_us    BIGINT
);

CREATE TABLE web_sessions (
    session_hash  TEXT    NOT NULL PRIMARY KEY,
    platform      TEXT    NOT NULL,
    workspace     TEXT    NOT NULL,
    person_id     TEXT    NOT NULL,
    person_name   TEXT    NOT NULL,
    csrf          TEXT    NOT NULL,
    created_at_us BIGINT  NOT NULL,
    expires_at_us BIGINT  NOT NULL
);

-- The workspace (Slack team, Discord guild, `console`) each channel belongs to: a person signed
-- in from one sees its channels' incidents only.
CREATE TABLE channel_workspaces (
    platform  TEXT NOT NULL,
    channel   TEXT NOT NULL,
    workspace TEXT NOT NULL,
    PRIMARY KEY (platform, channel)
);

CREATE INDEX channel_workspaces_by_workspace ON channel_workspaces (platform, workspace);
