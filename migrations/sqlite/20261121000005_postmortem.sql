-- Postmortem drafts (issue 5): action items and structured change data.

-- Action items (`/incident action <text> [@owner]`), numbered per incident from 1. The
-- inbox key of the command that added it is unique, so a replay never adds a second one.
CREATE TABLE action_items (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    number      INTEGER NOT NULL CHECK (number >= 1),
    text        TEXT    NOT NULL,
    owner       TEXT,
    created_by  TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    source_key  TEXT    NOT NULL UNIQUE,
    done_at     TEXT,
    done_by     TEXT,
    UNIQUE (incident_id, number)
);

-- What a change did, as JSON (`{"change":"status","from":"investigating","to":"monitoring"}`),
-- for entries that record domain changes; NULL for messages and older rows. The postmortem
-- reads severity history and time-to-mitigate from it instead of parsing the text.
ALTER TABLE timeline ADD COLUMN data TEXT;
