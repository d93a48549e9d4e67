-- PostgreSQL: the same schema as migrations/sqlite/20261203000080_people.sql, translated:
-- BIGINT for INTEGER, TEXT COLLATE "C" so text compares and sorts byte by byte as in SQLite.

CREATE TABLE user_names (
    user_id    TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT COLLATE "C",
    fetched_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE incident_roles (
    incident_id BIGINT           NOT NULL REFERENCES incidents (id),
    role        TEXT COLLATE "C" NOT NULL,
    user_id     TEXT COLLATE "C" NOT NULL,
    assigned_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (incident_id, role)
);

CREATE TABLE catchups_sent (
    incident_id BIGINT           NOT NULL REFERENCES incidents (id),
    user_id     TEXT COLLATE "C" NOT NULL,
    sent_at     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);
