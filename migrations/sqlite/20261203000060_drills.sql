-- Drills (issue 19): rehearsal incidents opened from a synthetic alarm on a route. A drill
-- is an incident row with a negative id (-1, -2, …), so real incidents keep their gap-free
-- numbering; this table holds what only a drill has. One row per drill, written with its
-- incident in one unit of work.
CREATE TABLE drills (
    incident_id   INTEGER PRIMARY KEY REFERENCES incidents (id),
    -- The request that started it (the inbox row of `/incident drill` or `warroom drill`);
    -- unique so a replay or a retried CLI call never opens a second drill.
    source_key    TEXT    NOT NULL UNIQUE,
    route         TEXT    NOT NULL,
    -- 1 when started with --real-case by a member of [escalation] support_usergroup:
    -- CreateCase is then called for real.
    real_case     INTEGER NOT NULL DEFAULT 0,
    requested_by  TEXT    NOT NULL,
    requested_at  TEXT    NOT NULL,
    -- The synthetic alarm's post (graph placeholder and Health note) is done.
    first_post_ts TEXT,
    -- The AWS Support case warroom would have opened (a dry run): when, and what.
    dry_run_at       TEXT,
    dry_run_by       TEXT,
    dry_run_severity TEXT,
    dry_run_subject  TEXT,
    dry_run_body     TEXT,
    -- The scorecard (JSON, domain::drill::Scorecard) of its latest resolve.
    scorecard     TEXT
);
CREATE INDEX drills_by_route ON drills (route);
