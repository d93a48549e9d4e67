-- The alarm's graph, kept for the postmortem (issue 22): the PNG warroom fetched with
-- GetMetricWidgetImage (the HTML page embeds it), the Slack file it was shared as (the
-- Markdown draft links it), or why there is none. One per alarm per incident; posting it
-- again after a crash replaces the row.
CREATE TABLE alarm_graphs (
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    alarm_name    TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    -- NULL when AWS gave no image.
    png           BLOB,
    slack_file_id TEXT,
    permalink     TEXT,
    -- Why the graph is missing or was not shared in Slack (NULL when all went well).
    unavailable   TEXT,
    posted_at     TEXT    NOT NULL,
    PRIMARY KEY (incident_id, alarm_name)
);
