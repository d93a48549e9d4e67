-- Incident types and checklists (issue 18 part 4).

-- The `[[incident.types]]` entry an incident was opened with (declare's `type:<name>` or
-- an alarm route's `type`); NULL for an incident without a type.
ALTER TABLE incidents ADD COLUMN incident_type TEXT;
-- 1 once the checklist messages are in the outbox: a war-room set-up step, so a replay
-- queues them once.
ALTER TABLE incidents ADD COLUMN checklist_queued INTEGER NOT NULL DEFAULT 0;

-- The type's checklist as it was when the incident opened (a later config change leaves
-- an open incident's checklist alone), and who ticked each step when.
CREATE TABLE checklist_steps (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    position    INTEGER NOT NULL,
    text        TEXT    NOT NULL,
    runbook     TEXT,
    done_by     TEXT,
    done_at     TEXT,
    PRIMARY KEY (incident_id, position)
);
