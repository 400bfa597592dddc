-- Meetings. blocked_from/blocked_until are the meeting with its team's buffers: the range that must not
-- overlap another live meeting of the same agent (checked inside the booking's write transaction).
CREATE TABLE meetings (
    id               TEXT PRIMARY KEY,
    team_id          TEXT NOT NULL REFERENCES teams (id),
    agent_id         TEXT NOT NULL REFERENCES agents (id),
    starts_at        INTEGER NOT NULL,
    ends_at          INTEGER NOT NULL,
    blocked_from     INTEGER NOT NULL,
    blocked_until    INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
    lead_email       TEXT NOT NULL,
    lead_name        TEXT,
    lead_company     TEXT,
    lead_timezone    TEXT,
    session_id       TEXT,
    dialogue_id      TEXT,
    attributes       TEXT NOT NULL DEFAULT '{}',
    routing          TEXT NOT NULL,
    took_place       INTEGER,
    cancel_reason    TEXT,
    calendar_status  TEXT NOT NULL DEFAULT 'pending',
    video_link       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CHECK (ends_at > starts_at AND blocked_from <= starts_at AND blocked_until >= ends_at)
);
CREATE INDEX meetings_live_by_agent ON meetings (agent_id, blocked_from) WHERE status = 'booked';
CREATE INDEX meetings_by_start ON meetings (starts_at, id);
CREATE INDEX meetings_by_lead ON meetings (lead_email);
