-- Escalation to AWS Support (issue 4): nudge state, Support cases and their correspondence.
-- The timeline keeps the human-readable story; these tables keep what the clocks and the
-- mirror need to decide, so a restart neither repeats a nudge nor re-posts a reply.

-- Per incident: what people said and when warroom last nudged.
CREATE TABLE escalation (
    incident_id        INTEGER PRIMARY KEY REFERENCES incidents (id),
    -- NULL: nobody said; the evidence (alarm, Health event) decides.
    aws_involved       TEXT CHECK (aws_involved IN ('yes', 'no')),
    snoozed_until      TEXT,
    last_open_case     TEXT,
    last_aws_quiet     TEXT,
    last_stale_update  TEXT
);

-- An AWS Support case. The row is written before CreateCase is called (case_id NULL), so
-- a retry after a crash looks for the case it may already have made instead of opening a
-- second one.
CREATE TABLE support_cases (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    -- The inbox key of the request (button, modal or command): a replay finds this row.
    source_key   TEXT    NOT NULL UNIQUE,
    case_id      TEXT    UNIQUE,
    display_id   TEXT,
    subject      TEXT    NOT NULL,
    severity     TEXT    NOT NULL
                 CHECK (severity IN ('low', 'normal', 'high', 'urgent', 'critical')),
    -- The rest of the request, kept so a retry sends exactly what was asked for.
    body          TEXT   NOT NULL,
    service_code  TEXT,
    category_code TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    -- requested (CreateCase not answered yet), failed, or AWS's status (opened, resolved, …)
    status       TEXT    NOT NULL,
    requested_by TEXT    NOT NULL,
    requested_at TEXT    NOT NULL,
    opened_at    TEXT,
    resolved_at  TEXT,
    error        TEXT
);
CREATE INDEX support_cases_by_incident ON support_cases (incident_id, id);

-- Messages on a case: AWS's replies (mirrored into the channel once) and the customer's.
CREATE TABLE support_communications (
    id           INTEGER PRIMARY KEY,
    case_row     INTEGER NOT NULL REFERENCES support_cases (id),
    -- Communication::key() for what DescribeCommunications returned; sent:<inbox key> for
    -- what warroom sent (matched by body when it comes back).
    key          TEXT    NOT NULL UNIQUE,
    from_aws     INTEGER NOT NULL,
    submitted_by TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    -- JSON array of attachment file names.
    attachments  TEXT    NOT NULL DEFAULT '[]',
    time_created TEXT    NOT NULL,
    recorded_at  TEXT    NOT NULL
);
CREATE INDEX support_communications_by_case ON support_communications (case_row, time_created);
