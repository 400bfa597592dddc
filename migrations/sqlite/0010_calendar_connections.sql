-- Agents' connected Google / Microsoft calendars. Tokens are sealed with AES-256-GCM under a key derived
-- from RONDO_SECRET_KEY (src/crypto.rs); nothing here is readable without it.
CREATE TABLE calendar_connections (
    agent_id           TEXT PRIMARY KEY REFERENCES agents (id),
    provider           TEXT NOT NULL CHECK (provider IN ('google', 'microsoft')),
    account_email      TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('connected', 'disconnected')),
    reason             TEXT,
    access_token       BLOB NOT NULL,
    refresh_token      BLOB NOT NULL,
    access_expires_at  INTEGER NOT NULL,
    connected_at       INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

-- One OAuth round trip in progress: `state` (random, single use) bound to the connect link that started it
-- and to the PKCE verifier (sealed).
CREATE TABLE oauth_flows (
    state              TEXT PRIMARY KEY,
    agent_id           TEXT NOT NULL REFERENCES agents (id),
    provider           TEXT NOT NULL,
    link_generation    INTEGER NOT NULL,
    pkce_verifier      BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    used_at            INTEGER
);

-- Raising this retires every connect link issued before.
ALTER TABLE agents ADD COLUMN connect_generation INTEGER NOT NULL DEFAULT 0;
