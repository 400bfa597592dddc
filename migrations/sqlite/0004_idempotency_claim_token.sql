-- Each claim of an idempotency key carries a token: only the request holding the current claim may save
-- the key's response (a request whose lease ran out and was taken over must not).
ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT;
