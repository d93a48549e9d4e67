-- Events the worker set aside because they kept failing: kept with their error (last_error)
-- until an operator replays them (`warroom inbox --retry`); pruning leaves them alone.
ALTER TABLE inbox ADD COLUMN failed_at TEXT;
CREATE INDEX inbox_failed ON inbox (id) WHERE failed_at IS NOT NULL;

-- Processed events are pruned by age (`[database] keep_raw_events`).
CREATE INDEX inbox_processed ON inbox (processed_at) WHERE processed_at IS NOT NULL;
