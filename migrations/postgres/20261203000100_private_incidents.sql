-- Private incidents (issue 18 part 5): declared with `--private` (or by an incident type
-- marked private), run in a private Slack channel, and shown outside it only as "a private
-- SEV2 incident, lead @x" (`domain::privacy`). A 0/1 flag, like every other flag here.
ALTER TABLE incidents ADD COLUMN private BIGINT NOT NULL DEFAULT 0;
