-- CloudWatch alarms (issue 3): transitions recorded before anything is posted, which
-- incidents they opened or joined, and what AWS Health reported.

-- One row per alarm state transition, identified by the alarm's ARN and CloudWatch's
-- StateUpdatedTimestamp. Written as soon as the poller sees it, before any Slack call, so a
-- crash between the two never opens a second incident: the restarted bot finds the row.
CREATE TABLE alarm_transitions (
    id               INTEGER PRIMARY KEY,
    alarm_arn        TEXT    NOT NULL,
    state_updated_at TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('ALARM', 'OK', 'INSUFFICIENT_DATA')),
    alarm_name       TEXT    NOT NULL,
    region           TEXT    NOT NULL,
    -- The alarm as seen at the transition (JSON), for the posts and the postmortem.
    alarm            TEXT    NOT NULL,
    recorded_at      TEXT    NOT NULL,
    -- Routing and correlation, done in one transaction with the links and the timeline
    -- entry: 'opened', 'joined', 'repeat', 'recovered', 'ignored' (route opens no
    -- incident) or 'unlinked' (a recovery of an alarm no open incident has).
    decided_at       TEXT,
    outcome          TEXT,
    route            TEXT,
    incident_id      INTEGER REFERENCES incidents (id),
    -- When its post reached the incident channel (NULL while still to post).
    posted_at        TEXT,
    UNIQUE (alarm_arn, state_updated_at)
);
CREATE INDEX alarm_transitions_undecided ON alarm_transitions (id) WHERE decided_at IS NULL;
CREATE INDEX alarm_transitions_unposted ON alarm_transitions (incident_id, id)
    WHERE posted_at IS NULL AND incident_id IS NOT NULL;

-- Which alarms belong to which incident: correlation reads the open ones, recovery
-- watches the ones still in ALARM.
CREATE TABLE alarm_links (
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    alarm_arn     TEXT    NOT NULL,
    alarm_name    TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    route         TEXT    NOT NULL,
    -- The alarm's latest known state and its latest ALARM transition.
    state         TEXT    NOT NULL,
    last_alarm_at TEXT    NOT NULL,
    PRIMARY KEY (incident_id, alarm_arn)
);
CREATE INDEX alarm_links_by_arn ON alarm_links (alarm_arn);

-- Incidents an alarm opened, and the war-room steps beyond the common set-up (channel,
-- invites, header, pin), each recorded so a restart resumes instead of repeating.
CREATE TABLE alarm_incidents (
    incident_id       INTEGER PRIMARY KEY REFERENCES incidents (id),
    -- The transition that opened it.
    transition_id     INTEGER NOT NULL UNIQUE REFERENCES alarm_transitions (id),
    route             TEXT    NOT NULL,
    first_post_ts     TEXT,
    graph_done_at     TEXT,
    -- The AWS Health service and region to ask about (NULL: nothing to ask).
    health_service    TEXT,
    health_region     TEXT,
    health_checked_at TEXT,
    -- Slack said 429 (or failed): not before this time. Nothing is dropped, only delayed.
    retry_at          TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT
);

-- AWS Health events posted in an incident: a new event, or a new lastUpdatedTime of one,
-- is posted once.
CREATE TABLE health_events_seen (
    incident_id     INTEGER NOT NULL REFERENCES incidents (id),
    event_arn       TEXT    NOT NULL,
    last_updated_at TEXT    NOT NULL,
    service         TEXT    NOT NULL,
    region          TEXT,
    event_type      TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    started_at      TEXT,
    seen_at         TEXT    NOT NULL,
    PRIMARY KEY (incident_id, event_arn, last_updated_at)
);

-- What warroom learned about the AWS account at run time, e.g. that the Health API needs a
-- support plan it does not have (said once, then never asked again).
CREATE TABLE aws_facts (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    learned_at TEXT NOT NULL
);
