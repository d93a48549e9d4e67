-- PostgreSQL: the same schema as migrations/sqlite/20261203000090_incident_types.sql,
-- translated: BIGINT for INTEGER, TEXT COLLATE "C" so text compares and sorts byte by byte
-- as in SQLite.

ALTER TABLE incidents ADD COLUMN incident_type TEXT COLLATE "C";
ALTER TABLE incidents ADD COLUMN checklist_queued BIGINT NOT NULL DEFAULT 0;

CREATE TABLE checklist_steps (
    incident_id BIGINT           NOT NULL REFERENCES incidents (id),
    position    BIGINT           NOT NULL,
    text        TEXT COLLATE "C" NOT NULL,
    runbook     TEXT COLLATE "C",
    done_by     TEXT COLLATE "C",
    done_at     TEXT COLLATE "C",
    PRIMARY KEY (incident_id, position)
);
