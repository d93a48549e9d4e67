-- PostgreSQL: the same schema as migrations/sqlite/20261121000030_outbox_sending.sql, translated:
-- BIGINT for INTEGER, identity columns for rowid keys, TEXT COLLATE "C" so text compares and
-- sorts byte by byte as in SQLite (times are sortable text).
-- Effectively-once outbox delivery, and outbox rows that answer to a person.

-- Set (wall-clock time, as Slack's ts are) just before the first chat.postMessage of a row
-- and never moved. A row found "sending" again was interrupted between the post and
-- `sent_at` (a crash, a lost answer, a 5xx): the scheduler first looks in the destination's
-- history for the bot's message with the same text posted since then, and marks the row sent
-- instead of posting it twice.
ALTER TABLE outbox ADD COLUMN sending_at TEXT COLLATE "C";

-- A change notice tells its caller when Slack refuses it for good (archived channel, bot
-- removed): the command's response_url, and what to say before Slack's reason. NULL for
-- summaries and nudges, whose refusals are reported to the status channel once.
ALTER TABLE outbox ADD COLUMN refusal_url TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN refusal_text TEXT COLLATE "C";
