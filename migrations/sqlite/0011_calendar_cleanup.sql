-- An event left in a former holder's calendar (the meeting moved or was cancelled) that is still to be
-- deleted there: kept until the delete succeeds (the former holder may be disconnected for a while), so it
-- is never forgotten, while the event in the new holder's calendar is made meanwhile.
ALTER TABLE meetings ADD COLUMN calendar_cleanup_agent_id TEXT;
