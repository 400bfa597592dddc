-- Webhook endpoints of marketing automation, and one delivery row per (activity, endpoint): the unit the
-- outbox retries. Jobs gain a generic `target` (here: the delivery id).
CREATE TABLE webhook_endpoints (
    id               TEXT PRIMARY KEY,
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,
    secret           TEXT NOT NULL,
    disabled_at      INTEGER,
    disabled_reason  TEXT,
    created_at       INTEGER NOT NULL,
    deleted_at       INTEGER
);

CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY,
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints (id),
    activity_id       TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_status_code  INTEGER,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);

ALTER TABLE jobs ADD COLUMN target TEXT;
