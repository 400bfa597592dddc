-- One calendar sync per meeting at a time (across processes): a sync holds this lease while it talks to
-- the provider, so an older sync cannot record its result over a newer one's.
ALTER TABLE meetings ADD COLUMN calendar_lock_until INTEGER;
