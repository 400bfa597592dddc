-- Admin console sessions (issue 15): a signed-in browser holds a random session id in an HttpOnly cookie;
-- only its SHA-256 is stored. `csrf` is the token every form of the session must carry; `zone` the IANA zone
-- the admin reads times in.
CREATE TABLE admin_sessions (
    id_hash     TEXT PRIMARY KEY,
    csrf        TEXT NOT NULL,
    zone        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
