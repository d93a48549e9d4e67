-- PostgreSQL only: several replicas on one database (issue 14).

-- The lease: which replica leads (applies the inbox, runs the timers, the outbox and the
-- pollers), until when, and its term. The term is the fencing token: it grows by one every
-- time the lease is taken after it lapsed, and every transaction of the leader checks it
-- (FOR SHARE) before it writes, so a replica that lost the lease cannot write any more.
-- Times are the database server's (clock_timestamp()), so replicas' clocks do not matter.
CREATE TABLE leadership (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    holder      TEXT COLLATE "C" NOT NULL,
    term        BIGINT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    renewed_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
INSERT INTO leadership (id, holder, term, acquired_at, renewed_at, expires_at)
VALUES (1, '', 0, clock_timestamp(), clock_timestamp(), '-infinity');

-- Every replica records Slack's events into the inbox; the leader's worker applies them.
-- A notification at commit wakes it at once instead of at its next poll.
CREATE FUNCTION warroom_inbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('warroom_inbox', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_notify AFTER INSERT ON inbox
    FOR EACH STATEMENT EXECUTE FUNCTION warroom_inbox_notify();
