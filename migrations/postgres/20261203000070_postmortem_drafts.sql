-- PostgreSQL: the same schema as migrations/sqlite/20261203000010_postmortem_drafts.sql,
-- translated: BIGINT for INTEGER, TEXT COLLATE "C" so text compares and sorts byte by byte
-- as in SQLite (times are sortable text).

-- Postmortem drafts posted (issue 19, reports): which incidents have one, for "incidents
-- without a postmortem draft" in the managers' report. One row per incident, written after
-- the draft reached Slack; drafting again moves last_drafted_at and counts it.
CREATE TABLE postmortem_drafts (
    incident_id      BIGINT           PRIMARY KEY REFERENCES incidents (id),
    first_drafted_at TEXT COLLATE "C" NOT NULL,
    last_drafted_at  TEXT COLLATE "C" NOT NULL,
    -- Who asked for the latest one (a Slack user id).
    drafted_by       TEXT COLLATE "C" NOT NULL,
    drafts           BIGINT           NOT NULL DEFAULT 1
);
