-- The activity feed (pulled through /v1/activities, in seq order), idempotency keys of the chat API, and
-- API tokens made with `rondo token create` (only their SHA-256 is kept).
CREATE TABLE activities (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,
    meeting_id   TEXT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX activities_by_time ON activities (occurred_at);

CREATE TABLE idempotency_keys (
    scope            TEXT NOT NULL,
    key              TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    -- NULL while the first request is in flight
    response_status  INTEGER,
    response_body    TEXT,
    locked_until     INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'chat')),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
