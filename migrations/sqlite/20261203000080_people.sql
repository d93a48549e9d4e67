-- People (issue 18): display names learned from Slack's users.info, and the incident roles
-- besides the lead.

-- The names cache. User ids stay the key everywhere else; this only says how to show one.
-- `name` is NULL when Slack did not know the user (user_not_found): shown as the id, and
-- asked again once the row is older than a day, like every other row.
CREATE TABLE user_names (
    user_id    TEXT PRIMARY KEY,
    name       TEXT,
    fetched_at TEXT NOT NULL
);

-- Who holds which of the `[incident] roles` in an incident: one person per role, replaced
-- when the role is handed over (the timeline keeps the history as `role_assigned` entries).
CREATE TABLE incident_roles (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    role        TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    assigned_at TEXT    NOT NULL,
    PRIMARY KEY (incident_id, role)
);

-- Who joined an incident channel after it was set up and has been sent the catch-up, so
-- a redelivered or replayed join sends it once.
CREATE TABLE catchups_sent (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    user_id     TEXT    NOT NULL,
    sent_at     TEXT    NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);
