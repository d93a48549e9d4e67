-- Core schema: the inbox of received Slack events, incidents, and their timeline.
-- Times are UTC text in one fixed format (YYYY-MM-DDTHH:MM:SS.mmmZ) so they sort as text.

-- Every event Slack delivered, written before its envelope is acked. The unique key
-- (Slack's event_id, or the slash command's trigger_id) makes redeliveries no-ops.
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY,
    dedupe_key   TEXT    NOT NULL UNIQUE,
    payload      TEXT    NOT NULL,
    received_at  TEXT    NOT NULL,
    processed_at TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX inbox_pending ON inbox (id) WHERE processed_at IS NULL;

CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY,
    -- What opened it (the inbox row of the declare command); unique so a replay never
    -- opens a second incident.
    source_key    TEXT    NOT NULL UNIQUE,
    title         TEXT    NOT NULL,
    severity      INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 4),
    status        TEXT    NOT NULL
                  CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    lead_user     TEXT,
    declared_by   TEXT    NOT NULL,
    opened_at     TEXT    NOT NULL,
    resolved_at   TEXT,
    -- The channel name being created (recorded before conversations.create, so a retry
    -- after a crash can recognise the channel it made).
    channel_name  TEXT    NOT NULL,
    channel_id    TEXT    UNIQUE,
    header_ts     TEXT,
    header_pinned INTEGER NOT NULL DEFAULT 0,
    members_invited INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX incidents_by_status ON incidents (status);

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    -- Idempotency key: msg:<channel>:<ts> for messages, inbox:<id> for commands, …
    dedupe_key  TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL,
    occurred_at TEXT    NOT NULL,
    recorded_at TEXT    NOT NULL,
    actor       TEXT,
    text        TEXT    NOT NULL,
    slack_ts    TEXT,
    thread_ts   TEXT,
    key_event   INTEGER NOT NULL DEFAULT 0,
    edited_at   TEXT,
    deleted_at  TEXT
);
CREATE INDEX timeline_by_incident ON timeline (incident_id, occurred_at, id);
CREATE INDEX timeline_by_ts ON timeline (incident_id, slack_ts);

-- Earlier texts of edited or deleted messages: the timeline keeps its history.
CREATE TABLE timeline_revisions (
    id          INTEGER PRIMARY KEY,
    entry_id    INTEGER NOT NULL REFERENCES timeline (id),
    text        TEXT    NOT NULL,
    replaced_at TEXT    NOT NULL
);
CREATE INDEX revisions_by_entry ON timeline_revisions (entry_id);
