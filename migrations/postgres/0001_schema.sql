-- rondo on PostgreSQL (issue 17): the schema of migrations/sqlite/0001–0015 as it stands after them, in
-- PostgreSQL's own types: instants are timestamptz, ids uuid, JSON jsonb, flags boolean. Later changes come as
-- numbered files here and in sqlite/ alike (migrations are forward-only).
--
-- Double booking is impossible by construction: `meetings_no_overlap` refuses a second live meeting of an
-- agent whose blocked range (the meeting with its team's buffers) overlaps another's.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE agents (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL,
    email               text NOT NULL,
    timezone            text NOT NULL,
    weekly_hours        jsonb NOT NULL,
    date_overrides      jsonb NOT NULL DEFAULT '{}',
    paused              boolean NOT NULL DEFAULT false,
    calendar            text NOT NULL,
    invitation_subject  text,
    invitation_body     text,
    connect_generation  bigint NOT NULL DEFAULT 0,
    daily_limit         integer,
    created_at          timestamptz NOT NULL,
    deleted_at          timestamptz
);
CREATE UNIQUE INDEX agents_live_email ON agents (lower(email)) WHERE deleted_at IS NULL;

CREATE TABLE teams (
    id                  uuid PRIMARY KEY,
    slug                text NOT NULL UNIQUE,
    name                text NOT NULL,
    meeting_minutes     integer NOT NULL,
    mode                text NOT NULL CHECK (mode IN ('pooled', 'strict')),
    buffer_before       integer NOT NULL,
    buffer_after        integer NOT NULL,
    min_notice_minutes  integer NOT NULL,
    horizon_days        integer NOT NULL,
    slot_step_minutes   integer NOT NULL,
    -- the round-robin pointer: the agent who took the team's last meeting (moved under the team row's lock)
    last_agent_id       uuid REFERENCES agents (id),
    daily_limit         integer,
    created_at          timestamptz NOT NULL
);

CREATE TABLE team_members (
    team_id   uuid NOT NULL REFERENCES teams (id),
    agent_id  uuid NOT NULL REFERENCES agents (id),
    position  integer NOT NULL,
    PRIMARY KEY (team_id, agent_id)
);
CREATE INDEX team_members_agent ON team_members (agent_id);

CREATE TABLE meetings (
    id                         uuid PRIMARY KEY,
    team_id                    uuid NOT NULL REFERENCES teams (id),
    agent_id                   uuid NOT NULL REFERENCES agents (id),
    starts_at                  timestamptz NOT NULL,
    ends_at                    timestamptz NOT NULL,
    blocked_from               timestamptz NOT NULL,
    blocked_until              timestamptz NOT NULL,
    status                     text NOT NULL CHECK (status IN ('booked', 'cancelled')),
    lead_email                 text NOT NULL,
    lead_name                  text,
    lead_company               text,
    lead_timezone              text,
    lead_locale                text,
    session_id                 text,
    dialogue_id                text,
    dialogue_name              text,
    page_url                   text,
    attributes                 jsonb NOT NULL DEFAULT '{}',
    routing                    jsonb NOT NULL,
    took_place                 boolean,
    cancel_reason              text,
    calendar_status            text NOT NULL DEFAULT 'pending',
    video_link                 text,
    calendar_agent_id          uuid,
    calendar_cleanup_agent_id  uuid,
    calendar_version           bigint NOT NULL DEFAULT 1,
    calendar_synced_version    bigint NOT NULL DEFAULT 0,
    calendar_lock_until        timestamptz,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    CHECK (ends_at > starts_at AND blocked_from <= starts_at AND blocked_until >= ends_at),
    CONSTRAINT meetings_no_overlap EXCLUDE USING gist (
        agent_id WITH =,
        tstzrange(blocked_from, blocked_until) WITH &&
    ) WHERE (status = 'booked')
);
CREATE INDEX meetings_by_start ON meetings (starts_at, id);
CREATE INDEX meetings_by_lead ON meetings (lower(lead_email));

CREATE TABLE activities (
    seq          bigserial PRIMARY KEY,
    id           uuid NOT NULL UNIQUE,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    meeting_id   uuid NOT NULL,
    data         jsonb NOT NULL
);
CREATE INDEX activities_by_time ON activities (occurred_at);

CREATE TABLE idempotency_keys (
    scope            text NOT NULL,
    key              text NOT NULL,
    request_hash     text NOT NULL,
    claim_token      text,
    -- NULL while the first request is in flight
    response_kind    text,
    response_status  integer,
    response_body    text,
    locked_until     timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY,
    role        text NOT NULL CHECK (role IN ('admin', 'chat')),
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);

-- The outbox; workers claim due jobs with FOR UPDATE SKIP LOCKED.
CREATE TABLE jobs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL,
    meeting_id    uuid,
    target        text,
    status        text NOT NULL CHECK (status IN ('pending', 'done', 'dead')),
    attempts      integer NOT NULL DEFAULT 0,
    run_at        timestamptz NOT NULL,
    locked_until  timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'pending';
CREATE INDEX jobs_by_status ON jobs (status, updated_at);

CREATE TABLE webhook_endpoints (
    id               uuid PRIMARY KEY,
    url              text NOT NULL,
    events           jsonb NOT NULL,
    secret           text NOT NULL,
    disabled_at      timestamptz,
    disabled_reason  text,
    created_at       timestamptz NOT NULL,
    deleted_at       timestamptz
);

CREATE TABLE webhook_deliveries (
    id                uuid PRIMARY KEY,
    endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id),
    activity_id       uuid NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE calendar_connections (
    agent_id           uuid PRIMARY KEY REFERENCES agents (id),
    provider           text NOT NULL CHECK (provider IN ('google', 'microsoft')),
    account_email      text NOT NULL,
    status             text NOT NULL CHECK (status IN ('connected', 'disconnected')),
    reason             text,
    -- sealed with AES-256-GCM (never readable here)
    access_token       bytea NOT NULL,
    refresh_token      bytea NOT NULL,
    access_expires_at  timestamptz NOT NULL,
    connected_at       timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE TABLE oauth_flows (
    state            text PRIMARY KEY,
    agent_id         uuid NOT NULL REFERENCES agents (id),
    provider         text NOT NULL,
    link_generation  bigint NOT NULL,
    pkce_verifier    bytea NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz
);

CREATE TABLE account_owners (
    team_id   uuid NOT NULL REFERENCES teams (id),
    domain    text NOT NULL,
    agent_id  uuid NOT NULL REFERENCES agents (id),
    PRIMARY KEY (team_id, domain)
);

CREATE TABLE routing_rules (
    team_id        uuid NOT NULL REFERENCES teams (id),
    position       integer NOT NULL,
    name           text NOT NULL,
    conditions     jsonb NOT NULL,
    agents         jsonb NOT NULL,
    last_agent_id  uuid,
    PRIMARY KEY (team_id, position),
    UNIQUE (team_id, name)
);

CREATE TABLE admin_sessions (
    id_hash     text PRIMARY KEY,
    csrf        text NOT NULL,
    zone        text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
