-- A key's answer is kept as what happened (`booked`: the meeting id; `slot_taken`: the alternatives), not as
-- HTTP bytes: the HTTP layer renders it again for a retry. Rows written before keep response_status/body.
ALTER TABLE idempotency_keys ADD COLUMN response_kind TEXT;
