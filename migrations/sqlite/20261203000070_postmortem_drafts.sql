-- Postmortem drafts posted (issue 19, reports): which incidents have one, for "incidents
-- without a postmortem draft" in the managers' report. One row per incident, written after
-- the draft reached Slack; drafting again moves last_drafted_at and counts it.
CREATE TABLE postmortem_drafts (
    incident_id      INTEGER PRIMARY KEY REFERENCES incidents (id),
    first_drafted_at TEXT    NOT NULL,
    last_drafted_at  TEXT    NOT NULL,
    -- Who asked for the latest one (a Slack user id).
    drafted_by       TEXT    NOT NULL,
    drafts           INTEGER NOT NULL DEFAULT 1
);
