-- Teams, agents and each team's round-robin queue.
CREATE TABLE agents (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    weekly_hours    TEXT NOT NULL,
    date_overrides  TEXT NOT NULL DEFAULT '{}',
    paused          INTEGER NOT NULL DEFAULT 0,
    calendar        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    deleted_at      INTEGER
);
CREATE UNIQUE INDEX agents_live_email ON agents (lower(email)) WHERE deleted_at IS NULL;

CREATE TABLE teams (
    id                  TEXT PRIMARY KEY,
    slug                TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    meeting_minutes     INTEGER NOT NULL,
    mode                TEXT NOT NULL CHECK (mode IN ('pooled', 'strict')),
    buffer_before       INTEGER NOT NULL,
    buffer_after        INTEGER NOT NULL,
    min_notice_minutes  INTEGER NOT NULL,
    horizon_days        INTEGER NOT NULL,
    slot_step_minutes   INTEGER NOT NULL,
    -- the round-robin pointer: the agent who took the team's last meeting
    last_agent_id       TEXT REFERENCES agents (id),
    created_at          INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id   TEXT NOT NULL REFERENCES teams (id),
    agent_id  TEXT NOT NULL REFERENCES agents (id),
    position  INTEGER NOT NULL,
    PRIMARY KEY (team_id, agent_id)
);
CREATE INDEX team_members_agent ON team_members (agent_id);
