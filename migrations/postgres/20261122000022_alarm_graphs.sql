-- PostgreSQL: the same schema as migrations/sqlite/20261122000022_alarm_graphs.sql, translated:
-- BIGINT for INTEGER, BYTEA for BLOB, TEXT COLLATE "C" so text compares and sorts byte by
-- byte as in SQLite (times are sortable text).

-- The alarm's graph, kept for the postmortem (issue 22): the PNG warroom fetched with
-- GetMetricWidgetImage (the HTML page embeds it), the Slack file it was shared as (the
-- Markdown draft links it), or why there is none. One per alarm per incident; posting it
-- again after a crash replaces the row.
CREATE TABLE alarm_graphs (
    incident_id   BIGINT           NOT NULL REFERENCES incidents (id),
    alarm_name    TEXT COLLATE "C" NOT NULL,
    title         TEXT COLLATE "C" NOT NULL,
    -- NULL when AWS gave no image.
    png           BYTEA,
    slack_file_id TEXT COLLATE "C",
    permalink     TEXT COLLATE "C",
    -- Why the graph is missing or was not shared in Slack (NULL when all went well).
    unavailable   TEXT COLLATE "C",
    posted_at     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (incident_id, alarm_name)
);
