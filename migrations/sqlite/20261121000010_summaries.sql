-- Timers, an outbox and summaries: deadlines are data, not sleeps.

-- A deadline. The scheduler fires what is due; claiming a timer (fired_at) and writing what it
-- produces happen in one transaction, so a restart neither skips nor repeats one.
CREATE TABLE timers (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,
    -- Idempotency: one timer per kind and due time (e.g. summary:2026-11-21T10:00:00.000Z).
    key      TEXT NOT NULL UNIQUE,
    due_at   TEXT NOT NULL,
    fired_at TEXT,
    payload  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX timers_pending ON timers (due_at) WHERE fired_at IS NULL;

-- Messages produced by a fired timer, delivered after the transaction that produced them.
-- A destination is a channel id, or a user id for a direct message.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    timer_id    INTEGER REFERENCES timers (id),
    destination TEXT NOT NULL,
    text        TEXT NOT NULL,
    blocks      TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;

-- Summaries: what each covered, for "resolved since the last summary" and quiet mode.
CREATE TABLE summaries (
    id             INTEGER PRIMARY KEY,
    timer_id       INTEGER NOT NULL UNIQUE REFERENCES timers (id),
    at             TEXT    NOT NULL,
    open_count     INTEGER NOT NULL,
    resolved_count INTEGER NOT NULL,
    -- 0 when nothing was open or resolved and the previous summary already said so.
    sent           INTEGER NOT NULL
);

-- Recipients Slack refused (a manager id that does not exist): reported once, not every time.
CREATE TABLE recipient_problems (
    recipient  TEXT PRIMARY KEY,
    error      TEXT NOT NULL,
    first_seen TEXT NOT NULL
);
