-- The outbox: durable jobs written in the same transaction as the meeting change they follow up on.
-- A meeting's calendar state: whose calendar holds its event now, and which change the calendar has caught
-- up with (calendar_version is bumped by every change the calendar must follow).
ALTER TABLE meetings ADD COLUMN calendar_agent_id TEXT;
ALTER TABLE meetings ADD COLUMN calendar_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE meetings ADD COLUMN calendar_synced_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    meeting_id    TEXT,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'done', 'dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    run_at        INTEGER NOT NULL,
    -- a worker's claim: until then no other worker takes the job; a crashed worker's claim runs out
    locked_until  INTEGER,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'pending';
CREATE INDEX jobs_by_status ON jobs (status, updated_at);
