-- PostgreSQL: the same schema as migrations/sqlite/20261203000060_drills.sql, translated:
-- BIGINT for INTEGER, TEXT COLLATE "C" so text compares and sorts byte by byte as in SQLite.

-- Drills (issue 19): rehearsal incidents opened from a synthetic alarm on a route. A drill
-- is an incident row with a negative id (-1, -2, …; the identity column takes explicit
-- ids and its counter is not moved by them), so real incidents keep their gap-free
-- numbering; this table holds what only a drill has.
CREATE TABLE drills (
    incident_id   BIGINT           PRIMARY KEY REFERENCES incidents (id),
    source_key    TEXT COLLATE "C" NOT NULL UNIQUE,
    route         TEXT COLLATE "C" NOT NULL,
    real_case     BIGINT           NOT NULL DEFAULT 0,
    requested_by  TEXT COLLATE "C" NOT NULL,
    requested_at  TEXT COLLATE "C" NOT NULL,
    first_post_ts TEXT COLLATE "C",
    dry_run_at       TEXT COLLATE "C",
    dry_run_by       TEXT COLLATE "C",
    dry_run_severity TEXT COLLATE "C",
    dry_run_subject  TEXT COLLATE "C",
    dry_run_body     TEXT COLLATE "C",
    scorecard     TEXT COLLATE "C"
);
CREATE INDEX drills_by_route ON drills (route);
